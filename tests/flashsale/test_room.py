"""Sale modes and the waiting room over the API: modes on create/patch, joining, places, the
admission rule, passes on the claim endpoint, rate changes, sold out, authorization."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from flashsale import room
from marketplace import permissions
from marketplace.extensions import get_redis
from marketplace.models import utcnow
from tests.authz import ROLE_OF, outcome

from .factories import bearer, create_sale, make_members, make_merchant, sale_body
from .roomkit import claim, join, me, queue_sale, start_room_now, wait_until_started

CAMPAIGNS = "/api/v1/merchant/campaigns"


def problem(resp, status, code):
    assert resp.status_code == status, resp.get_json()
    assert resp.content_type.startswith("application/problem+json"), resp.content_type
    assert resp.get_json()["code"] == code, resp.get_json()


# -- modes ------------------------------------------------------------------------------------


def test_mode_defaults_to_first_come_and_is_shown_to_members(app_ctx, client):
    _, owner = make_merchant()
    ((_, member),) = make_members(1)
    plain = create_sale(client, owner)
    queued = queue_sale(client, owner)
    assert client.get(f"/api/v1/flashsales/{plain}", headers=bearer(member)).get_json()["mode"] \
        == "first_come"  # fmt: skip
    body = client.get(f"/api/v1/flashsales/{queued}", headers=bearer(member)).get_json()
    assert body["mode"] == "queue"
    # Default opening of the room: 15 minutes before the start.
    starts = body["starts_at"]
    from datetime import datetime

    opens = datetime.fromisoformat(body["queue_opens_at"])
    assert datetime.fromisoformat(starts) - opens == timedelta(minutes=15)
    listed = client.get("/api/v1/flashsales", headers=bearer(member)).get_json()["items"]
    assert {s["id"]: s["mode"] for s in listed} == {plain: "first_come", queued: "queue"}


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"mode": "auction"}, "mode"),
        ({"mode": "queue", "per_member_limit": 2}, "per_member_limit"),
        ({"mode": "queue", "admission_rate": 0}, "admission_rate"),
        ({"mode": "queue", "over_admission": 0.5}, "over_admission"),
    ],
)
def test_bad_modes_are_422_and_create_nothing(app_ctx, client, overrides, field):
    _, owner = make_merchant()
    resp = client.post(CAMPAIGNS, json=sale_body(**overrides), headers=bearer(owner))
    problem(resp, 422, "validation_error")
    assert field in str(resp.get_json()["errors"]), resp.get_json()
    assert client.get(CAMPAIGNS, headers=bearer(owner)).get_json()["items"] == []


def test_room_opening_after_the_start_is_refused(app_ctx, client):
    _, owner = make_merchant()
    now = utcnow()
    body = sale_body(mode="queue", starts_at=(now + timedelta(hours=1)).isoformat(),
                     queue_opens_at=(now + timedelta(hours=2)).isoformat())  # fmt: skip
    resp = client.post(CAMPAIGNS, json=body, headers=bearer(owner))
    problem(resp, 422, "validation_error")


def test_mode_can_change_on_a_draft_but_not_once_published(app_ctx, client):
    _, owner = make_merchant()
    sale = create_sale(client, owner, publish=False)
    url = f"{CAMPAIGNS}/{sale}"
    resp = client.patch(url, json={"mode": "queue"}, headers=bearer(owner))
    assert resp.status_code == 200 and resp.get_json()["mode"] == "queue"
    future = (utcnow() + timedelta(minutes=30)).isoformat()
    assert client.patch(url, json={"starts_at": future}, headers=bearer(owner)).status_code == 200
    assert client.post(f"{url}/publish", headers=bearer(owner)).status_code == 200
    resp = client.patch(url, json={"mode": "first_come"}, headers=bearer(owner))
    problem(resp, 409, "mode_locked")
    assert resp.get_json()["fields"] == ["mode"]
    assert client.get(url, headers=bearer(owner)).get_json()["mode"] == "queue"
    # Sending the same mode is not a change.
    same = client.patch(url, json={"mode": "queue"}, headers=bearer(owner))
    assert same.status_code == 200, same.get_json()


def test_mode_is_locked_on_a_live_sale_with_its_own_code(app_ctx, client):
    _, owner = make_merchant()
    sale = create_sale(client, owner)  # live, first come
    resp = client.patch(f"{CAMPAIGNS}/{sale}", json={"mode": "queue"}, headers=bearer(owner))
    problem(resp, 409, "mode_locked")


# -- joining ----------------------------------------------------------------------------------


def test_joining_a_first_come_sale_or_an_unknown_one_is_refused(app_ctx, client):
    _, owner = make_merchant()
    ((_, member),) = make_members(1)
    plain = create_sale(client, owner)
    problem(join(client, plain, member), 409, "not_queue_sale")
    problem(me(client, plain, member), 404, "not_queue_sale")
    problem(join(client, 999_999, member), 404, "not_found")
    draft = create_sale(client, owner, publish=False, mode="queue")
    problem(join(client, draft, member), 404, "not_found")


def test_joining_before_the_room_opens_is_refused(app_ctx, client):
    _, owner = make_merchant()
    ((_, member),) = make_members(1)
    sale = queue_sale(client, owner, starts_in=3600)  # room opens 15 minutes before the start
    client.patch(f"{CAMPAIGNS}/{sale}", json={"queue_opens_at": None}, headers=bearer(owner))
    problem(join(client, sale, member), 409, "queue_not_open")
    assert me(client, sale, member).get_json()["state"] == "not_joined"


def test_joining_follows_the_claim_eligibility(app_ctx, client):
    _, owner = make_merchant()
    ((_, inactive),) = make_members(1, active=False)
    ((_, elsewhere),) = make_members(1, start=1, region="110101")
    sale = queue_sale(client, owner, regions=["310101"])
    problem(join(client, sale, inactive), 403, "card_inactive")
    problem(join(client, sale, elsewhere), 403, "not_eligible")
    assert me(client, sale, elsewhere).get_json()["state"] == "not_joined"


def test_early_joiners_get_random_places_at_the_start_late_ones_line_up(app_ctx, client):
    _, owner = make_merchant()
    members = make_members(8)
    sale = queue_sale(client, owner, starts_in=3600, admission_rate=0.1, total_stock=1000)
    for _, token in members[:6]:
        body = join(client, sale, token).get_json()
        assert body["state"] == "waiting" and body["place"] is None  # drawn at the start
        assert body["poll_after_seconds"] >= 1
    again = join(client, sale, members[0][1]).get_json()
    assert again["queued"] == 6  # idempotent: no second entry
    start_room_now(sale)
    places = {m: wait_until_started(client, sale, t)["place"] for m, t in members[:6]}
    assert sorted(places.values()) == [1, 2, 3, 4, 5, 6]
    # Joining after the start: behind everyone who came before, in arrival order.
    late = [join(client, sale, t).get_json()["place"] for _, t in members[6:]]
    assert late == [7, 8]
    # Nothing a member does moves them: re-join, poll, poll from "another session".
    for member_id, token in members[:6]:
        for _ in range(3):
            assert join(client, sale, token).get_json()["place"] == places[member_id]
            assert me(client, sale, token).get_json()["place"] == places[member_id]


def test_status_is_honest_about_the_wait(app_ctx, client):
    _, owner = make_merchant()
    members = make_members(5)
    sale = queue_sale(client, owner, admission_rate=0.5, total_stock=100)
    bodies = [join(client, sale, t).get_json() for _, t in members]
    last = me(client, sale, members[-1][1]).get_json()
    assert last["state"] == "waiting", bodies
    assert last["ahead"] == last["place"] - last["admitted"] - 1 >= 1
    # At 0.5 admissions a second, someone n places away waits about 2n seconds.
    assert last["estimated_wait_seconds"] == 2 * (last["place"] - last["admitted"])
    assert last["likely_sold_out"] is False
    assert 1 <= last["poll_after_seconds"] <= 30
    assert last["pass"] is None


# -- admission, passes and claims ---------------------------------------------------------------


def admitted_pass(client, sale, token, timeout=10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        body = me(client, sale, token).get_json()
        if body["state"] == "admitted":
            assert body["pass"] and body["pass_expires_at_ms"] > body["server_time_ms"]
            return body["pass"]
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_admission_never_exceeds_unclaimed_stock_times_the_factor(app_ctx, client):
    _, owner = make_merchant()
    members = make_members(30)
    sale = queue_sale(client, owner, total_stock=5, admission_rate=1000, over_admission=1.2)
    for _, token in members:
        join(client, sale, token)
    time.sleep(0.05)
    states = [me(client, sale, t).get_json() for _, t in members]
    admitted = [s for s in states if s["state"] == "admitted"]
    assert len(admitted) == 6  # floor(5 x 1.2)
    assert all(s["state"] == "waiting" for s in states if s["place"] > 6)
    # A claim frees room: stock 4 -> cap 4.8 -> 4 live passes besides the used one.
    winner = next((m, t) for (m, t), s in zip(members, states, strict=True) if s["place"] == 1)
    first = admitted_pass(client, sale, winner[1])
    assert claim(client, sale, winner[1], first).status_code == 201
    time.sleep(0.02)
    states = [me(client, sale, t).get_json() for _, t in members]
    by_state = {}
    for s in states:
        by_state[s["state"]] = by_state.get(s["state"], 0) + 1
    assert by_state == {"claimed": 1, "admitted": 5, "waiting": 24}, by_state


def test_the_claim_of_a_queue_sale_needs_a_valid_pass(app_ctx, client):
    _, owner = make_merchant()
    (a_id, a), (b_id, b) = make_members(2)
    sale = queue_sale(client, owner, total_stock=10, admission_rate=1000)
    other = queue_sale(client, owner, total_stock=10, admission_rate=1000)
    for s in (sale, other):
        join(client, s, a)
        join(client, s, b)
    pass_a = admitted_pass(client, sale, a)
    pass_a_other = admitted_pass(client, other, a)
    problem(claim(client, sale, a), 403, "pass_required")
    problem(claim(client, sale, a, "not-a-pass"), 403, "pass_invalid")
    forged = pass_a.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    problem(claim(client, sale, a, forged), 403, "pass_invalid")
    problem(claim(client, sale, b, pass_a), 403, "pass_invalid")  # another member's pass
    problem(claim(client, sale, a, pass_a_other), 403, "pass_invalid")  # another sale's pass
    place = int(pass_a.split(".")[2])
    expired = room.issue_pass(sale, a_id, place, int(time.time() * 1000) - 1)
    problem(claim(client, sale, a, expired), 403, "pass_expired")
    # Nothing above changed the stock.
    assert me(client, sale, a).get_json()["remaining"] == 10
    won = claim(client, sale, a, pass_a)
    assert won.status_code == 201
    # The same pass again, with any Idempotency-Key: the same claim, not a second ticket.
    again = claim(client, sale, a, pass_a)
    assert again.status_code == 201
    assert again.get_json()["claim_id"] == won.get_json()["claim_id"]
    assert again.get_json()["voucher"]["code"] == won.get_json()["voucher"]["code"]
    body = me(client, sale, a).get_json()
    assert body["state"] == "claimed" and body["remaining"] == 9
    assert b_id != a_id


def test_queue_claims_reach_sql_and_pass_the_audit(app_ctx, client, drain):
    from flashsale.audit import run_audit
    from flashsale.models import Voucher
    from marketplace.extensions import db

    _, owner = make_merchant()
    members = make_members(6)
    sale = queue_sale(client, owner, total_stock=4, admission_rate=1000)
    for _, token in members:
        join(client, sale, token)
    codes = set()
    for _, token in members:
        body = me(client, sale, token).get_json()
        if body["state"] == "admitted":
            resp = claim(client, sale, token, body["pass"])
            if resp.status_code == 201:
                codes.add(resp.get_json()["voucher"]["code"])
    # Keep polling: the freed places are let in until the stock is gone.
    for _ in range(5):
        for _, token in members:
            body = me(client, sale, token).get_json()
            if body["state"] == "admitted":
                resp = claim(client, sale, token, body["pass"])
                if resp.status_code == 201:
                    codes.add(resp.get_json()["voucher"]["code"])
    assert len(codes) == 4
    states = {me(client, sale, t).get_json()["state"] for _, t in members}
    assert states == {"claimed", "sold_out"}  # the rest learn it on their next poll
    drain()
    db.session.rollback()
    stored = set(db.session.scalars(db.select(Voucher.code).where(Voucher.campaign_id == sale)))
    assert stored == codes
    assert run_audit(sale).ok


def test_rate_limits_admissions_and_changes_while_live(app_ctx, client):
    _, owner = make_merchant()
    members = make_members(40)
    sale = queue_sale(client, owner, total_stock=1000, admission_rate=0.1)
    for _, token in members:
        join(client, sale, token)
    time.sleep(0.3)
    admitted = me(client, sale, members[0][1]).get_json()["admitted"]
    assert admitted <= 1  # 0.1 a second: at most the one-second burst allowance
    resp = client.post(f"{CAMPAIGNS}/{sale}/queue/rate", json={"admission_rate": 20},
                       headers=bearer(owner))  # fmt: skip
    assert resp.status_code == 200 and resp.get_json() == {"admission_rate": 20.0}
    t0 = time.monotonic()
    time.sleep(1.0)
    after = me(client, sale, members[0][1]).get_json()["admitted"]
    elapsed = time.monotonic() - t0
    assert after - admitted >= 10  # about 20 a second from the change on
    assert after - admitted <= 20 * elapsed + 20 + 1  # never faster than the rate (+ burst)
    campaign = client.get(f"{CAMPAIGNS}/{sale}", headers=bearer(owner)).get_json()
    assert campaign["admission_rate"] == 20.0


def test_rate_changes_are_refused_where_there_is_no_room(app_ctx, client):
    _, owner = make_merchant()
    _, other_owner = make_merchant(name="别家", username="owner2")
    plain = create_sale(client, owner)
    queued = queue_sale(client, owner)
    url = f"{CAMPAIGNS}/{{}}/queue/rate"
    ok = {"admission_rate": 5}
    problem(client.post(url.format(plain), json=ok, headers=bearer(owner)), 409, "not_queue_sale")
    problem(client.post(url.format(queued), json={"admission_rate": 0}, headers=bearer(owner)),
            422, "validation_error")  # fmt: skip
    problem(client.post(url.format(queued), json=ok, headers=bearer(other_owner)), 404,
            "not_found")  # fmt: skip
    client.post(f"{CAMPAIGNS}/{queued}/cancel", headers=bearer(owner))
    problem(client.post(url.format(queued), json=ok, headers=bearer(owner)), 409, "not_editable")


def test_rate_from_the_cli(app_ctx, client, runner):
    _, owner = make_merchant()
    sale = queue_sale(client, owner, admission_rate=1)
    result = runner.invoke(args=["flashsale", "queue-rate", str(sale), "7.5"])
    assert result.exit_code == 0, result.output
    assert "7.5" in result.output
    raw = get_redis().hget(room.room_keys(sale)[0], "rate")
    assert float(raw) == 7.5
    bad = runner.invoke(args=["flashsale", "queue-rate", str(sale + 1000), "2"])
    assert bad.exit_code != 0


def test_a_cancelled_sale_closes_the_room(app_ctx, client):
    _, owner = make_merchant()
    ((_, member),) = make_members(1)
    sale = queue_sale(client, owner)
    join(client, sale, member)
    client.post(f"{CAMPAIGNS}/{sale}/cancel", headers=bearer(owner))
    assert me(client, sale, member).get_json()["state"] == "closed"
    ((_, late),) = make_members(1, start=5)
    problem(join(client, sale, late), 409, "queue_closed")


def test_a_lapsed_admission_frees_the_place_for_the_next(app_ctx, client):
    """A pass that is never used lapses after its 60 s; the room then lets the next one in."""
    _, owner = make_merchant()
    members = make_members(3)
    sale = queue_sale(client, owner, total_stock=1, admission_rate=1000, over_admission=1.0)
    for _, token in members:
        join(client, sale, token)
    states = [me(client, sale, t).get_json() for _, t in members]
    assert sorted(s["state"] for s in states) == ["admitted", "waiting", "waiting"]
    # Let the admission lapse without waiting a minute: move its deadline into the past.
    keys = room.room_keys(sale)
    r = get_redis()
    ((entry, score),) = r.zrange(keys[3], 0, -1, withscores=True)
    r.zrem(keys[3], entry)
    r.zadd(keys[3], {f"{int(score)}:1": score})
    states = [me(client, sale, t).get_json() for _, t in members]
    assert sorted(s["state"] for s in states) == ["admitted", "expired", "waiting"]


# -- authorization ------------------------------------------------------------------------------


def test_authorization_of_the_room_routes(app_ctx, client):
    from marketplace.auth.services import create_account

    from .factories import token_for

    _, owner, clerk = make_merchant(clerk="clerk1")
    _, other = make_merchant(name="别家", username="owner2")
    ((_, member),) = make_members(1)
    admin = token_for(create_account("boss", "admin-pass-1", "admin"))
    sale = queue_sale(client, owner)
    tokens = {"member": member, "owner": owner, "clerk": clerk, "other": other, "admin": admin}
    routes = [
        ("post", f"/api/v1/flashsales/{sale}/queue", "queue.join", {}),
        ("get", f"/api/v1/flashsales/{sale}/queue/me", "queue.join", None),
        ("post", f"{CAMPAIGNS}/{sale}/queue/rate", "sale.queue_rate", {"admission_rate": 3}),
    ]
    for method, url, action, body in routes:
        call = getattr(client, method)
        kwargs = {"json": body} if body is not None else {}
        assert call(url, **kwargs).status_code == 401
        assert call(url, headers={"Authorization": "Bearer forged"}, **kwargs).status_code == 401
        for persona, token in tokens.items():
            resp = call(url, headers=bearer(token), **kwargs)
            want = outcome(action, persona, target="theirs")
            assert resp.status_code == want, (url, persona, resp.get_json())
            assert permissions.allows(ROLE_OF[persona], action) == (want not in (403,)) or \
                want == 404  # fmt: skip
