"""Group-buy state machines and the deadline decisions.

Deal (tipping): open -> succeeded | failed | cancelled.   Deal (team): open -> closed | cancelled.
Team: forming -> succeeded | dissolved.   Participant: joined -> left | confirmed | released.

Every transition is one conditional UPDATE (``WHERE id = ? AND state = <from>``): the caller that
changes the row owns the side effects (vouchers, notices, engine cancels, audit), all in the same
transaction, so a decision that runs twice, late, or concurrently happens exactly once. Engine
calls made inside that transaction are idempotent (cancel/close), so a rolled-back attempt that
already touched Redis is completed by the next run.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from sqlalchemy import func, select, update

from inventory import ClaimNotFound, PoolNotFound
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.models import record_audit, utcnow
from marketplace.notices import notify_many
from marketplace.vouchercodes import new_voucher_code

from .engine import get_engine
from .models import (
    GroupBuy,
    GroupBuyNotice,
    GroupBuyParticipant,
    GroupBuyTeam,
    GroupBuyVoucher,
)

DEAL_TRANSITIONS = {
    "tipping": {"open": {"succeeded", "failed", "cancelled"}},
    "team": {"open": {"closed", "cancelled"}},
}
TEAM_TRANSITIONS = {"forming": {"succeeded", "dissolved"}}
PARTICIPANT_TRANSITIONS = {"joined": {"left", "confirmed", "released"}}


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "Illegal state transition"


def check(table: dict, current: str, target: str, what: str) -> None:
    if target not in table.get(current, ()):
        raise IllegalTransition(
            f"A {what} cannot go from {current} to {target}.", current=current, target=target
        )


def _move(model, row_id: int, current: str, target: str, **values) -> bool:
    """The conditional UPDATE; True only for the one caller whose UPDATE changed the row."""
    result = db.session.execute(
        update(model)
        .where(model.id == row_id, model.state == current)
        .values(state=target, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def move_deal(deal: GroupBuy, target: str, **values) -> bool:
    check(DEAL_TRANSITIONS[deal.mode], deal.state, target, "group-buy")
    return _move(GroupBuy, deal.id, "open", target, **values)


def move_team(team: GroupBuyTeam, target: str, **values) -> bool:
    check(TEAM_TRANSITIONS, team.state, target, "team")
    return _move(GroupBuyTeam, team.id, "forming", target, **values)


def move_participant(participant: GroupBuyParticipant, target: str, **values) -> bool:
    check(PARTICIPANT_TRANSITIONS, participant.state, target, "participation")
    return _move(GroupBuyParticipant, participant.id, "joined", target, **values)


def voucher_code() -> str:
    """The flash-sale format (16 Crockford base32 symbols), so clerks see one kind of code."""
    return new_voucher_code()


def _live(deal_id: int, team_id: int | None = None) -> list[GroupBuyParticipant]:
    stmt = select(GroupBuyParticipant).where(
        GroupBuyParticipant.groupbuy_id == deal_id, GroupBuyParticipant.state == "joined"
    )
    if team_id is not None:
        stmt = stmt.where(GroupBuyParticipant.team_id == team_id)
    return list(db.session.execute(stmt.order_by(GroupBuyParticipant.id)).scalars())


def _settle(deal: GroupBuy, people, *, won: bool, kind: str, team_id: int | None = None) -> int:
    """Confirm (with a voucher) or release each live participant and tell them; bulk inserts."""
    now = utcnow()
    ids = [p.id for p in people]
    if ids:
        db.session.execute(
            update(GroupBuyParticipant)
            .where(GroupBuyParticipant.id.in_(ids), GroupBuyParticipant.state == "joined")
            .values(state="confirmed" if won else "released")
            .execution_options(synchronize_session=False)
        )
    if won and people:
        db.session.execute(
            GroupBuyVoucher.__table__.insert(),
            [
                {
                    "participant_id": p.id,
                    "groupbuy_id": deal.id,
                    "member_id": p.member_id,
                    "code": voucher_code(),
                    "qty": p.qty,
                    "status": "issued",
                    "issued_at": now,
                    "valid_until": deal.voucher_valid_until,
                }
                for p in people
            ],
        )
    members = sorted({p.member_id for p in people})
    if members:
        db.session.execute(
            GroupBuyNotice.__table__.insert(),
            [
                {
                    "member_id": m,
                    "groupbuy_id": deal.id,
                    "team_id": team_id,
                    "kind": kind,
                    "created_at": now,
                }
                for m in members
            ],
        )
        # Also in the members' inbox, after this transaction commits (messaging/notices.py).
        notify_many(members, "groupbuy." + ("succeeded" if won else "failed"),
                    {"groupbuy_id": deal.id, "title": deal.title, "result": kind},
                    key=f"groupbuy:{deal.id}:{team_id or 0}:{kind}")  # fmt: skip
    return len(people)


def decide_deal(deal_id: int, now: datetime | None = None) -> str:
    """At (or after) the deadline: tipping deals succeed or fail, team deals close. Idempotent.

    Returns the deal's state afterwards; a deal decided before, or not yet due, is left alone.
    """
    now = now or utcnow()
    deal = db.session.get(GroupBuy, deal_id)
    if deal is None or deal.state != "open" or now < deal.deadline:
        state = deal.state if deal else "missing"
        db.session.rollback()
        return state
    if deal.mode == "team":
        target = "closed"
    else:
        joined = db.session.execute(
            select(func.coalesce(func.sum(GroupBuyParticipant.qty), 0)).where(
                GroupBuyParticipant.groupbuy_id == deal.id, GroupBuyParticipant.state == "joined"
            )
        ).scalar_one()
        target = "succeeded" if joined >= deal.min_participants else "failed"
    if not move_deal(deal, target, decided_at=now):
        db.session.rollback()
        return db.session.get(GroupBuy, deal_id).state
    people = _live(deal.id) if deal.mode == "tipping" else []
    count = _settle(deal, people, won=target == "succeeded", kind=f"deal_{target}")
    engine = get_engine()
    if engine.pool_exists(deal.pool_id):
        engine.close_pool(deal.pool_id)  # no join or leave after the decision
    record_audit(
        f"groupbuy.{target}",
        "groupbuy",
        deal.id,
        merchant_id=deal.merchant_id,
        data={"participants": count, "minimum": deal.min_participants},
    )
    db.session.commit()
    return target


def cancel_deal(deal: GroupBuy, actor) -> None:
    """The merchant calls a deal off while it is open: nobody gets a voucher, everyone is told."""
    if not move_deal(deal, "cancelled", decided_at=utcnow()):
        db.session.rollback()
        raise IllegalTransition(
            "The group-buy was decided meanwhile.", current="decided", target="cancelled"
        )
    engine = get_engine()
    people = _live(deal.id)
    _settle(deal, people, won=False, kind="deal_cancelled")
    forming = db.session.execute(
        select(GroupBuyTeam).where(
            GroupBuyTeam.groupbuy_id == deal.id, GroupBuyTeam.state == "forming"
        )
    ).scalars()
    for team in forming:
        move_team(team, "dissolved", decided_at=utcnow())
    if engine.pool_exists(deal.pool_id):
        engine.close_pool(deal.pool_id)
    record_audit(
        "groupbuy.cancelled",
        "groupbuy",
        deal.id,
        actor=actor,
        merchant_id=deal.merchant_id,
        data={"participants": len(people)},
    )
    db.session.commit()


def succeed_team(team_id: int, now: datetime | None = None) -> bool:
    """A full team succeeds at once: its members get vouchers. True if this call decided it."""
    now = now or utcnow()
    team = db.session.get(GroupBuyTeam, team_id)
    if team is None or team.state != "forming" or team.joined < team.size:
        db.session.rollback()
        return False
    if not move_team(team, "succeeded", decided_at=now):
        db.session.rollback()
        return False
    deal = db.session.get(GroupBuy, team.groupbuy_id)
    count = _settle(deal, _live(deal.id, team.id), won=True, kind="team_succeeded", team_id=team.id)
    record_audit(
        "groupbuy_team.succeeded",
        "groupbuy_team",
        team.id,
        merchant_id=deal.merchant_id,
        data={"groupbuy_id": deal.id, "members": count},
    )
    db.session.commit()
    return True


def expire_team(team_id: int, now: datetime | None = None) -> str:
    """At the end of a team's window: dissolve it (or succeed it if it filled). Idempotent."""
    now = now or utcnow()
    team = db.session.get(GroupBuyTeam, team_id)
    if team is None or team.state != "forming" or now < team.expires_at:
        state = team.state if team else "missing"
        db.session.rollback()
        return state
    if team.joined >= team.size:  # filled, but the success step was lost (a crash)
        db.session.rollback()
        succeed_team(team_id, now)
        return "succeeded"
    if not move_team(team, "dissolved", decided_at=now):
        db.session.rollback()
        return db.session.get(GroupBuyTeam, team_id).state
    deal = db.session.get(GroupBuy, team.groupbuy_id)
    people = _live(deal.id, team.id)
    _settle(deal, people, won=False, kind="team_dissolved", team_id=team.id)
    engine = get_engine()
    # If Redis lost a pool, SQL is the record: a rebuild (pools.py) counts these rows as gone.
    with contextlib.suppress(ClaimNotFound, PoolNotFound):
        for person in people:  # give the seats back (the team pool is closed by its window)
            engine.cancel(team.pool_id, person.claim_id)
    with contextlib.suppress(ClaimNotFound, PoolNotFound):
        engine.cancel(deal.pool_id, team.slot_claim_id)  # the slot returns to the deal's stock
    record_audit(
        "groupbuy_team.dissolved",
        "groupbuy_team",
        team.id,
        merchant_id=deal.merchant_id,
        data={"groupbuy_id": deal.id, "members": len(people)},
    )
    db.session.commit()
    return "dissolved"


def due(now: datetime | None = None, limit: int = 200) -> tuple[list[int], list[int]]:
    """Ids of open deals past their deadline and forming teams past their window."""
    now = now or utcnow()
    deals = db.session.execute(
        select(GroupBuy.id).where(GroupBuy.state == "open", GroupBuy.deadline <= now).limit(limit)
    ).scalars()
    teams = db.session.execute(
        select(GroupBuyTeam.id)
        .where(GroupBuyTeam.state == "forming", GroupBuyTeam.expires_at <= now)
        .limit(limit)
    ).scalars()
    return list(deals), list(teams)
