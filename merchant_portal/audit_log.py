"""The audit log as the portal shows it: a merchant sees its own rows, an admin sees all."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.auth.models import Account
from marketplace.extensions import db
from marketplace.models import AuditEvent

SUBJECTS = ("merchant", "campaign", "voucher", "account", "card", "member", "cover_image")


def events_query(merchant_id: int | None = None, subject_type: str | None = None,
                 action: str | None = None):  # fmt: skip
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if merchant_id is not None:
        stmt = stmt.where(AuditEvent.merchant_id == merchant_id)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    return stmt


def actor_names(events) -> dict[int, str]:
    ids = {e.actor_id for e in events if e.actor_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(Account.id, Account.username).where(Account.id.in_(ids)))
    return dict(rows.all())


def as_dicts(events) -> list[dict]:
    names = actor_names(events)
    return [
        {
            "id": e.id,
            "at": e.at,
            "actor_id": e.actor_id,
            "actor": names.get(e.actor_id),
            "actor_role": e.actor_role,
            "action": e.action,
            "subject_type": e.subject_type,
            "subject_id": e.subject_id,
            "merchant_id": e.merchant_id,
            "request_id": e.request_id,
            "data": e.data,
        }  # fmt: skip
        for e in events
    ]
