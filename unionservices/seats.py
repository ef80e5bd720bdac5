"""Course seats and appointment slots on the stock engine (``inventory``, public API only).

Each slot is a pool ``slot-<id>`` in this feature's namespace (``<REDIS_NAMESPACE>:services``)
with ``capacity`` units, one per member, and a hold of ``hold_seconds``:

- **book**: ``reserve`` takes a seat as a hold (the engine decides: never more holders than
  seats, under any race), then the booking row is written. A hold the member does not confirm
  in time expires in the engine (``expire_holds``, run by the periodic job and before telling a
  member "full") and its seat returns.
- **confirm**: ``commit``; after the hold ran out the engine answers ``expired`` (409
  ``hold_expired``).
- **cancel**: a hold is ``release``d; a confirmed seat is ``cancel``led before the slot's
  ``cancel_deadline`` (after it: 409 ``cancel_deadline_passed``). Either way the seat returns.

SQL (``service_bookings``) is the record: a pool Redis lost is rebuilt from it
(``ensure_pool``), as group-buys do. The feature reads no outbox, so the job empties its streams.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from inventory import StockEngine
from marketplace.engines import engine_for
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor

from . import eligibility, review, schemas
from .models import Booking, Service, Slot
from .notify import notify

FEATURE = "services"
SLOT_KINDS = ("course", "appointment")
LOCK_SECONDS = 10


def get_engine() -> StockEngine:
    """No local sold-out cache: holds expire and cancellations return seats all the time."""
    return engine_for(FEATURE)


# --------------------------------------------------------------------------- pools


def _claims(slot: Slot) -> list[tuple]:
    rows = db.session.execute(
        select(Booking.claim_id, Booking.member_id, Booking.state, Booking.held_until)
        .where(Booking.slot_id == slot.id)
    ).all()  # fmt: skip
    now = utcnow()
    out = []
    for claim_id, member_id, state, held_until in rows:
        if state == "held" and held_until is not None and held_until <= now:
            state = "expired"
        engine_state = {"held": "held", "confirmed": "committed", "cancelled": "cancelled",
                        "expired": "expired"}[state]  # fmt: skip
        out.append((claim_id, str(member_id), 1, "", engine_state))
    return out


def open_pool(engine: StockEngine, slot: Slot) -> None:
    engine.open_pool(slot.pool_id, slot.capacity, 1, slot.booking_opens_at, slot.starts_at,
                     hold_seconds=slot.hold_seconds)  # fmt: skip


def ensure_pool(slot: Slot, engine: StockEngine | None = None) -> StockEngine:
    """The slot's pool: opened when missing, rebuilt from the bookings after Redis lost it."""
    engine = engine or get_engine()
    if engine.pool_exists(slot.pool_id):
        return engine
    lock = f"{engine.namespace}:rebuild:{slot.pool_id}"
    redis = engine.client
    if not redis.set(lock, b"1", nx=True, ex=LOCK_SECONDS):
        for _ in range(40):  # another process rebuilds it
            time.sleep(0.05)
            if engine.pool_exists(slot.pool_id):
                return engine
        raise Conflict("The slot is being restored; try again.", code="slot_restoring")
    try:
        if not engine.pool_exists(slot.pool_id):
            claims = _claims(slot)
            if claims:
                engine.rebuild(slot.pool_id, claims, slot.capacity, 1, slot.booking_opens_at,
                               slot.starts_at, hold_seconds=slot.hold_seconds)  # fmt: skip
            else:
                open_pool(engine, slot)
    finally:
        redis.delete(lock)
    return engine


# --------------------------------------------------------------------------- admin


def create_slot(principal, service_id: int, data: dict) -> Slot:
    service = db.session.get(Service, service_id)
    if service is None:
        raise NotFound("No such service.")
    if service.kind not in SLOT_KINDS:
        raise Conflict("Only courses and appointments have seats.", code="not_bookable")
    if data["ends_at"] <= data["starts_at"]:
        raise ValidationFailed(errors={"ends_at": [schemas.AFTER_START]})
    if not data["booking_opens_at"] < data["starts_at"]:
        raise ValidationFailed(errors={"booking_opens_at": [schemas.BEFORE_START]})
    if data["cancel_deadline"] > data["starts_at"]:
        raise ValidationFailed(errors={"cancel_deadline": [schemas.AT_OR_BEFORE_START]})
    slot = Slot(service_id=service.id, **data)
    db.session.add(slot)
    db.session.flush()
    record_audit("slot.create", "service_slot", slot.id, actor=Actor(principal),
                 data={"service_id": service.id, "capacity": slot.capacity})  # fmt: skip
    open_pool(get_engine(), slot)  # before the commit: a slot without its pool never shows
    db.session.commit()
    return slot


