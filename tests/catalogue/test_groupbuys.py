"""Group-buy state machines: success, failure, leave, deadline job twice and late, team windows."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from catalogue import jobs, states
from catalogue.engine import get_engine
from catalogue.models import (
    GroupBuy,
    GroupBuyNotice,
    GroupBuyParticipant,
    GroupBuyTeam,
    GroupBuyVoucher,
)
from marketplace.extensions import db, get_queue
from marketplace.models import AuditEvent, utcnow
from tests.conftest import start_worker

from . import factories as f


def _deal(client, token, **kw):
    return f.create(client, "/api/v1/merchant/groupbuys", token, f.deal_body(**kw))


def _count(model, **where):
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.session.execute(stmt).scalar_one()


def _audits(action):
    return _count(AuditEvent, action=action)


def _after_deadline(deal_id, minutes=1):
    return db.session.get(GroupBuy, deal_id).deadline + timedelta(minutes=minutes)


def test_tipping_success_gives_every_participant_a_voucher(client, api, shop):
    _, owner, _ = shop
    deal = _deal(client, owner)
    members = [f.member() for _ in range(2)]
    for _, token, _ in members:
        resp = api.post(f"/api/v1/groupbuys/{deal['id']}/join", token)
        assert resp.status_code == 201, resp.get_json()
    detail = api.get(f"/api/v1/groupbuys/{deal['id']}", members[0][1]).get_json()
    assert detail["joined"] == 2 and detail["remaining"] == 1
    assert detail["my_place"]["state"] == "joined"

    assert states.decide_deal(deal["id"], now=_after_deadline(deal["id"])) == "succeeded"
    db.session.expire_all()
    assert db.session.get(GroupBuy, deal["id"]).state == "succeeded"
    assert _count(GroupBuyVoucher, groupbuy_id=deal["id"]) == 2
    assert _count(GroupBuyParticipant, state="confirmed") == 2
    assert _count(GroupBuyNotice, kind="deal_succeeded") == 2
    assert _audits("groupbuy.succeeded") == 1
    mine = api.get("/api/v1/groupbuys/mine", members[0][1]).get_json()
    code = mine["items"][0]["voucher"]["code"]
    assert len(code) == 16 and mine["items"][0]["state"] == "confirmed"
    # Redeemed at the counter by the deal's merchant, once.
    redeem = api.post("/api/v1/merchant/groupbuy-redemptions", shop[2], {"code": code.lower()})
    assert redeem.status_code == 200, redeem.get_json()
    assert redeem.get_json()["member_price_cents"] == 9900
    again = api.post("/api/v1/merchant/groupbuy-redemptions", owner, {"code": code})
    assert again.status_code == 409 and again.get_json()["code"] == "already_redeemed"
    _, other_owner, _ = f.merchant(name="别家")
    elsewhere = api.post("/api/v1/merchant/groupbuy-redemptions", other_owner, {"code": code})
    assert elsewhere.status_code == 404


def test_a_group_buy_voucher_about_to_expire_is_told_once(client, api, shop):
    """The messages feature's expiry job finds group-buy vouchers too (catalogue/notices.py):
    one "expires soon" notice for the member whose voucher ends within 3 days, none for the
    one whose voucher ends later or was redeemed, and a second run tells nobody again."""
    from messaging import jobs as message_jobs
    from messaging.models import Notice

    _, owner, clerk = shop
    deal = _deal(client, owner)
    members = [f.member() for _ in range(3)]
    for _, token, _ in members:
        assert api.post(f"/api/v1/groupbuys/{deal['id']}/join", token).status_code == 201
    assert states.decide_deal(deal["id"], now=_after_deadline(deal["id"])) == "succeeded"
    vouchers = db.session.scalars(select(GroupBuyVoucher).order_by(GroupBuyVoucher.id)).all()
    soon, later, used = vouchers
    soon.valid_until = utcnow() + timedelta(days=2)
    later.valid_until = utcnow() + timedelta(days=10)
    used.valid_until = utcnow() + timedelta(days=1)
    db.session.commit()
    redeemed = api.post("/api/v1/merchant/groupbuy-redemptions", clerk, {"code": used.code})
    assert redeemed.status_code == 200, redeemed.get_json()
    assert message_jobs.expiring_vouchers() >= 1
    message_jobs.expiring_vouchers()  # again: told once (the notice key)
    told = db.session.scalars(select(Notice).where(Notice.kind == "voucher.expiring")).all()
    assert [n.member_id for n in told] == [soon.member_id]


def test_tipping_failure_gives_no_voucher_and_tells_participants(client, api, shop):
    deal = _deal(client, shop[1], min_participants=3, max_participants=5)
    member_id, token, _ = f.member()
    assert api.post(f"/api/v1/groupbuys/{deal['id']}/join", token).status_code == 201
    assert states.decide_deal(deal["id"], now=_after_deadline(deal["id"])) == "failed"
    assert _count(GroupBuyVoucher) == 0
    assert _count(GroupBuyParticipant, state="released") == 1
    notices = db.session.execute(select(GroupBuyNotice)).scalars().all()
    assert [(n.member_id, n.kind) for n in notices] == [(member_id, "deal_failed")]
    # Joining after the decision is refused.
    late = api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1])
    assert late.status_code == 409 and late.get_json()["code"] == "closed"


def test_leave_before_deadline_gives_the_place_back_exactly_once(client, api, shop):
    deal = _deal(client, shop[1], max_participants=2)
    pool = f"gb-{deal['id']}"
    _, token, _ = f.member()
    assert api.post(f"/api/v1/groupbuys/{deal['id']}/join", token).status_code == 201
    assert get_engine().stats(pool).remaining == 1
    first = api.post(f"/api/v1/groupbuys/{deal['id']}/leave", token)
    assert first.status_code == 200 and first.get_json()["state"] == "left"
    second = api.post(f"/api/v1/groupbuys/{deal['id']}/leave", token)
    assert second.status_code == 409 and second.get_json()["code"] == "not_joined"
    assert get_engine().stats(pool).remaining == 2
    db.session.expire_all()
    assert db.session.get(GroupBuy, deal["id"]).joined == 0
    # The member may come back, and the place counts again.
    assert api.post(f"/api/v1/groupbuys/{deal['id']}/join", token).status_code == 201
    assert get_engine().stats(pool).remaining == 1
    assert _audits("groupbuy.left") == 1


def test_full_deal_and_per_member_limit(client, api, shop):
    deal = _deal(client, shop[1], min_participants=1, max_participants=1)
    _, first, _ = f.member()
    assert api.post(f"/api/v1/groupbuys/{deal['id']}/join", first).status_code == 201
    again = api.post(f"/api/v1/groupbuys/{deal['id']}/join", first)
    assert again.status_code == 409 and again.get_json()["code"] == "already_joined"
    full = api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1])
    assert full.status_code == 409 and full.get_json()["code"] == "groupbuy_full"


def test_same_idempotency_key_answers_with_the_same_place(client, api, shop):
    deal = _deal(client, shop[1])
    _, token, _ = f.member()
    key = {"Idempotency-Key": "join-abc-123"}
    one = api.post(f"/api/v1/groupbuys/{deal['id']}/join", token, headers=key)
    two = api.post(f"/api/v1/groupbuys/{deal['id']}/join", token, headers=key)
    assert one.status_code == two.status_code == 201
    assert one.get_json()["id"] == two.get_json()["id"]
    assert _count(GroupBuyParticipant) == 1


def test_deadline_job_twice_and_late_changes_nothing_more(client, api, shop):
    deal = _deal(client, shop[1])
    for _ in range(2):
        api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1])
    # Scheduled at creation for the deadline.
    registry = get_queue().scheduled_job_registry
    assert f"gb-decide-{deal['id']}" in registry.get_job_ids()
    # Too early: nothing happens.
    assert states.decide_deal(deal["id"]) == "open"
    # Late by a day, then again: one decision, one set of vouchers, one audit row.
    late = _after_deadline(deal["id"], minutes=24 * 60)
    assert states.decide_deal(deal["id"], now=late) == "succeeded"
    assert states.decide_deal(deal["id"], now=late) == "succeeded"
    assert _count(GroupBuyVoucher) == 2
    assert _count(GroupBuyNotice) == 2
    assert _audits("groupbuy.succeeded") == 1


def test_sweep_decides_what_its_own_job_missed(client, api, shop):
    deal = _deal(client, shop[1], min_participants=1)
    api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1])
    # The enqueue_at job was lost and the deadline has passed.
    get_queue().scheduled_job_registry.remove(f"gb-decide-{deal['id']}")
    db.session.execute(
        update(GroupBuy).values(
            opens_at=utcnow() - timedelta(hours=2), deadline=utcnow() - timedelta(minutes=5)
        )
    )
    db.session.commit()
    assert jobs.sweep()["deals"] == ["succeeded"]
    assert jobs.sweep() == {"teams": [], "deals": []}
    assert _count(GroupBuyVoucher) == 1


def _past_deadline(deal_id):
    db.session.execute(
        update(GroupBuy)
        .where(GroupBuy.id == deal_id)
        .values(opens_at=utcnow() - timedelta(hours=2), deadline=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_deadline_job_runs_in_a_real_worker_twice(app_config, client, api, shop):
    """Through RQ itself: serialised by dotted path, run twice by a `shihui worker` process."""
    deal = _deal(client, shop[1], min_participants=1)
    member_id, token, _ = f.member()
    api.post(f"/api/v1/groupbuys/{deal['id']}/join", token)
    _past_deadline(deal["id"])
    queue = get_queue()
    jobs_ = [queue.enqueue("catalogue.jobs.decide_groupbuy", deal["id"])
             for _ in range(2)]  # fmt: skip
    worker = start_worker(app_config, "--burst")
    try:
        assert worker.wait(120) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    # Both runs finished in the worker: the first decided, the second found it decided.
    for job in jobs_:
        job.refresh()
        assert job.get_status() == "finished", job.exc_info
        assert job.return_value() == "succeeded"
    db.session.rollback()  # see the worker's commits
    assert db.session.get(GroupBuy, deal["id"]).state == "succeeded"
    vouchers = db.session.scalars(select(GroupBuyVoucher)).all()
    assert len(vouchers) == 1 and _audits("groupbuy.succeeded") == 1
    assert vouchers[0].member_id == member_id
    assert _count(GroupBuyNotice) == 1


@pytest.mark.slow
def test_deadline_job_run_by_several_processes_at_once_decides_once(app_config, client, api, shop):
    import multiprocessing

    from .racers import decide_in_app

    deal = _deal(client, shop[1], min_participants=2)
    for _ in range(3):
        api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1])
    _past_deadline(deal["id"])
    ctx = multiprocessing.get_context("spawn")
    racers = 5
    barrier, out = ctx.Barrier(racers), ctx.Queue()
    procs = [ctx.Process(target=decide_in_app, args=(app_config, deal["id"], barrier, out))
             for _ in range(racers)]  # fmt: skip
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(30)
    assert [state for state, _, _ in results] == ["succeeded"] * racers, results
    # They ran at once: some decision began while another was still under way.
    windows = sorted((b, e) for _, b, e in results)
    assert any(b2 < e1 for (_, e1), (b2, _) in zip(windows, windows[1:], strict=False)), windows
    db.session.rollback()
    assert db.session.get(GroupBuy, deal["id"]).state == "succeeded"
    assert _count(GroupBuyVoucher) == 3
    assert _count(GroupBuyNotice) == 3
    assert _audits("groupbuy.succeeded") == 1


def _team_deal(client, token, **kw):
    body = {
        "mode": "team",
        "team_size": 3,
        "team_window_seconds": 3600,
        "min_participants": 1,
        "max_participants": 6,
    } | kw
    return _deal(client, token, **body)


def test_team_fills_and_succeeds_at_once(client, api, shop):
    deal = _team_deal(client, shop[1])
    leader = f.member()
    opened = api.post(f"/api/v1/groupbuys/{deal['id']}/join", leader[1])
    assert opened.status_code == 201, opened.get_json()
    team_id = opened.get_json()["team_id"]
    assert f"gb-team-{team_id}" in get_queue().scheduled_job_registry.get_job_ids()
    for _ in range(2):
        resp = api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1], {"team_id": team_id})
        assert resp.status_code == 201, resp.get_json()
    assert db.session.get(GroupBuyTeam, team_id).state == "succeeded"
    assert _count(GroupBuyVoucher) == 3
    full = api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1], {"team_id": team_id})
    assert full.status_code == 409 and full.get_json()["code"] == "team_closed"
    teams = api.get("/api/v1/groupbuys/teams/mine", leader[1]).get_json()
    assert teams["items"][0]["state"] == "succeeded"
    # The window job arriving later changes nothing.
    team = db.session.get(GroupBuyTeam, team_id)
    assert states.expire_team(team_id, now=team.expires_at + timedelta(hours=1)) == "succeeded"
    assert _count(GroupBuyVoucher) == 3


def test_team_window_expiry_dissolves_and_returns_the_slot(client, api, shop):
    deal = _team_deal(client, shop[1], max_participants=3)  # stock for exactly one team
    pool = f"gb-{deal['id']}"
    leader = f.member()
    team_id = api.post(f"/api/v1/groupbuys/{deal['id']}/join", leader[1]).get_json()["team_id"]
    api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1], {"team_id": team_id})
    assert get_engine().stats(pool).remaining == 0
    blocked = api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1])  # a second team
    assert blocked.status_code == 409 and blocked.get_json()["code"] == "groupbuy_full"

    team = db.session.get(GroupBuyTeam, team_id)
    assert states.expire_team(team_id, now=team.expires_at - timedelta(seconds=1)) == "forming"
    assert states.expire_team(team_id, now=team.expires_at + timedelta(seconds=1)) == "dissolved"
    assert states.expire_team(team_id, now=team.expires_at + timedelta(hours=1)) == "dissolved"
    assert get_engine().stats(pool).remaining == 1  # the slot is back for a new team
    assert _count(GroupBuyVoucher) == 0
    assert _count(GroupBuyNotice, kind="team_dissolved") == 2
    assert _count(GroupBuyParticipant, state="released") == 2
    assert _audits("groupbuy_team.dissolved") == 1
    reopened = api.post(f"/api/v1/groupbuys/{deal['id']}/join", f.member()[1])
    assert reopened.status_code == 201


def test_illegal_transitions_are_refused(client, shop):
    deal = _deal(client, shop[1])
    row = db.session.get(GroupBuy, deal["id"])
    with pytest.raises(states.IllegalTransition):
        states.move_deal(row, "closed")  # team deals close; tipping deals succeed or fail
    states.cancel_deal(row, None)
    db.session.expire_all()
    row = db.session.get(GroupBuy, deal["id"])
    assert row.state == "cancelled"
    with pytest.raises(states.IllegalTransition):
        states.move_deal(row, "succeeded")
