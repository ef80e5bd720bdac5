"""Union services: configured services, funds with a yearly budget, applications with their
review steps and documents, payout batches (docs/unionservices.md)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.models import BigId, UTCDateTime, one_of, utcnow

KINDS = ("aid", "cover", "course", "appointment", "job")
SERVICE_STATUSES = ("open", "closed")
# submitted: waiting for the branch check; checked: waiting for the city; needs_documents: the
# member was asked for more and may resubmit; approved: committed against the fund; paid: in a
# confirmed payout batch; rejected: final, with a reason.
APP_STATUSES = ("submitted", "checked", "needs_documents", "approved", "rejected", "paid")
# An award key stays taken while its application is alive: a rejected application frees it.
_AWARD_LIVE_SQL = "award_key IS NOT NULL AND status <> 'rejected'"
BATCH_STATUSES = ("exported", "confirmed")

Money = BigInteger().with_variant(Integer(), "sqlite")  # fen (1/100 yuan)


class Fund(db.Model):
    """A named fund for one year: approvals commit against ``budget_cents``, payouts are paid.

    ``committed_cents <= budget_cents`` is a CHECK, and approvals raise ``committed_cents`` with
    one conditional UPDATE (``funds.commit``), so concurrent approvals cannot overspend it."""

    __tablename__ = "service_funds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    budget_cents: Mapped[int] = mapped_column(Money, nullable=False)
    committed_cents: Mapped[int] = mapped_column(Money, nullable=False, default=0)
    paid_cents: Mapped[int] = mapped_column(Money, nullable=False, default=0)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        UniqueConstraint("name", "year", name="uq_service_funds_name_year"),
        CheckConstraint("budget_cents >= 0", name="budget_not_negative"),
        CheckConstraint(
            "committed_cents >= 0 AND committed_cents <= budget_cents",
            name="committed_within_budget",
        ),  # fmt: skip
        CheckConstraint(
            "paid_cents >= 0 AND paid_cents <= committed_cents", name="paid_within_committed"
        ),  # fmt: skip
    )

    @property
    def available_cents(self) -> int:
        return self.budget_cents - self.committed_cents


class Service(db.Model):
    """One service as the union configured it; ``rules`` and ``fields`` are data (see
    ``unionservices.eligibility`` and docs/unionservices.md), so a new programme needs no code."""

    __tablename__ = "union_services"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    title_en: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="open")
    fund_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("service_funds.id"))
    max_amount_cents: Mapped[int | None] = mapped_column(Money)
    rules: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    fields: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    prepare: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    fund: Mapped[Fund | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("kind", KINDS), name="kind"),
        CheckConstraint(one_of("status", SERVICE_STATUSES), name="status"),
        CheckConstraint("max_amount_cents IS NULL OR max_amount_cents > 0", name="max_amount"),
    )


class Application(db.Model):
    """A member's application to a service, through the two review steps to payout."""

    __tablename__ = "service_applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(BigId, ForeignKey("union_services.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    branch: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="submitted")
    amount_cents: Mapped[int] = mapped_column(Money, nullable=False)
    approved_cents: Mapped[int | None] = mapped_column(Money)
    level: Mapped[str | None] = mapped_column(String(40))
    award_key: Mapped[str | None] = mapped_column(String(80))
    answers: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    fund_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("service_funds.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payout_batch_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payout_batches.id"))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    service: Mapped[Service] = relationship(lazy="joined")
    documents: Mapped[list[Document]] = relationship(
        order_by="Document.id", lazy="selectin", back_populates="application"
    )
    steps: Mapped[list[Step]] = relationship(order_by="Step.id", lazy="selectin")

    __table_args__ = (
        CheckConstraint(one_of("status", APP_STATUSES), name="status"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        # One award per certificate level per person, whatever races: the database decides.
        Index("uq_service_applications_award", "member_id", "award_key", unique=True,
              sqlite_where=text(_AWARD_LIVE_SQL), postgresql_where=text(_AWARD_LIVE_SQL)),
        Index("ix_service_applications_member", "member_id", "id"),
        Index("ix_service_applications_status", "status", "waiting_since"),
        Index("ix_service_applications_payout", "fund_id", "status", "payout_batch_id"),
    )  # fmt: skip


class Document(db.Model):
    """An uploaded document. The bytes live under the instance folder (never the web root)
    in a file named by a random token; the member's file name is not kept."""

    __tablename__ = "service_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("service_applications.id"), nullable=False
    )
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    application: Mapped[Application] = relationship(back_populates="documents")


