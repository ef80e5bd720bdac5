"""The unread badge on every member page: unread announcements plus unseen replies.

Counting costs a few queries, and member pages are otherwise served from the catalogue's cache,
so the count is kept in Redis for ``BADGE_TTL`` seconds per member. Whatever the member does
(opening an announcement or a conversation) and every reply to them drops the entry at once.
Publishing or withdrawing an announcement touches no per-member state (it stays O(1)): it bumps
one generation number that is part of every entry's key, so every member counts again on their
next look. Without Redis the count is read from SQL."""

from __future__ import annotations

import contextlib

import redis.exceptions
from flask import current_app

from marketplace.extensions import get_redis

BADGE_TTL = 30


def _ns() -> str:
    return f"{current_app.config.get('REDIS_NAMESPACE', 'shihui')}:msg:badge"


def _generation() -> str:
    return (get_redis().get(_ns() + ":gen") or b"0").decode()


def _key(member_id: int, generation: str | None = None) -> str:
    return f"{_ns()}:{generation or _generation()}:{member_id}"


def announcements_changed() -> None:
    """An announcement was published or withdrawn: every member's cached count is stale."""
    with contextlib.suppress(redis.exceptions.RedisError):
        get_redis().incr(_ns() + ":gen")


def count(principal) -> int:
    from .announcements import unread_count
    from .conversations import member_unread
    from .notices import unread as notices_unread

    key = cached = None
    try:
        key = _key(principal.member_id)
        cached = get_redis().get(key)
    except redis.exceptions.RedisError:
        pass
    if cached is not None:
        return int(cached)
    n = unread_count(principal) + member_unread(principal) + notices_unread(principal.member_id)
    if key is not None:
        with contextlib.suppress(redis.exceptions.RedisError):
            get_redis().set(key, n, ex=BADGE_TTL)
    return n


def forget_many(member_ids: list[int]) -> None:
    """Many members' counts changed (a lottery's entrants): one pipeline per thousand."""
    with contextlib.suppress(redis.exceptions.RedisError):
        generation = _generation()
        for start in range(0, len(member_ids), 1000):
            get_redis().delete(*[_key(m, generation) for m in member_ids[start : start + 1000]])


def forget(member_id: int) -> None:
    """The member's count changed: the next page counts again."""
    with contextlib.suppress(redis.exceptions.RedisError):
        get_redis().delete(_key(member_id))
