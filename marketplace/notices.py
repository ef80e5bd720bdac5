"""Notices to members, across features that must not import each other (issue #16 item 5).

A feature that wants to tell a member something (a group-buy decided, a voucher redeemed, an
application approved) calls :func:`notify`; the messages feature connects to :data:`member_notice`
when its blueprints are registered and delivers the notice to the member's inbox, the open page
and the outbound channels. Without a receiver (a feature tested alone) nothing happens.

A feature that has things members can ask to be reminded of (a flash sale's opening) registers a
:class:`Subject` lookup with :func:`add_subject`; the messages feature asks :func:`subject` for
its title and time when a member taps "remind me", and a feature that cancels or moves it calls
:func:`subject_changed`.

Kinds are ``<area>.<event>``; the part before the dot is what members switch on and off
(docs/messages.md, "Reminders and notices").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from blinker import Namespace
from flask import Flask, current_app

_signals = Namespace()

#: sender: the kind ("voucher.redeemed"); keyword arguments member_ids, payload, key.
member_notice = _signals.signal("member-notice")
#: sender: the subject kind ("sale"); keyword argument subject_id. It was cancelled or moved.
subject_changed_signal = _signals.signal("subject-changed")


def notify(member_id: int, kind: str, payload: dict, key: str | None = None) -> None:
    """Tell ``member_id`` of ``kind`` (ids, names and times in ``payload``; never documents).

    ``key`` makes the notice idempotent: a job that runs twice delivers it once."""
    notify_many([member_id], kind, payload, key)


def notify_many(member_ids, kind: str, payload: dict, key: str | None = None) -> None:
    """The same notice to many members (a group-buy's participants, a lottery's entrants)."""
    member_notice.send(kind, member_ids=list(member_ids), payload=payload, key=key)


@dataclass(frozen=True)
class Subject:
    """Something a member can be reminded of."""

    kind: str
    id: int
    title: str
    starts_at: datetime | None  # None: not scheduled (nothing to remind of)
    active: bool  # False: cancelled or over


def add_subject(app: Flask, kind: str, lookup: Callable[[int], Subject | None]) -> None:
    app.extensions.setdefault("shihui.subjects", {})[kind] = lookup


def subject(kind: str, subject_id: int) -> Subject | None:
    lookup = current_app.extensions.get("shihui.subjects", {}).get(kind)
    return lookup(subject_id) if lookup else None


def subject_kinds() -> list[str]:
    return sorted(current_app.extensions.get("shihui.subjects", {}))


def subject_changed(kind: str, subject_id: int) -> None:
    """A subject was cancelled or rescheduled: its reminders follow."""
    subject_changed_signal.send(kind, subject_id=subject_id)


def add_expiring_source(app: Flask, source: Callable[[datetime, datetime], Iterable]) -> None:
    """``source(start, end)`` yields ``(member_id, payload, key)`` for each unused voucher of the
    feature that expires between ``start`` and ``end``; the messages feature's periodic job
    turns them into "expires soon" notices (``payload``: ``title``, ``date``)."""
    app.extensions.setdefault("shihui.expiring", []).append(source)
