"""A short-lived, per-process cache of the member-facing list queries (directory, offers,
group-buys), invalidated across processes by a version stamp in Redis.

Each entry is keyed by the query's arguments plus the viewer's visibility bucket (the region:
:func:`~catalogue.visibility.viewer` derives everything from it) and stamped with the
catalogue version it was read under. A hit costs one Redis GET and no SQL. Any committed change
to a merchant, profile, offer or group-buy bumps the version (SQLAlchemy session events
below), so the next request in every process reads fresh rows; the TTL bounds what no write
announces: offers and deals passing their end time, and joined counts (``_bump`` is marked as a
counter so a busy deal does not empty the cache with every join).

Cached rows are detached copies of the ORM objects with their loaded attributes (and the
eagerly loaded merchant and profile); every caller, hit or miss, gets a fresh :class:`Page`
around the shared copies, so a view that touches an unloaded relationship fails on the first
request, not only on cache hits.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from itertools import chain

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.extensions import db, get_redis
from marketplace.pagination import Page

MAX_ENTRIES = 2048
COUNTER = "catalogue_counter"  # execution option of updates that only move a joined counter
_lock = threading.Lock()


def _version_key() -> str:
    return f"{current_app.config.get('REDIS_NAMESPACE', 'shihui')}:catalogue:version"


def version() -> bytes:
    """The current catalogue version: a random token, not a counter, so a Redis that lost its
    data (or was flushed) cannot hand out a number an old cache entry was stamped with."""
    client, key = get_redis(), _version_key()
    current = client.get(key)
    if current is None:
        client.set(key, uuid.uuid4().hex, nx=True)
        current = client.get(key)
    return current


def bump() -> None:
    """Make every process's cached lists stale (called after a commit that changed them)."""
    get_redis().set(_version_key(), uuid.uuid4().hex)


def _store() -> dict:
    return current_app.extensions.setdefault("catalogue.cache", {})


def cached(kind: str, key: tuple, load):
    """``load()``'s result for ``(kind, key)``, from this process's cache while it is current."""
    ttl = float(current_app.config.get("CATALOGUE_CACHE_TTL", 10))  # a string from the env
    if not ttl:
        return load()
    store, now, current = _store(), time.monotonic(), version()
    hit = store.get((kind, key))
    if hit is not None and hit[0] == current and hit[1] > now:
        return _copy(hit[2])
    value = _detached(load())
    with _lock:
        if len(store) >= MAX_ENTRIES:
            store.clear()
        store[(kind, key)] = (current, now + ttl, value)
    return _copy(value)


def _copy(value):
    if isinstance(value, Page):  # views replace ``items`` (e.g. wrapped with favourite flags)
        return dataclasses.replace(value, items=list(value.items))
    return dict(value) if isinstance(value, dict) else value


def _detached(value):
    """Copies of the page's rows (with their loaded merchant and profile) that belong to no
    session: the request's own objects stay in its session, and no later commit there can
    expire what other requests read. ``merge(load=False)`` copies loaded state without SQL."""
    if not isinstance(value, Page) or not value.items:
        return value
    scratch = Session(bind=db.engine)
    try:
        items = [scratch.merge(obj, load=False) for obj in value.items]
    finally:
        scratch.close()  # detaches without expiring anything
    return dataclasses.replace(value, items=items)


# -- invalidation -----------------------------------------------------------------------------


def _watched():
    from marketplace.merchants import Merchant

    from .models import GroupBuy, MerchantProfile, Offer

    return (Merchant, MerchantProfile, Offer, GroupBuy)


@event.listens_for(Session, "after_flush")
def _note_flush(session, _context):
    watched = _watched()
    if any(isinstance(o, watched) for o in chain(session.new, session.dirty, session.deleted)):
        session.info["catalogue_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state):
    if not (state.is_update or state.is_delete) or state.execution_options.get(COUNTER):
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, _watched()):
        state.session.info["catalogue_changed"] = True


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session):
    if session.info.pop("catalogue_changed", False) and has_app_context():
        try:
            bump()
        except Exception:  # noqa: BLE001 - no Redis (CLI without it): lists expire by TTL
            current_app.logger.warning("catalogue cache version not bumped", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop("catalogue_changed", None)
