"""The unread badge on every member page: unread announcements plus unseen replies.

Counting costs a few queries, and member pages are otherwise served from the catalogue's cache,
so the count is kept in Redis for ``BADGE_TTL`` seconds per member. Whatever the member does
(opening an announcement or a conversation) and every reply to them drops the entry at once; a
new announcement shows within ``BADGE_TTL`` seconds (publishing touches no per-member state, it
stays O(1)). Without Redis the count is read from SQL."""

from __future__ import annotations

import contextlib

import redis.exceptions
from flask import current_app

from marketplace.extensions import get_redis

BADGE_TTL = 30


def _key(member_id: int) -> str:
    return f"{current_app.config.get('REDIS_NAMESPACE', 'shihui')}:msg:badge:{member_id}"


def count(principal) -> int:
    from .announcements import unread_count
    from .conversations import member_unread
    from .notices import unread as notices_unread

    try:
        cached = get_redis().get(_key(principal.member_id))
    except redis.exceptions.RedisError:
        cached = None
    if cached is not None:
        return int(cached)
    n = unread_count(principal) + member_unread(principal) + notices_unread(principal.member_id)
    with contextlib.suppress(redis.exceptions.RedisError):
        get_redis().set(_key(principal.member_id), n, ex=BADGE_TTL)
    return n


def forget_many(member_ids: list[int]) -> None:
    """Many members' counts changed (a lottery's entrants): one pipeline per thousand."""
    with contextlib.suppress(redis.exceptions.RedisError):
        for start in range(0, len(member_ids), 1000):
            get_redis().delete(*[_key(m) for m in member_ids[start : start + 1000]])


def forget(member_id: int) -> None:
    """The member's count changed: the next page counts again."""
    with contextlib.suppress(redis.exceptions.RedisError):
        get_redis().delete(_key(member_id))
