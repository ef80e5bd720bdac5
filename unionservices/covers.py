"""Free cover: activating a card enrols the member in every open cover service for the card's
year; members see their policy periods and report incidents; admins review incidents and
export enrolments for the insurer.

Enrolment happens in the activation's own transaction: a ``before_flush`` listener sees a card
become ``active`` and adds one ``cover_enrolments`` row per open cover service (the activation
code in ``marketplace`` knows nothing of covers). A cover service created later enrols active
members when they next open their covers (``ensure_enrolled``). The card year runs from the
activation day (Beijing) for one year; ``UNIQUE (service_id, member_id, starts_on)`` keeps it
once.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.members.models import Card, Member
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor
from marketplace.validation import bad_text

from . import documents, review
from .models import CoverEnrolment, CoverIncident, IncidentDocument, Service
from .notify import notify

SHANGHAI = ZoneInfo("Asia/Shanghai")
REVIEW_STATUSES = ("reviewing", "settled", "declined")


def card_year(card: Card) -> tuple[date, date]:
    start = (card.activated_at or utcnow()).astimezone(SHANGHAI).date()
    try:
        next_year = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        next_year = start.replace(year=start.year + 1, day=28)
    return start, next_year - timedelta(days=1)


def _open_covers(session) -> list[Service]:
    return list(session.scalars(
        select(Service).where(Service.kind == "cover", Service.status == "open")))  # fmt: skip


def _missing(session, member_id: int, card: Card, services) -> list[CoverEnrolment]:
    start, end = card_year(card)
    have = set(session.scalars(select(CoverEnrolment.service_id).where(
        CoverEnrolment.member_id == member_id, CoverEnrolment.starts_on == start)))  # fmt: skip
    return [CoverEnrolment(service_id=s.id, member_id=member_id, card_id=card.id,
                           starts_on=start, ends_on=end)
            for s in services if s.id not in have]  # fmt: skip


@event.listens_for(Session, "before_flush")
def _enrol_on_activation(session, flush_context, instances) -> None:
    for obj in list(session.dirty):
        if not isinstance(obj, Card) or obj.status != "active":
            continue
        history = inspect(obj).attrs.status.history
        if not history.added or "active" in (history.deleted or ()):
            continue
        with session.no_autoflush:
            services = _open_covers(session)
            if services:
                session.add_all(_missing(session, obj.member_id, obj, services))


def ensure_enrolled(member: Member) -> None:
    card = member.current_card
    if card is None or not card.is_active:
        return
    rows = _missing(db.session, member.id, card, _open_covers(db.session))
    if rows:
        db.session.add_all(rows)
        db.session.commit()


def mine(principal) -> list[CoverEnrolment]:
    member = db.session.get(Member, principal.member_id) if principal.member_id else None
    if member is None:
        return []
    ensure_enrolled(member)
    return list(db.session.scalars(
        select(CoverEnrolment).where(CoverEnrolment.member_id == member.id)
        .order_by(CoverEnrolment.starts_on.desc(), CoverEnrolment.service_id)))  # fmt: skip


def report(principal, enrolment_id: int, *, occurred_on: str, kind: str, description: str,
           files: list[bytes] = ()) -> CoverIncident:  # fmt: skip
    enrolment = db.session.get(CoverEnrolment, enrolment_id)
    if enrolment is None or enrolment.member_id != principal.member_id:
        raise NotFound("No such cover.")
    errors: dict[str, list[str]] = {}
    try:
        when = date.fromisoformat((occurred_on or "").strip())
    except ValueError:
        when = None
        errors["occurred_on"] = ["A date (YYYY-MM-DD)."]
    today = utcnow().astimezone(SHANGHAI).date()
    if when and not (enrolment.starts_on <= when <= min(enrolment.ends_on, today)):
        errors["occurred_on"] = ["Within the policy period and not in the future."]
    kind = (kind or "").strip()
    description = (description or "").strip()
    if not kind or len(kind) > 40 or bad_text(kind):
        errors["kind"] = ["At most 40 characters."]
    if not description or len(description) > 2000 or bad_text(description):
        errors["description"] = ["Between 1 and 2,000 characters."]
    if errors:
        raise ValidationFailed(errors=errors)
    checked = documents.check(list(files))
    member = db.session.get(Member, principal.member_id)
    incident = CoverIncident(enrolment_id=enrolment.id, member_id=member.id,
                             branch=member.branch, occurred_on=when, kind=kind,
                             description=description)  # fmt: skip
    written: list[str] = []
    try:
        db.session.add(incident)
        db.session.flush()
        for data, mime in checked:
            name, digest = documents.store(data)
            written.append(name)
            db.session.add(IncidentDocument(incident_id=incident.id, content_type=mime,
                                            size=len(data), sha256=digest,
                                            storage_name=name))  # fmt: skip
        record_audit("cover_incident.report", "cover_incident", incident.id,
                     actor=Actor(principal), data={"enrolment_id": enrolment.id})  # fmt: skip
        db.session.commit()
    except BaseException:
        db.session.rollback()
        documents.discard(written)
        raise
    notify(member.id, "incident.reported", {"incident_id": incident.id, "status": "reported"})
    return incident


def get_for(principal, incident_id: int) -> CoverIncident:
    incident = db.session.get(CoverIncident, incident_id)
    if incident is None:
        raise NotFound("No such incident.")
    if principal.role == "member":
        if incident.member_id != principal.member_id:
            raise NotFound("No such incident.")
    elif not review.can_see(principal, incident):
        raise NotFound("No such incident.")
    return incident


def document_for(principal, incident_id: int, document_id: int):
    incident = get_for(principal, incident_id)
    doc = next((d for d in incident.documents if d.id == document_id), None)
    if doc is None:
        raise NotFound("No such document.")
    data = documents.read(doc.storage_name)
    record_audit("cover_document.download", "cover_document", doc.id, actor=Actor(principal),
                 data={"incident_id": incident.id})  # fmt: skip
    db.session.commit()
    return doc, data


def incidents_of(principal) -> list[CoverIncident]:
    return list(db.session.scalars(
        select(CoverIncident).where(CoverIncident.member_id == principal.member_id)
        .order_by(CoverIncident.id.desc()).limit(200)))  # fmt: skip


def queue(principal) -> list[CoverIncident]:
    return list(
        db.session.scalars(
            select(CoverIncident)
            .where(review.member_filter(principal, CoverIncident.member_id))
            .order_by(CoverIncident.status != "reported", CoverIncident.reported_at)
            .limit(500)
        )
    )


def set_status(principal, incident_id: int, status: str, reason: str | None) -> CoverIncident:
    incident = get_for(principal, incident_id)
    if status not in REVIEW_STATUSES:
        raise ValidationFailed(errors={"status": [f"One of: {', '.join(REVIEW_STATUSES)}."]})
    if incident.status in ("settled", "declined"):
        raise Conflict("This incident is closed.", code="incident_closed")
    reason = (reason or "").strip() or None
    if status == "declined" and not reason:
        raise ValidationFailed(errors={"reason": ["Say why."]})
    if reason and (len(reason) > 500 or bad_text(reason)):
        raise ValidationFailed(errors={"reason": ["At most 500 characters."]})
    moved = db.session.execute(
        update(CoverIncident)
        .where(CoverIncident.id == incident.id, CoverIncident.status == incident.status)
        .values(status=status, reason=reason, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount  # fmt: skip
    if moved != 1:
        db.session.rollback()
        raise Conflict("The incident changed meanwhile.", code="stale_status")
    record_audit(
        f"cover_incident.{status}",
        "cover_incident",
        incident.id,
        actor=Actor(principal),
        data={"reason": reason} if reason else None,
    )
    db.session.commit()
    db.session.refresh(incident)
    notify(incident.member_id, f"incident.{status}", {"incident_id": incident.id,
                                                      "status": status})  # fmt: skip
    return incident


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def enrolments_csv(principal, service_id: int) -> str:
    """Enrolments of a cover for the insurer: card, name, ID last 4, phone, district, period."""
    service = db.session.get(Service, service_id)
    if service is None or service.kind != "cover":
        raise NotFound("No such cover.")
    rows = db.session.execute(
        select(CoverEnrolment, Member, Card)
        .join(Member, Member.id == CoverEnrolment.member_id)
        .join(Card, Card.id == CoverEnrolment.card_id)
        .where(CoverEnrolment.service_id == service.id)
        .order_by(CoverEnrolment.id)
    ).all()
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(["card_no", "name", "id_last4", "phone", "region", "cover", "starts_on",
                     "ends_on"])  # fmt: skip
    for enrolment, member, card in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    card.card_no,
                    member.name,
                    member.id_last4,
                    member.phone,
                    member.region,
                    service.title,
                    enrolment.starts_on.isoformat(),
                    enrolment.ends_on.isoformat(),
                )
            ]
        )
    record_audit("cover.export", "union_service", service.id, actor=Actor(principal),
                 data={"count": len(rows)})  # fmt: skip
    db.session.commit()
    return buffer.getvalue()