def get_slot(slot_id: int) -> Slot:
    slot = db.session.get(Slot, slot_id)
    if slot is None:
        raise NotFound("No such slot.")
    return slot


def slots_of(service_id: int, upcoming_only: bool = True) -> list[Slot]:
    stmt = select(Slot).where(Slot.service_id == service_id)
    if upcoming_only:
        stmt = stmt.where(Slot.status == "open", Slot.starts_at > utcnow())
    return list(db.session.scalars(stmt.order_by(Slot.starts_at, Slot.id)))


def free_seats(slot: Slot) -> int:
    return ensure_pool(slot).stats(slot.pool_id).remaining


def roster(principal, slot_id: int) -> tuple[Slot, list[Booking]]:
    """The bookings of a slot (confirmed and held) a reviewer may see (their branches)."""
    slot = get_slot(slot_id)
    stmt = select(Booking).where(Booking.slot_id == slot.id,
                                 Booking.state.in_(("held", "confirmed")),
                                 review.member_filter(principal, Booking.member_id))  # fmt: skip
    return slot, list(db.session.scalars(stmt.order_by(Booking.id)))


# --------------------------------------------------------------------------- members


def _member(principal) -> Member:
    member = db.session.get(Member, principal.member_id) if principal.member_id else None
    if member is None:
        raise Forbidden("This account belongs to no member.")
    return member


def book(principal, slot_id: int, request_id: str | None = None,
         engine: StockEngine | None = None) -> Booking:  # fmt: skip
    """Hold a seat for the member (confirm within ``hold_seconds``). 409 ``slot_full``,
    ``already_booked`` or ``booking_closed``; 403 ``not_eligible``."""
    member = _member(principal)
    slot = get_slot(slot_id)
    if slot.status != "open" or slot.service.status != "open":
        raise Conflict("Booking for this slot is closed.", code="booking_closed")
    why = eligibility.reasons(slot.service, member)
    if why:
        raise Forbidden("You are not eligible for this service.", code="not_eligible",
                        reasons=why)  # fmt: skip
    engine = ensure_pool(slot, engine)
    request_id = request_id or uuid.uuid4().hex
    result = engine.reserve(slot.pool_id, str(member.id), 1, request_id)
    if result.status == "sold_out" and engine.expire_holds(slot.pool_id):
        _mark_expired(slot.id)
        result = engine.reserve(slot.pool_id, str(member.id), 1, request_id)
    if not result.ok:
        code, text = {
            "sold_out": ("slot_full", "Every seat is taken."),
            "limit_reached": ("already_booked", "You have a seat here already."),
            "not_open": ("booking_closed", "Booking has not opened yet."),
            "closed": ("booking_closed", "Booking for this slot is closed."),
        }.get(result.status, ("booking_closed", "Booking is not possible now."))
        raise Conflict(text, code=code)
    existing = db.session.scalar(select(Booking).where(Booking.claim_id == result.claim_id))
    if existing is not None:  # a replayed request id: the same booking
        return existing
    held_until = datetime.fromtimestamp(result.hold_until, UTC) if result.hold_until else None
    booking = Booking(slot_id=slot.id, member_id=member.id, branch=member.branch,
                      claim_id=result.claim_id, state="held", held_until=held_until)  # fmt: skip
    db.session.add(booking)
    try:
        db.session.flush()
        record_audit("booking.hold", "service_booking", booking.id, actor=Actor(principal),
                     data={"slot_id": slot.id})  # fmt: skip
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        engine.release(slot.pool_id, result.claim_id)  # the seat goes back at once
        raise Conflict("You have a seat here already.", code="already_booked") from None
    except BaseException:
        db.session.rollback()
        engine.release(slot.pool_id, result.claim_id)
        raise
    notify(member.id, "booking.held", {"booking_id": booking.id, "state": "held"})
    return booking


