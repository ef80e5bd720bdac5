"""argon2id password hashing at OWASP's recommended minimum: 19 MiB, 2 iterations, 1 lane.

argon2-cffi's defaults (64 MiB, 3 iterations, 4 lanes) cost ~160 ms of CPU per check here, so two
cores verified ~12 logins/s; these parameters cost ~20 ms and still meet OWASP's Password Storage
Cheat Sheet. Hashes made with other parameters are rehashed at the next successful login
(``needs_rehash``, used by ``auth.services.authenticate``)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128

# argon2id; stateless, safe to share.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a miss costs as long as a bad password."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
