"""Platform-wide tables: the audit trail every feature writes to."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db

# BIGINT on PostgreSQL; SQLite needs INTEGER for its rowid autoincrement.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(db.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class AuditEvent(db.Model):
    """Who did what, when: one row per change to merchants, sales, stock, redemptions, cards."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    subject_type: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    merchant_id: Mapped[int | None] = mapped_column(BigId)
    request_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
        Index("ix_audit_events_merchant_at", "merchant_id", "at"),
    )


def record_audit(action: str, subject_type: str, subject_id, *, actor=None, merchant_id=None,
                 data: dict | None = None) -> AuditEvent:  # fmt: skip
    """Add an audit row to the current session (committed with the change it describes)."""
    from flask import g, has_request_context, request

    if has_request_context():  # the client's address (the real one behind ProxyFix)
        data = {**(data or {}), "client": request.remote_addr}
    event = AuditEvent(
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        actor_id=getattr(actor, "id", None),
        actor_role=getattr(actor, "role", None),
        merchant_id=merchant_id,
        request_id=g.get("request_id") if has_request_context() else None,
        data=data,
    )
    db.session.add(event)
    return event


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's SQL: ``column`` takes one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
