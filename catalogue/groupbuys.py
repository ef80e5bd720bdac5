"""Group-buy services for members: list and show, join and leave, my places and teams.

Joining goes through the stock engine so a deal cannot overfill: tipping deals reserve units of
the deal's pool (``gb-<id>``: total = maximum participants, per-member limit); team deals
reserve a team slot in ``gb-<id>`` (total = stock // team size) when a team is opened and a seat
in the team's own pool (``gb-<id>-t<team>``: total = team size) for each member. The place is
then written to SQL in the same request (volumes are small; a failed write gives the stock back).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload

from inventory import ClaimNotFound, PoolNotFound
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.merchants import Merchant
from marketplace.models import record_audit, utcnow
from marketplace.pagination import Page, paginate

from . import cache, search, states
from .directory import LISTED
from .engine import get_engine
from .groupbuy_admin import schedule
from .models import GroupBuy, GroupBuyParticipant, GroupBuyTeam, GroupBuyVoucher
from .pools import ensure_pool, ensure_team_pool
from .visibility import viewer, visible_clause

REFUSALS = {
    "sold_out": ("groupbuy_full", "Every place is taken."),
    "limit_reached": ("already_joined", "You already hold the most places allowed."),
    "not_open": ("not_open", "Joining has not opened yet."),
    "closed": ("closed", "Joining has closed."),
}


# -- member side ------------------------------------------------------------------------------


def list_groupbuys(
    who, *, category=None, mode=None, q=None, sort="deadline", merchant_id=None, page=1, per_page=20
) -> Page:
    args = (category, mode, q or "", sort, merchant_id, page, per_page)
    return cache.cached("groupbuys", (viewer(who).region, *args), lambda: _groupbuys(who, *args))


def _groupbuys(who, category, mode, q, sort, merchant_id, page, per_page) -> Page:
    now = utcnow()
    stmt = (
        select(GroupBuy)
        .join(Merchant, Merchant.id == GroupBuy.merchant_id)
        .options(contains_eager(GroupBuy.merchant))
        .where(
            Merchant.status == LISTED,
            GroupBuy.state == "open",
            GroupBuy.deadline > now,
            visible_clause(GroupBuy, who),
        )
    )
    if category:
        stmt = stmt.where(GroupBuy.category == category)
    if mode:
        stmt = stmt.where(GroupBuy.mode == mode)
    if merchant_id:
        stmt = stmt.where(GroupBuy.merchant_id == merchant_id)
    clause = search.matches(GroupBuy.search_text, q)
    if clause is not None:
        stmt = stmt.where(clause)
    order = (GroupBuy.joined.desc(),) if sort == "popular" else ()
    return paginate(stmt.order_by(*order, GroupBuy.deadline, GroupBuy.id), page, per_page)


def get_visible_groupbuy(deal_id: int, who, member_id: int | None = None) -> GroupBuy:
    """A deal the member may see; one they took part in stays visible after it is decided."""
    deal = db.session.execute(
        select(GroupBuy)
        .join(Merchant, Merchant.id == GroupBuy.merchant_id)
        .options(contains_eager(GroupBuy.merchant))
        .where(GroupBuy.id == deal_id, Merchant.status == LISTED)
    ).scalar_one_or_none()
    if deal is not None and not _sees(deal, who) and not _took_part(deal.id, member_id):
        deal = None
    if deal is None:
        raise NotFound("No such group-buy.")
    return deal


def _sees(deal: GroupBuy, who) -> bool:
    from .visibility import visible_to

    return visible_to(who, deal.regions, deal.alliance, deal.city)


def _took_part(deal_id: int, member_id: int | None) -> bool:
    if member_id is None:
        return False
    return (
        db.session.execute(
            select(GroupBuyParticipant.id)
            .where(
                GroupBuyParticipant.groupbuy_id == deal_id,
                GroupBuyParticipant.member_id == member_id,
            )
            .limit(1)
        ).first()
        is not None
    )


def my_place(deal_id: int, member_id: int) -> GroupBuyParticipant | None:
    """The member's latest place in the deal (live or not)."""
    return db.session.execute(
        select(GroupBuyParticipant)
        .options(joinedload(GroupBuyParticipant.team))
        .where(
            GroupBuyParticipant.groupbuy_id == deal_id, GroupBuyParticipant.member_id == member_id
        )
        .order_by(GroupBuyParticipant.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def forming_teams(deal_id: int, limit: int = 20) -> list[GroupBuyTeam]:
    return list(
        db.session.execute(
            select(GroupBuyTeam)
            .where(
                GroupBuyTeam.groupbuy_id == deal_id,
                GroupBuyTeam.state == "forming",
                GroupBuyTeam.expires_at > utcnow(),
            )
            .order_by(GroupBuyTeam.expires_at)
            .limit(limit)
        ).scalars()
    )


def join(
    deal: GroupBuy,
    principal,
    *,
    qty: int = 1,
    team_id: int | None = None,
    request_id: str | None = None,
) -> GroupBuyParticipant:
    """Take a place. Team deals: ``team_id`` joins that team, none opens a new team."""
    if not principal.card_active:
        raise Forbidden("Activate your card to join group-buys.", code="card_inactive")
    if deal.state != "open":
        raise Conflict("This group-buy has been decided.", code="closed")
    request_id = request_id or uuid.uuid4().hex
    member = str(principal.member_id)
    if deal.mode == "tipping":
        if team_id is not None:
            raise ValidationFailed(errors={"team_id": ["This deal has no teams."]})
        result = _reserve(deal, deal.pool_id, member, qty, request_id)
        return _persist(deal, None, principal.member_id, result, qty)
    if qty != 1:
        raise ValidationFailed(errors={"qty": ["Team deals take one place per member."]})
    if team_id is None:
        return _open_team(deal, principal.member_id, request_id)
    team = db.session.get(GroupBuyTeam, team_id)
    if team is None or team.groupbuy_id != deal.id:
        raise NotFound("No such team.", code="team_not_found")
    if team.state != "forming" or team.expires_at <= utcnow():
        raise Conflict("This team is no longer forming.", code="team_closed")
    result = _reserve(deal, team.pool_id, member, 1, request_id, team=team)
    place = _persist(deal, team, principal.member_id, result, 1)
    states.succeed_team(team.id)  # the last seat decides the team at once
    return place


def _reserve(deal, pool_id, member, qty, request_id, team=None):
    engine = get_engine()
    try:
        result = engine.reserve(pool_id, member, qty, request_id, {"deal": str(deal.id)})
    except PoolNotFound:  # Redis lost it: rebuild from the places SQL holds, then try again
        try:
            if team is not None:
                ensure_team_pool(team)
            else:
                ensure_pool(deal)
            result = engine.reserve(pool_id, member, qty, request_id, {"deal": str(deal.id)})
        except PoolNotFound:
            raise Conflict("Please try again in a moment.", code="busy") from None
    if not result.ok:
        code, detail = REFUSALS.get(result.status, ("conflict", result.status))
        raise Conflict(detail, code=code, remaining=result.remaining)
    return result


def _persist(deal, team, member_id, result, qty) -> GroupBuyParticipant:
    if result.replayed:  # the same request again: answer with the place it made
        existing = db.session.execute(
            select(GroupBuyParticipant).where(GroupBuyParticipant.claim_id == result.claim_id)
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    place = GroupBuyParticipant(
        groupbuy_id=deal.id,
        team_id=team.id if team else None,
        member_id=member_id,
        claim_id=result.claim_id,
        qty=qty,
    )
    db.session.add(place)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        get_engine().cancel(result.pool_id, result.claim_id)
        raise Conflict(
            "You already have a place in this group-buy.", code="already_joined"
        ) from None
    _bump(deal, team, qty)
    record_audit(
        "groupbuy.joined",
        "groupbuy",
        deal.id,
        merchant_id=deal.merchant_id,
        data={
            "member_id": member_id,
            "claim_id": result.claim_id,
            "qty": qty,
            "team_id": team.id if team else None,
        },
    )
    db.session.commit()
    return place


def _bump(deal, team, delta: int) -> None:
    db.session.execute(
        update(GroupBuy)
        .where(GroupBuy.id == deal.id)
        .values(joined=GroupBuy.joined + delta)
        .execution_options(synchronize_session=False, **{cache.COUNTER: True})
    )
    if team is not None:
        db.session.execute(
            update(GroupBuyTeam)
            .where(GroupBuyTeam.id == team.id)
            .values(joined=GroupBuyTeam.joined + delta)
            .execution_options(synchronize_session=False, **{cache.COUNTER: True})
        )


def _open_team(deal: GroupBuy, member_id: int, request_id: str) -> GroupBuyParticipant:
    engine = get_engine()
    slot = _reserve(deal, deal.pool_id, str(member_id), 1, request_id + ":slot")
    existing = db.session.execute(
        select(GroupBuyTeam).where(GroupBuyTeam.slot_claim_id == slot.claim_id)
    ).scalar_one_or_none()
    if existing is not None:  # a retried request: the team exists, join it (replays too)
        team = existing
    else:
        expires = min(utcnow() + timedelta(seconds=deal.team_window_seconds), deal.deadline)
        team = GroupBuyTeam(
            groupbuy_id=deal.id,
            leader_member_id=member_id,
            slot_claim_id=slot.claim_id,
            size=deal.team_size,
            expires_at=expires,
        )
        db.session.add(team)
        try:
            db.session.flush()
            engine.open_pool(team.pool_id, team.size, 1, utcnow() - timedelta(seconds=5), expires)
            record_audit(
                "groupbuy_team.opened",
                "groupbuy_team",
                team.id,
                merchant_id=deal.merchant_id,
                data={"groupbuy_id": deal.id, "leader": member_id},
            )
            db.session.commit()
        except Exception:
            db.session.rollback()
            engine.cancel(deal.pool_id, slot.claim_id)
            raise
        schedule("expire_team", team.expires_at, team.id, f"gb-team-{team.id}")
    result = _reserve(deal, team.pool_id, str(member_id), 1, request_id, team=team)
    place = _persist(deal, team, member_id, result, 1)
    states.succeed_team(team.id)
    return place


def leave(deal: GroupBuy, member_id: int) -> GroupBuyParticipant:
    """Give the place back before the deadline (team: while the team is forming), exactly once."""
    place = db.session.execute(
        select(GroupBuyParticipant)
        .options(joinedload(GroupBuyParticipant.team))
        .where(
            GroupBuyParticipant.groupbuy_id == deal.id,
            GroupBuyParticipant.member_id == member_id,
            GroupBuyParticipant.state == "joined",
        )
    ).scalar_one_or_none()
    if place is None:
        raise Conflict("You have no place in this group-buy.", code="not_joined")
    team = place.team
    if deal.state != "open" or utcnow() >= deal.deadline:
        raise Conflict("The deadline has passed.", code="closed")
    if team is not None and (team.state != "forming" or utcnow() >= team.expires_at):
        raise Conflict("The team has been decided.", code="team_closed")
    if not states.move_participant(place, "left", left_at=utcnow()):
        db.session.rollback()
        raise Conflict("You have no place in this group-buy.", code="not_joined")
    # If Redis lost the pool, SQL is the record and the place is given back there alone.
    with contextlib.suppress(ClaimNotFound, PoolNotFound):
        get_engine().cancel(team.pool_id if team else deal.pool_id, place.claim_id)
    _bump(deal, team, -place.qty)
    record_audit(
        "groupbuy.left",
        "groupbuy",
        deal.id,
        merchant_id=deal.merchant_id,
        data={"member_id": member_id, "claim_id": place.claim_id},
    )
    db.session.commit()
    db.session.refresh(place)
    return place


def my_groupbuys(member_id: int, page: int, per_page: int) -> Page:
    stmt = (
        select(GroupBuyParticipant)
        .join(GroupBuy, GroupBuy.id == GroupBuyParticipant.groupbuy_id)
        .options(
            contains_eager(GroupBuyParticipant.groupbuy).joinedload(GroupBuy.merchant),
            joinedload(GroupBuyParticipant.team),
        )
        .where(GroupBuyParticipant.member_id == member_id)
        .order_by(GroupBuyParticipant.id.desc())
    )
    return paginate(stmt, page, per_page)


def vouchers_for(participant_ids) -> dict[int, GroupBuyVoucher]:
    if not participant_ids:
        return {}
    rows = db.session.execute(
        select(GroupBuyVoucher).where(GroupBuyVoucher.participant_id.in_(list(participant_ids)))
    ).scalars()
    return {v.participant_id: v for v in rows}


def my_teams(member_id: int, page: int, per_page: int) -> Page:
    mine = select(GroupBuyParticipant.team_id).where(GroupBuyParticipant.member_id == member_id)
    stmt = (
        select(GroupBuyTeam)
        .options(joinedload(GroupBuyTeam.groupbuy).joinedload(GroupBuy.merchant))
        .where(GroupBuyTeam.id.in_(mine))
        .order_by(GroupBuyTeam.id.desc())
    )
    return paginate(stmt, page, per_page)


def my_notices(member_id: int, limit: int = 20):
    from .models import GroupBuyNotice

    return list(
        db.session.execute(
            select(GroupBuyNotice)
            .options(joinedload(GroupBuyNotice.groupbuy))
            .where(GroupBuyNotice.member_id == member_id)
            .order_by(GroupBuyNotice.id.desc())
            .limit(limit)
        ).scalars()
    )
