"""Services and funds as union admins configure them (no code change for a new programme)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor

from . import eligibility
from .models import Fund, Service

EDITABLE = ("kind", "title", "title_en", "description", "status", "fund_id", "max_amount_cents",
            "rules", "fields", "prepare")  # fmt: skip


def get(service_id: int) -> Service:
    service = db.session.get(Service, service_id)
    if service is None:
        raise NotFound("No such service.")
    return service


def _check_fund(fund_id) -> None:
    if fund_id is not None and db.session.get(Fund, fund_id) is None:
        raise NotFound("No such fund.", code="fund_not_found")


def create(principal, data: dict) -> Service:
    _check_fund(data.get("fund_id"))
    service = Service(**{k: data[k] for k in EDITABLE if k in data})
    db.session.add(service)
    db.session.flush()
    record_audit("service.create", "union_service", service.id, actor=Actor(principal),
                 data={"kind": service.kind, "title": service.title})  # fmt: skip
    db.session.commit()
    return service


def update(principal, service_id: int, data: dict) -> Service:
    service = get(service_id)
    if "fund_id" in data:
        _check_fund(data["fund_id"])
    changed = {}
    for key in EDITABLE:
        if key in data and getattr(service, key) != data[key]:
            setattr(service, key, data[key])
            changed[key] = data[key] if key not in ("description",) else "…"
    service.updated_at = utcnow()
    record_audit("service.update", "union_service", service.id, actor=Actor(principal),
                 data={"changed": sorted(changed)})  # fmt: skip
    db.session.commit()
    return service


def all_services() -> list[Service]:
    return list(db.session.scalars(select(Service).order_by(Service.id)))


def for_member(principal) -> list[tuple[Service, list[str]]]:
    """Open services with the reasons the member may not use each (empty: eligible)."""
    member = db.session.get(Member, principal.member_id) if principal.member_id else None
    services = db.session.scalars(
        select(Service).where(Service.status == "open").order_by(Service.kind, Service.id)
    ).all()
    if member is None:
        return [(s, ["no_member"]) for s in services]
    return [(s, eligibility.reasons(s, member)) for s in services]


def member_view(principal, service_id: int) -> tuple[Service, list[str]]:
    service = get(service_id)
    member = db.session.get(Member, principal.member_id) if principal.member_id else None
    if service.status != "open":
        raise NotFound("No such service.")
    return service, eligibility.reasons(service, member) if member else ["no_member"]


def create_fund(principal, data: dict) -> Fund:
    fund = Fund(name=data["name"], year=data["year"], budget_cents=data["budget_cents"],
                committed_cents=0, paid_cents=0, note=data.get("note", ""))  # fmt: skip
    db.session.add(fund)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("A fund with this name exists for that year.", code="fund_exists") from None
    record_audit("fund.create", "service_fund", fund.id, actor=Actor(principal),
                 data={"name": fund.name, "year": fund.year,
                       "budget_cents": fund.budget_cents})  # fmt: skip
    db.session.commit()
    return fund


def all_funds() -> list[Fund]:
    return list(db.session.scalars(select(Fund).order_by(Fund.year.desc(), Fund.name)))
