"""Reminders (issue #16 item 5): a member who taps "remind me" is told ``LEAD`` before a
subject (a flash sale) opens.

The subject belongs to another feature, which registers a lookup in :mod:`marketplace.notices`;
this module never imports it. One RQ job per subject and time (``enqueue_at``, job id
``reminders-<kind>-<id>-<unix time>``: tapping twice, or a thousand members tapping, schedules
it once) tells every pending reminder of the subject at once, in bulk. The job re-reads the
subject when it runs: cancelled -> the reminders are cancelled; moved later -> rescheduled. A
feature that cancels or moves a subject also calls :func:`marketplace.notices.subject_changed`,
which cancels the job at once (:func:`follow`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from marketplace import notices as signals
from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db, get_queue
from marketplace.models import utcnow

from .models import Reminder

log = logging.getLogger(__name__)

LEAD = timedelta(minutes=10)
SLACK = timedelta(seconds=5)


def _job_id(kind: str, subject_id: int, at: datetime) -> str:
    return f"reminders-{kind}-{subject_id}-{int(at.timestamp())}"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def remind_me(member_id: int, kind: str, subject_id: int) -> Reminder:
    """Remind ``member_id`` of the subject; idempotent. 404 unknown, 409 not remindable."""
    subject = signals.subject(kind, subject_id)
    if subject is None:
        raise NotFound("Nothing to be reminded of.")
    now = utcnow()
    if not subject.active or subject.starts_at is None:
        raise Conflict("This cannot be reminded of (cancelled or over).", code="not_remindable")
    starts = _aware(subject.starts_at)
    if starts <= now:
        raise Conflict("It is already open.", code="already_open")
    remind_at = max(now, starts - LEAD)
    rem = db.session.scalar(
        select(Reminder).where(
            Reminder.member_id == member_id,
            Reminder.subject_kind == kind,
            Reminder.subject_id == subject_id,
        )  # fmt: skip
    )
    if rem is None:
        rem = Reminder(member_id=member_id, subject_kind=kind, subject_id=subject_id)
        db.session.add(rem)
    rem.remind_at, rem.status = remind_at, "pending"
    db.session.commit()
    _schedule(kind, subject_id, remind_at)
    return rem


def forget(member_id: int, kind: str, subject_id: int) -> None:
    """The member no longer wants the reminder (no error when there was none)."""
    db.session.execute(
        update(Reminder)
        .where(Reminder.member_id == member_id, Reminder.subject_kind == kind,
               Reminder.subject_id == subject_id, Reminder.status == "pending")
        .values(status="cancelled")
    )  # fmt: skip
    db.session.commit()


def pending_for(member_id: int, kind: str, subject_id: int) -> bool:
    return (
        db.session.scalar(
            select(Reminder.id).where(
                Reminder.member_id == member_id,
                Reminder.subject_kind == kind,
                Reminder.subject_id == subject_id,
                Reminder.status == "pending",
            )
        )  # fmt: skip
        is not None
    )


def _schedule(kind: str, subject_id: int, at: datetime) -> None:
    from .jobs import send_reminders

    get_queue("default").enqueue_at(
        at, send_reminders, kind, subject_id, int(at.timestamp()),
        job_id=_job_id(kind, subject_id, at), result_ttl=600,
    )  # fmt: skip


def _unschedule(kind: str, subject_id: int, times) -> None:
    from rq.job import Job

    from marketplace.extensions import get_rq_redis

    for at in times:
        try:
            Job.fetch(_job_id(kind, subject_id, _aware(at)), connection=get_rq_redis()).cancel()
        except Exception:  # noqa: BLE001 - gone already; the job re-checks anyway
            log.debug("no reminder job to cancel for %s %s", kind, subject_id)


def follow(kind: str, subject_id: int) -> dict:
    """The subject was cancelled or moved: cancel or reschedule its pending reminders."""
    times = set(
        db.session.scalars(
            select(Reminder.remind_at).where(
                Reminder.subject_kind == kind, Reminder.subject_id == subject_id,
                Reminder.status == "pending",
            )
        )
    )  # fmt: skip
    if not times:
        return {"cancelled": 0, "moved": 0}
    subject = signals.subject(kind, subject_id)
    where = (Reminder.subject_kind == kind, Reminder.subject_id == subject_id,
             Reminder.status == "pending")  # fmt: skip
    if subject is None or not subject.active or subject.starts_at is None:
        n = db.session.execute(update(Reminder).where(*where).values(status="cancelled")).rowcount
        db.session.commit()
        _unschedule(kind, subject_id, times)
        return {"cancelled": n, "moved": 0}
    at = max(utcnow(), _aware(subject.starts_at) - LEAD)
    n = db.session.execute(update(Reminder).where(*where).values(remind_at=at)).rowcount
    db.session.commit()
    _unschedule(kind, subject_id, {t for t in times if _aware(t) != at})
    _schedule(kind, subject_id, at)
    return {"cancelled": 0, "moved": n}


def send_due(kind: str, subject_id: int) -> dict:
    """Tell every pending reminder of the subject that is due (the job's body)."""
    subject = signals.subject(kind, subject_id)
    if subject is None or not subject.active or subject.starts_at is None:
        return follow(kind, subject_id)
    now = utcnow()
    starts = _aware(subject.starts_at)
    if starts - LEAD > now + SLACK:  # moved later since the job was scheduled
        return follow(kind, subject_id)
    due = list(
        db.session.scalars(
            select(Reminder.id).where(
                Reminder.subject_kind == kind, Reminder.subject_id == subject_id,
                Reminder.status == "pending", Reminder.remind_at <= now + SLACK,
            )
        )
    )  # fmt: skip
    if not due:
        return {"sent": 0}
    members = []
    for start in range(0, len(due), 1000):
        chunk = due[start : start + 1000]
        members += db.session.scalars(
            update(Reminder)
            .where(Reminder.id.in_(chunk), Reminder.status == "pending")
            .values(status="sent")
            .returning(Reminder.member_id)
        ).all()
    db.session.commit()
    payload = {f"{kind}_id": subject_id, "title": subject.title, "starts_at": starts.isoformat()}
    signals.notify_many(members, f"{kind}.reminder", payload, key=f"reminder:{kind}:{subject_id}")
    return {"sent": len(members)}
