"""How durable a reservation is before ``reserve`` returns it (``StockEngine(durability=...)``).

- ``local``: the script's write is in the master's memory (and its AOF within ``appendfsync``
  everysec, about 1 s). A Redis *process* crash loses nothing; a *host* crash loses up to ~1 s.
- ``replica``: the same connection then runs ``WAIT replicas timeout``: the write reached the
  memory of at least ``replicas`` replicas before the caller answers. A master host dying right
  after loses nothing acknowledged once a replica that acknowledged is promoted.
- ``fsync``: ``WAITAOF 1 0 timeout``: the write is fsynced to the master's own AOF (needs
  ``appendonly yes`` and Redis 7.2+ / Valkey). A host crash loses nothing acknowledged, as long
  as the disk survives; it does not help when the host is gone for good.

WAIT counts the writes *of its connection*, so the script call and the WAIT travel in one
pipeline on one connection to the master holding the key (on a cluster: the slot's master).
When too few acknowledge within the timeout, :class:`ClaimNotDurable` is raised: the claim may
exist on the master (and reach the outbox), but the caller must not call it acknowledged; a
retry with the same request id replays it and waits again.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from .errors import ClaimNotDurable

MODES = ("local", "replica", "fsync")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"durability must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


class Durability:
    """Runs a script and the wait for its write on one connection to the key's master."""

    def __init__(self, client, mode: str, replicas: int = 1, timeout_ms: int = 250):
        self.client = client
        self.mode = check_mode(mode)
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        self.cluster = hasattr(client, "get_node_from_key")

    @property
    def waits(self) -> bool:
        return self.mode != "local"

    def _master(self, key: str):
        if not self.cluster:
            return self.client
        node = self.client.get_node_from_key(key)
        return self.client.get_redis_connection(node)

    def _wait_command(self) -> tuple:
        if self.mode == "replica":
            return ("WAIT", self.replicas, self.timeout_ms)
        return ("WAITAOF", 1, 0, self.timeout_ms)

    def call(self, script, keys: list[str], args: list):
        """The script's reply, and how many acknowledged (replicas, or local AOF fsyncs)."""
        try:
            master = self._master(keys[0])
            for _ in range(2):
                pipe = master.pipeline(transaction=False)
                pipe.evalsha(script.sha, len(keys), *keys, *args)
                pipe.execute_command(*self._wait_command())
                reply, acks = pipe.execute(raise_on_error=False)
                if isinstance(reply, NoScriptError):
                    master.script_load(script.script)
                    continue
                if isinstance(reply, Exception):
                    raise reply
                if isinstance(acks, Exception):
                    raise acks
                return reply, self._count(acks)
            raise NoScriptError("script not loaded after SCRIPT LOAD")
        except (RedisConnectionError, ResponseError) as exc:
            if self.cluster and ("MOVED" in str(exc) or isinstance(exc, RedisConnectionError)):
                self.client.nodes_manager.initialize()  # a failover: find the new master
            raise

    def _count(self, acks) -> int:
        if self.mode == "replica":
            return int(acks)
        return int(acks[0])  # WAITAOF: [local fsyncs, replica fsyncs]

    def require(self, acks: int, claim_id: str | None) -> None:
        """Raise :class:`ClaimNotDurable` unless enough acknowledged."""
        needed = self.replicas if self.mode == "replica" else 1
        if acks < needed:
            raise ClaimNotDurable(claim_id, self.mode, acks, needed)
