"""Job referral: union-published listings members browse, filter and say "interested" in;
admins see who is interested. Saying it twice is one row (a unique pair, not a check)."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import record_audit
from marketplace.permissions import Actor

from .models import JobInterest, JobListing
from .schemas import NOT_BELOW_MINIMUM

EDITABLE = ("employer", "position", "district", "salary_min", "salary_max", "contact",
            "description", "status")  # fmt: skip


def _check_salary(data: dict) -> None:
    if data["salary_max"] < data["salary_min"]:
        raise ValidationFailed(errors={"salary_max": [NOT_BELOW_MINIMUM]})


def create(principal, data: dict) -> JobListing:
    _check_salary(data)
    listing = JobListing(**{k: data[k] for k in EDITABLE if k in data})
    db.session.add(listing)
    db.session.flush()
    record_audit("job.create", "job_listing", listing.id, actor=Actor(principal),
                 data={"employer": listing.employer, "position": listing.position})  # fmt: skip
    db.session.commit()
    return listing


def update(principal, listing_id: int, data: dict) -> JobListing:
    listing = get(listing_id)
    merged = {k: data.get(k, getattr(listing, k)) for k in EDITABLE}
    _check_salary(merged)
    for key, value in merged.items():
        setattr(listing, key, value)
    record_audit("job.update", "job_listing", listing.id, actor=Actor(principal),
                 data={"changed": sorted(data)})  # fmt: skip
    db.session.commit()
    return listing


def get(listing_id: int) -> JobListing:
    listing = db.session.get(JobListing, listing_id)
    if listing is None:
        raise NotFound("No such job listing.")
    return listing


def browse(district: str | None = None, q: str | None = None, salary_at_least: int | None = None,
           limit: int = 200) -> list[JobListing]:  # fmt: skip
    """Open listings, newest first; ``district`` is a region code or prefix, ``q`` a keyword in
    the employer or position, ``salary_at_least`` keeps listings paying at least that."""
    stmt = select(JobListing).where(JobListing.status == "open")
    if district:
        stmt = stmt.where(JobListing.district.startswith(district, autoescape=True))
    if q:
        stmt = stmt.where(or_(JobListing.employer.contains(q, autoescape=True),
                              JobListing.position.contains(q, autoescape=True)))  # fmt: skip
    if salary_at_least:
        stmt = stmt.where(JobListing.salary_max >= salary_at_least)
    return list(db.session.scalars(stmt.order_by(JobListing.id.desc()).limit(limit)))


def interested_ids(member_id: int | None) -> set[int]:
    if member_id is None:
        return set()
    return set(db.session.scalars(
        select(JobInterest.listing_id).where(JobInterest.member_id == member_id)))  # fmt: skip


def express(principal, listing_id: int) -> bool:
    """Say "interested"; True when it is new (a repeat changes nothing)."""
    listing = get(listing_id)
    if listing.status != "open":
        raise NotFound("No such job listing.")
    db.session.add(JobInterest(listing_id=listing.id, member_id=principal.member_id))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    record_audit("job.interest", "job_listing", listing.id, actor=Actor(principal))
    db.session.commit()
    return True


def withdraw(principal, listing_id: int) -> None:
    get(listing_id)
    db.session.execute(
        delete(JobInterest).where(
            JobInterest.listing_id == listing_id, JobInterest.member_id == principal.member_id
        )
    )
    db.session.commit()


def interested(listing_id: int) -> list[tuple[JobInterest, Member]]:
    get(listing_id)
    return list(
        db.session.execute(
            select(JobInterest, Member)
            .join(Member, Member.id == JobInterest.member_id)
            .where(JobInterest.listing_id == listing_id)
            .order_by(JobInterest.id)
        ).all()
    )


def all_listings() -> list[tuple[JobListing, int]]:
    counts = (select(JobInterest.listing_id, func.count().label("n"))
              .group_by(JobInterest.listing_id).subquery())  # fmt: skip
    return list(db.session.execute(
        select(JobListing, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.listing_id == JobListing.id)
        .order_by(JobListing.id.desc())).all())  # fmt: skip
