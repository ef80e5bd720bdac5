"""System notices in the member's inbox (issue #16 item 5): delivery, preferences, reading.

Features emit through :func:`marketplace.notices.notify` (a blinker signal); :func:`connect` makes
this module the receiver. A notice emitted inside a transaction is delivered **after** that
transaction commits (and dropped if it rolls back), through a connection of its own, so the
emitter's work and its notice cannot disagree; one emitted outside a transaction is delivered at
once. Delivery: one ``notices`` row per member whose preferences allow the category (``INSERT ...
ON CONFLICT DO NOTHING`` on ``(member_id, key)``: a job that runs twice tells once), a real-time
event to the member's open pages, and an outbound message (RQ) for members who asked for one.
"""

from __future__ import annotations

import json
import logging

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace import notices as signals
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.pagination import Page, paginate

from . import badge, realtime
from .models import Notice, NoticePreference

log = logging.getLogger(__name__)

# Category -> label. A kind's category is its part before the dot, through CATEGORY_OF.
CATEGORIES = {
    "reminders": _l("Sale reminders (10 minutes before a sale opens)"),
    "expiring": _l("Vouchers about to expire"),
    "results": _l("Group-buy and lottery results"),
    "receipts": _l("Redemption receipts"),
    "services": _l("Union services: applications, bookings, cover"),
}
CATEGORY_OF = {
    "sale": "reminders",
    "voucher.expiring": "expiring",
    "voucher.redeemed": "receipts",
    "groupbuy": "results",
    "lottery": "results",
    "application": "services",
    "booking": "services",
    "incident": "services",
}
PENDING = "shihui.pending_notices"


def category_of(kind: str) -> str:
    return CATEGORY_OF.get(kind) or CATEGORY_OF.get(kind.split(".")[0], "services")


# --------------------------------------------------------------------------- delivery


def connect(app) -> None:
    """Make this module the receiver of every feature's notices (once per process)."""
    signals.member_notice.connect(_received, weak=False)
    signals.subject_changed_signal.connect(_subject_changed, weak=False)


def _received(kind: str, member_ids, payload: dict, key: str | None) -> None:
    item = (list(member_ids), kind, payload, key)
    session = db.session()
    writing = session.new or session.dirty or session.deleted or _wrote(session)
    if session.in_transaction() and writing:
        session.info.setdefault(PENDING, []).append(item)
        return
    deliver(*item)


def _wrote(session: Session) -> bool:
    """The session has flushed or executed statements in its open transaction."""
    return bool(session.info.get("shihui.wrote"))


