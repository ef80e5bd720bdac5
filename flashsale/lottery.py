"""Lottery sales (mode ``lottery``): registration, a verifiable draw, the waiting list.

The draw recipe (docs/flashsale.md "Lottery: the draw recipe"), standard library only::

    entrants_hash = sha256("\\n".join(sorted(tickets)).encode()).hexdigest()
    key = sha256(f"{seed}:{beacon}:{entrants_hash}".encode()).digest()
    order = sorted(tickets, key=lambda t: hmac.new(key, t.encode(), sha256).digest())
    winners, waiting_list = order[:stock], order[stock:]

``seed`` is 32 random bytes (hex) whose SHA-256 was published with the sale (the commitment);
``beacon`` is the randomness of the drand round named at publish. Tickets are random per entry
and shown to their member, so the published list reveals no identity and each member can find
their own. Winners' vouchers are reserved through the stock engine (request id ``draw``), so
they reach SQL through the same outbox and the audit covers them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from inventory import RESERVED, SOLD_OUT
from marketplace.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from marketplace.extensions import db
from marketplace.models import record_audit, utcnow
from marketplace.notices import notify_many
from marketplace.vouchercodes import new_voucher_code

from . import beacon
from .hotpath import campaign_meta, get_engine
from .models import Campaign, LotteryDraw, LotteryEntry

log = logging.getLogger(__name__)
DRAW_REQUEST = "draw"  # the engine request id of every voucher the draw or the list hands out


# -- the recipe (pure functions: what the verifier and the tests recompute) ----------------------


def commitment_of(seed: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def entrants_hash(tickets) -> str:
    return hashlib.sha256("\n".join(sorted(tickets)).encode()).hexdigest()


def order(seed: str, beacon_value: str, tickets) -> list[str]:
    """Every ticket in drawn order: a deterministic function of seed, beacon and entrants."""
    tickets = sorted(tickets)
    key = hashlib.sha256(f"{seed}:{beacon_value}:{entrants_hash(tickets)}".encode()).digest()
    return sorted(tickets, key=lambda t: hmac.new(key, t.encode(), hashlib.sha256).digest())


# -- publish ---------------------------------------------------------------------------------


def prepare(campaign: Campaign) -> LotteryDraw:
    """At publish: a secret seed, its commitment and the beacon round after registration ends."""
    seed = secrets.token_hex(32)
    draw = LotteryDraw(
        campaign_id=campaign.id, seed=seed, commitment=commitment_of(seed),
        beacon_source=beacon.source(),
        beacon_round=beacon.round_after(campaign.ends_at.timestamp()),
    )  # fmt: skip
    db.session.add(draw)
    return draw


def pool_window(campaign: Campaign):
    """The engine pool of a lottery opens at the close (only the draw reserves) and stays open
    while the waiting list may still receive tickets."""
    return campaign.ends_at, max(campaign.valid_until, campaign.ends_at + timedelta(days=1))


# -- registration ----------------------------------------------------------------------------


def register(principal, campaign_id: int) -> tuple[LotteryEntry, bool]:
    """Enter the member (idempotent); returns (entry, created). Same eligibility as a claim."""
    meta = campaign_meta(campaign_id)
    if meta is None:
        raise NotFound("No such flash sale.", code="not_found")
    if meta.mode != "lottery":
        raise Conflict("This sale is not a lottery.", code="not_lottery_sale")
    if meta.require_active_card and not principal.card_active:
        raise Forbidden("Activate your union card to take part.", code="card_inactive")
    if meta.regions and principal.region not in meta.regions:
        raise Forbidden("This sale is for members of other regions.", code="not_eligible")
    existing = _entry(campaign_id, principal.member_id)
    if existing is not None:
        return existing, False
    now = utcnow().timestamp()
    if not meta.available:
        raise Conflict("Registration is closed.", code="registration_closed")
    if now < meta.starts_at:
        raise Conflict("Registration has not opened yet.", code="registration_not_open")
    if now >= meta.ends_at:
        raise Conflict("Registration is closed.", code="registration_closed")
    entry = LotteryEntry(campaign_id=campaign_id, member_id=principal.member_id,
                         ticket=secrets.token_hex(8))  # fmt: skip
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:  # the same member in two requests at once: the first one stands
        db.session.rollback()
        return _entry(campaign_id, principal.member_id), False
    return entry, True


def _entry(campaign_id: int, member_id: int) -> LotteryEntry | None:
    return db.session.scalar(
        select(LotteryEntry).where(
            LotteryEntry.campaign_id == campaign_id, LotteryEntry.member_id == member_id
        )
    )


def own_entry(principal, campaign_id: int) -> LotteryEntry:
    entry = _entry(campaign_id, principal.member_id)
    if entry is None:
        raise NotFound("You have not registered for this lottery.", code="not_registered")
    return entry


# -- the draw --------------------------------------------------------------------------------


def get_draw(campaign_id: int) -> LotteryDraw:
    draw = db.session.get(LotteryDraw, campaign_id)
    campaign = db.session.get(Campaign, campaign_id)
    if draw is None or campaign is None or campaign.status == "draft":
        raise NotFound("This sale has no draw.", code="not_found")
    return draw


def run_draw(campaign: Campaign, beacon_value: str | None = None, actor=None,
             resume: bool = False) -> LotteryDraw:  # fmt: skip
    """Draw once: order the entrants, reserve the winners' vouchers, keep the rest in order.

    The first caller marks the draw taken (a conditional UPDATE); a second call answers 409
    ``already_drawn`` and changes nothing. ``resume`` (CLI) re-runs a draw that stopped half-way:
    every step is deterministic and every reserve replays (request id ``draw``)."""
    if campaign.mode != "lottery":
        raise Conflict("This sale is not a lottery.", code="not_lottery_sale")
    if campaign.status == "cancelled":
        raise Conflict("The sale was cancelled.", code="not_editable")
    if utcnow() < campaign.ends_at:
        raise Conflict("Registration is still open.", code="draw_too_early")
    draw = get_draw(campaign.id)
    value = beacon.check_value(beacon_value) if beacon_value else None
    if value is None:
        try:
            value = draw.beacon_value or beacon.value(draw.beacon_round)
        except beacon.BeaconUnavailable as exc:
            raise ServiceUnavailable(f"The public randomness is not available yet: {exc}",
                                     code="beacon_unavailable") from None  # fmt: skip
    taken = db.session.execute(
        update(LotteryDraw)
        .where(LotteryDraw.campaign_id == campaign.id, LotteryDraw.drawn_at.is_(None))
        .values(drawn_at=utcnow(), beacon_value=value)
    ).rowcount
    if not taken and not resume:
        db.session.rollback()
        raise Conflict("This lottery has already been drawn.", code="already_drawn")
    db.session.commit()
    db.session.refresh(draw)
    started = time.perf_counter()
    rows = db.session.execute(
        select(LotteryEntry.ticket, LotteryEntry.id, LotteryEntry.member_id)
        .where(LotteryEntry.campaign_id == campaign.id)
    ).all()  # fmt: skip
    by_ticket = {ticket: (entry_id, member_id) for ticket, entry_id, member_id in rows}
    read = time.perf_counter()
    drawn = order(draw.seed, draw.beacon_value, by_ticket)
    ordered = time.perf_counter()
    stock = campaign.total_stock
    db.session.execute(
        update(LotteryEntry),
        [{"id": by_ticket[t][0], "position": n, "outcome": "won" if n <= stock else "waiting"}
         for n, t in enumerate(drawn, 1)],
    )  # fmt: skip
    draw.entrants_hash = entrants_hash(by_ticket)
    draw.entrants, draw.winners = len(drawn), min(stock, len(drawn))
    record_audit("campaign.draw", "campaign", campaign.id, actor=actor,
                 merchant_id=campaign.merchant_id,
                 data={"entrants": draw.entrants, "winners": draw.winners})  # fmt: skip
    db.session.commit()
    stored = time.perf_counter()
    engine = get_engine()
    failed = [t for t in drawn[:stock] if _reserve(engine, campaign, by_ticket[t][1]) != RESERVED]
    log.info("draw of sale %s: read %.1f s, order %.1f s, store %.1f s, reserve %.1f s",
             campaign.id, read - started, ordered - read, stored - ordered,
             time.perf_counter() - stored)  # fmt: skip
    if failed:  # e.g. the pool was lost: `shihui draw run ID --resume` finishes (replays are safe)
        log.error("draw of sale %s: %s winners got no voucher", campaign.id, len(failed))
        raise ServiceUnavailable(
            f"{len(failed)} winners' vouchers could not be reserved; "
            "finish with `shihui draw run --resume`.",
            code="draw_incomplete",
        )
    payload = {"campaign_id": campaign.id, "title": campaign.title}
    won = {by_ticket[t][1] for t in drawn[:stock]}
    notify_many(sorted(won), "lottery.won", payload, key=f"lottery:{campaign.id}")
    notify_many(sorted({m for _e, m in by_ticket.values()} - won), "lottery.waiting", payload,
                key=f"lottery:{campaign.id}")  # fmt: skip
    return draw


def _reserve(engine, campaign: Campaign, member_id: int) -> str:
    result = engine.reserve(campaign.pool_id, str(member_id), 1, DRAW_REQUEST,
                            {"code": new_voucher_code()})  # fmt: skip
    return result.status


def pass_on(campaign: Campaign) -> int:
    """Give returned tickets to the next members of the waiting list; how many were handed on.

    Called after a winner's voucher was cancelled (its stock is back in the engine). Each step
    takes the first waiting entry with a conditional UPDATE (two racing cancellations never pick
    the same member) and reserves for it; when the engine is sold out the entry goes back."""
    if campaign.mode != "lottery" or db.session.get(LotteryDraw, campaign.id) is None:
        return 0
    engine, handed = get_engine(), 0
    while True:
        nxt = db.session.scalar(
            select(LotteryEntry)
            .where(LotteryEntry.campaign_id == campaign.id, LotteryEntry.outcome == "waiting")
            .order_by(LotteryEntry.position)
            .limit(1)
        )  # fmt: skip
        if nxt is None:
            return handed
        took = db.session.execute(
            update(LotteryEntry)
            .where(LotteryEntry.id == nxt.id, LotteryEntry.outcome == "waiting")
            .values(outcome="promoted")
        ).rowcount
        db.session.commit()
        if not took:
            continue
        status = _reserve(engine, campaign, nxt.member_id)
        if status == RESERVED:
            handed += 1
            continue
        db.session.execute(
            update(LotteryEntry).where(LotteryEntry.id == nxt.id).values(outcome="waiting")
        )
        db.session.commit()
        if status == SOLD_OUT:
            return handed
        return handed


def public(draw: LotteryDraw) -> dict:
    """What anyone may check: before the draw the commitment and the named round; after it the
    seed, the beacon value and the entrants hash too."""
    drawn = draw.drawn_at is not None and draw.entrants_hash is not None
    return {
        "campaign_id": draw.campaign_id,
        "commitment": draw.commitment,
        "beacon_source": draw.beacon_source,
        "beacon_round": draw.beacon_round,
        "beacon_round_time": beacon.round_time(draw.beacon_round),
        "drawn": drawn,
        "drawn_at": draw.drawn_at.isoformat() if draw.drawn_at else None,
        "seed": draw.seed if drawn else None,
        "beacon_value": draw.beacon_value if drawn else None,
        "entrants_hash": draw.entrants_hash,
        "entrants": draw.entrants,
        "winners": draw.winners,
    }


def tickets_in_order(campaign_id: int) -> list[str]:
    """The published list: every ticket, sorted (the input of the recipe)."""
    return sorted(db.session.scalars(
        select(LotteryEntry.ticket).where(LotteryEntry.campaign_id == campaign_id)
    ))  # fmt: skip


def verify(campaign_id: int, tickets=None) -> list[str]:
    """Recompute the draw from public data; the list of disagreements (empty: verified)."""
    draw = get_draw(campaign_id)
    campaign = db.session.get(Campaign, campaign_id)
    problems = []
    if draw.entrants_hash is None:
        return ["not drawn yet"]
    if commitment_of(draw.seed) != draw.commitment:
        problems.append("the seed does not match the commitment published with the sale")
    tickets = tickets if tickets is not None else tickets_in_order(campaign_id)
    if entrants_hash(tickets) != draw.entrants_hash:
        problems.append("the entrants list does not match the published entrants hash")
    drawn = order(draw.seed, draw.beacon_value, tickets)
    stored = dict(db.session.execute(
        select(LotteryEntry.ticket, LotteryEntry.position)
        .where(LotteryEntry.campaign_id == campaign_id)
    ).all())  # fmt: skip
    moved = [t for n, t in enumerate(drawn, 1) if stored.get(t) != n]
    if moved:
        problems.append(f"{len(moved)} entries are not at their recomputed place")
    winners = set(drawn[: campaign.total_stock])
    first = set(db.session.scalars(select(LotteryEntry.ticket).where(
        LotteryEntry.campaign_id == campaign_id, LotteryEntry.outcome == "won")))  # fmt: skip
    if first != winners:
        problems.append("the recorded winners differ from the recomputed ones")
    return problems