def own_booking(principal, booking_id: int) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None or principal.member_id is None or booking.member_id != principal.member_id:
        raise NotFound("No such booking.")
    return booking


def _set_state(booking_id: int, expected: str, **values) -> bool:
    return db.session.execute(
        update(Booking).where(Booking.id == booking_id, Booking.state == expected)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1  # fmt: skip


def _mark_expired(slot_id: int) -> None:
    db.session.execute(
        update(Booking)
        .where(Booking.slot_id == slot_id, Booking.state == "held", Booking.held_until <= utcnow())
        .values(state="expired", ended_at=utcnow()).execution_options(synchronize_session=False)
    )  # fmt: skip
    db.session.commit()


def confirm(principal, booking_id: int) -> Booking:
    booking = own_booking(principal, booking_id)
    if booking.state == "confirmed":
        return booking
    if booking.state != "held":
        raise Conflict("This booking is no longer held.", code="hold_expired")
    slot = booking.slot
    result = ensure_pool(slot).commit(slot.pool_id, booking.claim_id)
    now = utcnow()
    if result.state == "committed":
        _set_state(booking.id, "held", state="confirmed", confirmed_at=now, held_until=None)
        action, kind = "booking.confirm", "booking.confirmed"
    else:  # expired (or released meanwhile): the seat is back in the pool
        _set_state(booking.id, "held", state="expired", ended_at=now)
        action, kind = "booking.expire", "booking.expired"
    record_audit(action, "service_booking", booking.id, actor=Actor(principal),
                 data={"slot_id": slot.id})  # fmt: skip
    db.session.commit()
    db.session.refresh(booking)
    notify(booking.member_id, kind, {"booking_id": booking.id, "state": booking.state})
    if booking.state != "confirmed":
        raise Conflict("The hold ran out: the seat went back. Book again.", code="hold_expired")
    return booking


def cancel(principal, booking_id: int) -> Booking:
    booking = own_booking(principal, booking_id)
    slot = booking.slot
    if booking.state not in ("held", "confirmed"):
        raise Conflict("This booking is not active.", code="booking_not_active")
    if booking.state == "confirmed" and utcnow() > slot.cancel_deadline:
        raise Conflict("The cancellation deadline has passed.", code="cancel_deadline_passed",
                       cancel_deadline=slot.cancel_deadline.isoformat())  # fmt: skip
    engine = ensure_pool(slot)
    if booking.state == "held":
        engine.release(slot.pool_id, booking.claim_id)
    else:
        engine.cancel(slot.pool_id, booking.claim_id)
    _set_state(booking.id, booking.state, state="cancelled", ended_at=utcnow())
    record_audit("booking.cancel", "service_booking", booking.id, actor=Actor(principal),
                 data={"slot_id": slot.id})  # fmt: skip
    db.session.commit()
    db.session.refresh(booking)
    notify(booking.member_id, "booking.cancelled", {"booking_id": booking.id,
                                                   "state": "cancelled"})  # fmt: skip
    return booking


def mine(principal) -> list[Booking]:
    return list(db.session.scalars(
        select(Booking).where(Booking.member_id == principal.member_id)
        .order_by(Booking.id.desc()).limit(200)))  # fmt: skip


# --------------------------------------------------------------------------- periodic job


def sweep(now: float | None = None) -> dict:
    """Expire due holds of open slots (their seats return) and empty the feature's outbox
    streams (SQL is the record; nothing reads them). Run every 30 s by the scheduler; ``now``
    (epoch seconds) defaults to the Redis server's clock."""
    engine = get_engine()
    expired = 0
    slots = db.session.scalars(select(Slot).where(Slot.status == "open",
                                                  Slot.starts_at > utcnow())).all()  # fmt: skip
    for slot in slots:
        if not engine.pool_exists(slot.pool_id):
            continue
        ids = engine.expire_holds(slot.pool_id, now=now)
        if ids:
            expired += len(ids)
            db.session.execute(
                update(Booking).where(Booking.claim_id.in_(ids), Booking.state == "held")
                .values(state="expired", ended_at=utcnow())
                .execution_options(synchronize_session=False))  # fmt: skip
            db.session.commit()
        engine.cap_outbox(slot.pool_id, keep=0)
    return {"slots": len(slots), "expired": expired}