class Step(db.Model):
    """One step of an application's history: who did what, with which reason."""

    __tablename__ = "service_application_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("service_applications.id"), nullable=False, index=True
    )
    action: Mapped[str] = mapped_column(String(24), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_role: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class PayoutBatch(db.Model):
    """Approved applications of one fund handed to the bank as one CSV; each application is in
    at most one batch (``Application.payout_batch_id`` is set once, by a conditional UPDATE)."""

    __tablename__ = "payout_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fund_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_funds.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="exported")
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_cents: Mapped[int] = mapped_column(Money, nullable=False, default=0)
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint(one_of("status", BATCH_STATUSES), name="status"),)


SLOT_STATUSES = ("open", "closed")
BOOKING_STATES = ("held", "confirmed", "cancelled", "expired")
_BOOKING_LIVE_SQL = "state IN ('held', 'confirmed')"


class Slot(db.Model):
    """A training course's seats or an appointment slot (legal aid, counselling): ``capacity``
    seats in a stock-engine pool (``slot-<id>``); SQL keeps the bookings (docs/unionservices.md)."""

    __tablename__ = "service_slots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(BigId, ForeignKey("union_services.id"), nullable=False)
    label: Mapped[str] = mapped_column(String(120), nullable=False)
    location: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    booking_opens_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    cancel_deadline: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    hold_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=300)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    service: Mapped[Service] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("hold_seconds >= 30 AND hold_seconds <= 3600", name="hold_seconds"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(one_of("status", SLOT_STATUSES), name="status"),
    )

    @property
    def pool_id(self) -> str:
        return f"slot-{self.id}"


class Booking(db.Model):
    """A member's seat: ``held`` until confirmed (or the hold runs out: ``expired``), then
    ``confirmed``; ``cancelled`` returns the seat. ``claim_id`` is the engine's claim."""

    __tablename__ = "service_bookings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slot_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_slots.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    branch: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    claim_id: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="held")
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    slot: Mapped[Slot] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("state", BOOKING_STATES), name="state"),
        Index("uq_service_bookings_live", "slot_id", "member_id", unique=True,
              sqlite_where=text(_BOOKING_LIVE_SQL), postgresql_where=text(_BOOKING_LIVE_SQL)),
        Index("ix_service_bookings_member", "member_id", "id"),
        Index("ix_service_bookings_slot_state", "slot_id", "state"),
    )  # fmt: skip


INCIDENT_STATUSES = ("reported", "reviewing", "settled", "declined")


class CoverEnrolment(db.Model):
    """A member covered by a free cover (a service of kind ``cover``) for one card year."""

    __tablename__ = "cover_enrolments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(BigId, ForeignKey("union_services.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    card_id: Mapped[int] = mapped_column(BigId, ForeignKey("cards.id"), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    service: Mapped[Service] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("service_id", "member_id", "starts_on", name="uq_cover_enrolments_year"),
        CheckConstraint("ends_on >= starts_on", name="period"),
        Index("ix_cover_enrolments_member", "member_id"),
    )


class CoverIncident(db.Model):
    """An incident a member reports under a cover enrolment, followed to settlement."""

    __tablename__ = "cover_incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("cover_enrolments.id"), nullable=False
    )
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    branch: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    occurred_on: Mapped[date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="reported")
    reason: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    enrolment: Mapped[CoverEnrolment] = relationship(lazy="joined")
    documents: Mapped[list[IncidentDocument]] = relationship(
        order_by="IncidentDocument.id", lazy="selectin"
    )

    __table_args__ = (CheckConstraint(one_of("status", INCIDENT_STATUSES), name="status"),)


class IncidentDocument(db.Model):
    """A document of an incident report (stored like application documents)."""

    __tablename__ = "cover_incident_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("cover_incidents.id"), nullable=False, index=True
    )
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


JOB_STATUSES = ("open", "closed")


class JobListing(db.Model):
    """A union-published job (job referral): employer, position, district, salary, contact."""

    __tablename__ = "job_listings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employer: Mapped[str] = mapped_column(String(120), nullable=False)
    position: Mapped[str] = mapped_column(String(120), nullable=False)
    district: Mapped[str] = mapped_column(String(6), nullable=False, index=True)
    salary_min: Mapped[int] = mapped_column(Integer, nullable=False)
    salary_max: Mapped[int] = mapped_column(Integer, nullable=False)
    contact: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        CheckConstraint("salary_min >= 0 AND salary_max >= salary_min", name="salary_range"),
        CheckConstraint(one_of("status", JOB_STATUSES), name="status"),
    )


class JobInterest(db.Model):
    """A member said "interested" in a listing (once: a unique pair)."""

    __tablename__ = "job_interests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    listing_id: Mapped[int] = mapped_column(BigId, ForeignKey("job_listings.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        UniqueConstraint("listing_id", "member_id", name="uq_job_interests_pair"),
        Index("ix_job_interests_member", "member_id"),
    )
