"""Key naming: every key of one bucket shares a hash tag, so each script touches one slot.

A pool with ``buckets=N`` owns N slots. Bucket ``b`` of pool ``summer`` in namespace ``shihui``::

    shihui:{summer:0}:pool      hash: counters, config and the claim/request/member fields
    shihui:{summer:0}:holds     sorted set: held claim id -> hold deadline (ms)
    shihui:{summer:0}:transit   hash: stock lent to another bucket, not yet confirmed
    shihui:{summer:0}:outbox    stream: claim / release / expire / cancel records
    shihui:{summer:0}:soldout   string: the pool's sold-out flag (bucket 0 only)
    shihui:pools                set: ids of pools that have an outbox (for drainers)

The namespace sits outside the braces, so it never changes which slot a pool lands in.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_POOL_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


def check_pool_id(pool_id: str) -> str:
    """Return ``pool_id`` if it is usable inside a hash tag and a claim id, else raise."""
    if not isinstance(pool_id, str) or not _POOL_ID.match(pool_id):
        raise ValueError(f"invalid pool id {pool_id!r}: use 1-100 of [A-Za-z0-9_.:-]")
    return pool_id


@dataclass(frozen=True)
class BucketKeys:
    pool: str
    holds: str
    transit: str
    outbox: str
    soldout: str

    def script_keys(self) -> list[str]:
        """KEYS for the claim scripts (reserve, commit, release, cancel, expire)."""
        return [self.pool, self.holds, self.outbox, self.soldout]


def bucket_keys(namespace: str, pool_id: str, bucket: int) -> BucketKeys:
    base = f"{namespace}:{{{pool_id}:{bucket}}}"
    return BucketKeys(
        pool=f"{base}:pool",
        holds=f"{base}:holds",
        transit=f"{base}:transit",
        outbox=f"{base}:outbox",
        soldout=f"{base}:soldout",
    )


def pools_key(namespace: str) -> str:
    return f"{namespace}:pools"


def home_bucket(member_id: str, buckets: int) -> int:
    """The bucket that counts this member's claims: stable across processes and languages."""
    if buckets == 1:
        return 0
    return zlib.crc32(member_id.encode()) % buckets


def claim_number(pool_id: str, claim_id: str) -> int:
    """The numeric part of ``<pool_id>-<number>``; raises ValueError for a foreign claim id."""
    prefix = pool_id + "-"
    if not claim_id.startswith(prefix) or not claim_id[len(prefix) :].isdigit():
        raise ValueError(f"claim id {claim_id!r} does not belong to pool {pool_id!r}")
    return int(claim_id[len(prefix) :])