@event.listens_for(Session, "after_bulk_update")
@event.listens_for(Session, "after_flush")
def _mark_written(session, *_args) -> None:
    session.info["shihui.wrote"] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_dml(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["shihui.wrote"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    session.info.pop("shihui.wrote", None)
    pending = session.info.pop(PENDING, None)
    for item in pending or ():
        try:
            deliver(*item, separate=True)
        except Exception:  # the emitter's work is committed: a lost notice must not fail it
            log.exception("notice %s not delivered", item[1])


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    session.info.pop("shihui.wrote", None)
    session.info.pop(PENDING, None)


def _preferences(member_ids: list[int], category: str, conn) -> tuple[set[int], set[int]]:
    """(members who switched the category's inbox off, members who want outbound copies)."""
    rows = conn.execute(
        select(NoticePreference.member_id, NoticePreference.inbox, NoticePreference.outbound)
        .where(NoticePreference.member_id.in_(member_ids), NoticePreference.category == category)
    )  # fmt: skip
    off, outbound = set(), set()
    for member_id, inbox, out in rows:
        if not inbox:
            off.add(member_id)
        if out:
            outbound.add(member_id)
    return off, outbound


def deliver(member_ids: list[int], kind: str, payload: dict, key: str | None,
            separate: bool = False) -> int:  # fmt: skip
    """Write the notices, tell open pages, queue outbound copies; returns rows written.

    In bulk (a lottery tells every entrant): a multi-row Core ``INSERT ... ON CONFLICT DO
    NOTHING RETURNING`` and one preference query per thousand members."""
    category = category_of(kind)
    data = json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    table = Notice.__table__
    stmt = dialect.insert(table).on_conflict_do_nothing().returning(table.c.member_id)
    written: list[int] = []
    outbound: list[int] = []
    with db.engine.begin() if separate else _session_conn() as conn:
        for start in range(0, len(member_ids), 1000):
            chunk = member_ids[start : start + 1000]
            skip, wants = _preferences(chunk, category, conn)
            now = utcnow()
            rows = [{"member_id": m, "kind": kind, "payload": data, "key": key,
                     "created_at": now} for m in chunk if m not in skip]  # fmt: skip
            if not rows:
                continue
            written += [r[0] for r in conn.execute(stmt, rows)]
            outbound += wants
    if written:
        badge.forget_many(written)
        realtime.publish([f"m:{m}" for m in written], {"type": "notice", "kind": kind})
    wanted = set(outbound) & set(written)
    if wanted:
        _queue_outbound(sorted(wanted), kind, payload)
    return len(written)


class _session_conn:
    """The request's session as a connection-like object, committed at the end."""

    def __enter__(self):
        return db.session

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            db.session.commit()
        else:
            db.session.rollback()


def _queue_outbound(member_ids: list[int], kind: str, payload: dict) -> None:
    from marketplace.extensions import get_queue

    try:
        get_queue("default").enqueue("messaging.jobs.send_outbound", member_ids, kind, payload)
    except Exception as exc:  # noqa: BLE001 - Redis down: the inbox copy is what counts
        log.warning("outbound copies of %s not queued: %s", kind, exc)


def _subject_changed(kind: str, subject_id: int) -> None:
    from . import reminders

    reminders.follow(kind, subject_id)


# --------------------------------------------------------------------------- reading


def member_notices(member_id: int, page: int = 1, per_page: int = 20) -> Page:
    stmt = select(Notice).where(Notice.member_id == member_id).order_by(Notice.id.desc())
    return paginate(stmt, page, per_page)


def unread(member_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Notice.member_id == member_id, Notice.read_at.is_(None))
    )


def mark_all_read(member_id: int) -> int:
    n = db.session.execute(
        update(Notice)
        .where(Notice.member_id == member_id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
    ).rowcount
    db.session.commit()
    badge.forget(member_id)
    return n


TEXTS = {
    "sale.reminder": lambda p: _("“%(title)s” opens in 10 minutes.", title=p.get("title", "")),
    "voucher.expiring": lambda p: _("Your voucher for “%(title)s” expires on %(date)s.",
                                    title=p.get("title", ""), date=p.get("date", "")),
    "voucher.redeemed": lambda p: _("Your voucher for “%(title)s” was redeemed at %(merchant)s.",
                                    title=p.get("title", ""), merchant=p.get("merchant", "")),
    "groupbuy.succeeded": lambda p: _("The group-buy “%(title)s” succeeded: your voucher is ready.",
                                      title=p.get("title", "")),
    "groupbuy.failed": lambda p: _("The group-buy “%(title)s” did not reach its target.",
                                   title=p.get("title", "")),
    "lottery.won": lambda p: _("You won the lottery “%(title)s”.", title=p.get("title", "")),
    "lottery.waiting": lambda p: _("The lottery “%(title)s” was drawn: you are on the waiting "
                                   "list.", title=p.get("title", "")),
    "lottery.promoted": lambda p: _("A ticket of the lottery “%(title)s” was passed on to you "
                                    "from the waiting list.", title=p.get("title", "")),
    "lottery.passed": lambda p: _("Your win in the lottery “%(title)s” was passed to the next "
                                  "on the waiting list (%(reason)s).", title=p.get("title", ""),
                                  reason=_pass_reason(p.get("reason"))),
    "lottery.excluded": lambda p: _("You were drawn in the lottery “%(title)s” but skipped: "
                                    "%(reason)s.", title=p.get("title", ""),
                                    reason=_pass_reason(p.get("reason"))),
}  # fmt: skip


def _pass_reason(reason) -> str:
    return str({
        "cancelled": _("you cancelled it"),
        "unconfirmed": _("not confirmed in time"),
        "unused": _("the merchant marked it unused"),
        "quota_exceeded": _("over the monthly ticket quota"),
        "no_show_ban": _("barred after unused tickets"),
    }.get(reason, reason or ""))  # fmt: skip


def text_of(notice: Notice) -> str:
    """The notice in the reader's language (plain text; pages escape it)."""
    try:
        payload = json.loads(notice.payload or "{}")
    except ValueError:
        payload = {}
    render = TEXTS.get(notice.kind)
    if render is not None:
        return render(payload)
    return _("Update on your %(what)s: %(status)s", what=notice.kind.split(".")[0],
             status=str(payload.get("status") or payload.get("state")
                        or notice.kind.split(".")[-1]))  # fmt: skip


# --------------------------------------------------------------------------- preferences


def preferences(member_id: int) -> list[dict]:
    rows = {
        p.category: p
        for p in db.session.scalars(
            select(NoticePreference).where(NoticePreference.member_id == member_id)
        )
    }
    return [
        {"category": c, "label": str(label),
         "inbox": rows[c].inbox if c in rows else True,
         "outbound": rows[c].outbound if c in rows else False}
        for c, label in CATEGORIES.items()
    ]  # fmt: skip


def set_preferences(member_id: int, choices: list[dict]) -> list[dict]:
    """Each choice: ``{"category", "inbox", "outbound"}``; unknown categories are a 422."""
    unknown = sorted({c.get("category") for c in choices} - set(CATEGORIES))
    if unknown:
        raise ValidationFailed({"preferences": [f"Unknown category: {u}" for u in unknown]})
    for choice in choices:
        pref = db.session.get(NoticePreference, (member_id, choice["category"]))
        if pref is None:
            pref = NoticePreference(member_id=member_id, category=choice["category"])
            db.session.add(pref)
        pref.inbox = bool(choice.get("inbox", True))
        pref.outbound = bool(choice.get("outbound", False))
    db.session.commit()
    current_app.logger.info("member %s changed notice preferences", member_id)
    return preferences(member_id)
