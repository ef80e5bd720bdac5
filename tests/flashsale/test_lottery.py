"""Lottery sales: registration window and eligibility, a draw anyone can recompute, winners'
vouchers through the engine and the outbox into SQL (audited), the waiting list on a
cancellation, the CLI, abuse and authorization."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest

from flashsale.audit import run_audit
from flashsale.models import Campaign, LotteryEntry, Voucher
from marketplace.extensions import db
from marketplace.models import utcnow
from tests.authz import outcome

from .factories import bearer, create_sale, make_members, make_merchant
from .lotterykit import CAMPAIGNS, lottery_sale, problem, register, wait_closed


def recompute(seed, beacon, tickets, stock):
    """The recipe of docs/flashsale.md, written again here from the standard library."""
    listed = sorted(tickets)
    digest = hashlib.sha256("\n".join(listed).encode()).hexdigest()
    key = hashlib.sha256(f"{seed}:{beacon}:{digest}".encode()).digest()
    order = sorted(listed, key=lambda t: hmac.new(key, t.encode(), hashlib.sha256).digest())
    return digest, order[:stock], order[stock:]


def test_lottery_end_to_end_is_verifiable_and_audited(app_ctx, client, drain, runner):
    _, owner = make_merchant()
    members = make_members(12)
    sale = lottery_sale(client, owner, total_stock=4)
    published = client.get(f"/api/v1/flashsales/{sale}/draw", headers=bearer(members[0][1]))
    record = published.get_json()
    assert record["drawn"] is False and record["seed"] is None and len(record["commitment"]) == 64
    assert record["beacon_round_time"] > db.session.get(Campaign, sale).ends_at.timestamp()
    tickets = {}
    for member_id, token in members[:10]:
        first = register(client, sale, token)
        assert first.status_code == 201
        again = register(client, sale, token)  # idempotent: the same entry
        assert again.status_code == 200 and again.get_json()["ticket"] == first.get_json()["ticket"]
        tickets[member_id] = first.get_json()["ticket"]
    problem(client.post(f"/api/v1/flashsales/{sale}/claims",
                        headers={**bearer(members[0][1]), "Idempotency-Key": "lottery-claim"}),
            409, "lottery_sale")  # fmt: skip
    problem(client.post(f"{CAMPAIGNS}/{sale}/draw", headers=bearer(owner)), 409, "draw_too_early")
    wait_closed(sale)
    problem(register(client, sale, members[10][1]), 409, "registration_closed")
    drawn = client.post(f"{CAMPAIGNS}/{sale}/draw", headers=bearer(owner))
    assert drawn.status_code == 200, drawn.get_json()
    body = drawn.get_json()
    assert (body["entrants"], body["winners"]) == (10, 4)
    # Drawing twice changes nothing.
    problem(client.post(f"{CAMPAIGNS}/{sale}/draw", headers=bearer(owner)), 409, "already_drawn")
    assert client.post(f"{CAMPAIGNS}/{sale}/draw", headers=bearer(owner)).status_code == 409

    # Independent recomputation from what is public.
    public = client.get(f"/api/v1/flashsales/{sale}/draw", headers=bearer(members[0][1]))
    public = public.get_json()
    assert hashlib.sha256(bytes.fromhex(public["seed"])).hexdigest() == record["commitment"]
    listed = client.get(f"/api/v1/flashsales/{sale}/draw/entrants",
                        headers=bearer(members[0][1])).get_data(as_text=True).split()  # fmt: skip
    assert sorted(listed) == sorted(tickets.values())  # each member finds their own ticket
    digest, winners, waiting = recompute(public["seed"], public["beacon_value"], listed, 4)
    assert digest == public["entrants_hash"]
    for member_id, token in members[:10]:
        entry = client.get(f"/api/v1/flashsales/{sale}/entries/me", headers=bearer(token))
        entry = entry.get_json()
        expected = "won" if tickets[member_id] in winners else "waiting"
        assert entry["state"] == expected, (entry, member_id)
    result = runner.invoke(args=["draw", "verify", str(sale)])
    assert result.exit_code == 0 and result.output.startswith("OK"), result.output

    # Winners' vouchers went engine -> outbox -> SQL, and the audit agrees.
    drain()
    db.session.rollback()
    query = db.select(Voucher.member_id).where(Voucher.campaign_id == sale)
    owners = set(db.session.scalars(query))
    winner_ids = {m for m, t in tickets.items() if t in winners}
    assert owners == winner_ids
    assert run_audit(sale).ok

    # A winner gives the ticket back: the first on the waiting list gets it.
    loser_first = next(m for m, t in tickets.items() if t == waiting[0])
    giver = next(m for m in winner_ids)
    giver_token = dict(members)[giver]
    code = db.session.scalar(db.select(Voucher.code).where(Voucher.member_id == giver))
    resp = client.post(f"/api/v1/me/vouchers/{code}/cancel", headers=bearer(giver_token))
    assert resp.status_code == 200, resp.get_json()
    drain()
    db.session.rollback()
    live = set(db.session.scalars(db.select(Voucher.member_id).where(
        Voucher.campaign_id == sale, Voucher.status == "issued")))  # fmt: skip
    assert live == (winner_ids - {giver}) | {loser_first}
    entry = client.get(f"/api/v1/flashsales/{sale}/entries/me",
                       headers=bearer(dict(members)[loser_first])).get_json()  # fmt: skip
    assert entry["state"] == "won"
    assert run_audit(sale).ok
    # The verifier still agrees (the first draw's winners are what it recomputes).
    assert runner.invoke(args=["draw", "verify", str(sale)]).exit_code == 0


def test_registration_rules(app_ctx, client):
    _, owner = make_merchant()
    ((_, member),) = make_members(1)
    ((_, inactive),) = make_members(1, start=1, active=False)
    ((_, elsewhere),) = make_members(1, start=2, region="110101")
    plain = create_sale(client, owner)
    problem(register(client, plain, member), 409, "not_lottery_sale")
    problem(register(client, 999_999, member), 404, "not_found")
    later = lottery_sale(client, owner, closes_in=7200,
                         starts_at=(utcnow() + timedelta(hours=1)).isoformat())  # fmt: skip
    problem(register(client, later, member), 409, "registration_not_open")
    sale = lottery_sale(client, owner, closes_in=600, regions=["310101"])
    problem(register(client, sale, inactive), 403, "card_inactive")
    problem(register(client, sale, elsewhere), 403, "not_eligible")
    problem(client.get(f"/api/v1/flashsales/{sale}/entries/me", headers=bearer(member)), 404,
            "not_registered")  # fmt: skip
    assert db.session.scalar(db.select(db.func.count()).select_from(LotteryEntry)) == 0
    # A published lottery keeps its window (its beacon round is named after it).
    resp = client.patch(f"{CAMPAIGNS}/{sale}", json={"ends_at": utcnow().isoformat()},
                        headers=bearer(owner))  # fmt: skip
    problem(resp, 409, "not_editable")


def test_a_tampered_record_fails_verification(app_ctx, client, runner):
    from flashsale.models import LotteryDraw

    _, owner = make_merchant()
    members = make_members(5)
    sale = lottery_sale(client, owner, total_stock=2)
    for _, token in members:
        register(client, sale, token)
    wait_closed(sale)
    assert runner.invoke(args=["draw", "run", str(sale)]).exit_code == 0
    assert runner.invoke(args=["draw", "run", str(sale)]).exit_code != 0  # already drawn
    entries = db.session.scalars(db.select(LotteryEntry).order_by(LotteryEntry.position)).all()
    first, last = entries[0], entries[-1]
    first.position, last.position = last.position, first.position  # swap two places
    db.session.commit()
    bad = runner.invoke(args=["draw", "verify", str(sale)])
    assert bad.exit_code == 1 and "not at their recomputed place" in bad.output
    first.position, last.position = last.position, first.position
    draw = db.session.get(LotteryDraw, sale)
    draw.seed = "00" * 32  # a seed other than the committed one
    db.session.commit()
    bad = runner.invoke(args=["draw", "verify", str(sale)])
    assert bad.exit_code == 1 and "commitment" in bad.output


def test_offline_beacon_value_is_recorded(app_ctx, client, runner):
    _, owner = make_merchant()
    ((_, member),) = make_members(1)
    sale = lottery_sale(client, owner, total_stock=1)
    register(client, sale, member)
    wait_closed(sale)
    bad = runner.invoke(args=["draw", "run", str(sale), "--beacon-value", "not-hex"])
    assert bad.exit_code != 0
    value = "ab" * 32
    assert runner.invoke(args=["draw", "run", str(sale), "--beacon-value", value]).exit_code == 0
    record = client.get(f"/api/v1/flashsales/{sale}/draw", headers=bearer(member)).get_json()
    assert record["beacon_value"] == value


def test_authorization_of_the_lottery_routes(app_ctx, client):
    from marketplace.auth.services import create_account

    from .factories import token_for

    _, owner, clerk = make_merchant(clerk="clerk1")
    _, other = make_merchant(name="别家", username="owner2")
    ((_, member),) = make_members(1)
    admin = token_for(create_account("boss", "admin-pass-1", "admin"))
    sale = lottery_sale(client, owner, closes_in=3600)
    tokens = {"member": member, "owner": owner, "clerk": clerk, "other": other, "admin": admin}
    routes = [
        ("post", f"/api/v1/flashsales/{sale}/entries", "lottery.enter", 201, "none"),
        ("get", f"/api/v1/flashsales/{sale}/entries/me", "lottery.enter", 200, "none"),
        ("get", f"/api/v1/flashsales/{sale}/draw", "sale.browse", 200, "none"),
        ("get", f"/api/v1/flashsales/{sale}/draw/entrants", "sale.browse", 200, "none"),
        ("get", f"{CAMPAIGNS}/{sale}/draw", "sale.view", 200, "theirs"),
        # Allowed callers get 409 draw_too_early: registration is still open.
        ("post", f"{CAMPAIGNS}/{sale}/draw", "sale.draw", 409, "theirs"),
    ]
    for method, url, action, ok, target in routes:
        call = getattr(client, method)
        assert call(url).status_code == 401, url
        for persona, token in tokens.items():
            resp = call(url, headers=bearer(token))
            want = outcome(action, persona, target=target, ok=ok)
            assert resp.status_code == want, (url, persona, resp.get_json())


@pytest.mark.parametrize("field", ["per_member_limit"])
def test_a_lottery_gives_one_ticket_per_member(app_ctx, client, field):
    _, owner = make_merchant()
    now = utcnow()
    resp = client.post(CAMPAIGNS, json={
        "title": "抽签", "category": "movie", "total_stock": 5, "per_member_limit": 2,
        "mode": "lottery", "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(), "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(days=2)).isoformat(),
    }, headers=bearer(owner))  # fmt: skip
    problem(resp, 422, "validation_error")
    assert field in str(resp.get_json()["errors"])


def test_racing_registrations_and_draws_over_http(app_ctx, client, live_server):
    """Over real HTTP (gunicorn, threads): one member registering 8 times at once gets one
    entry; 6 draws at once: one runs, the others answer 409 already_drawn."""
    import http.client
    import threading
    from urllib.parse import urlparse

    _, owner = make_merchant()
    members = make_members(6)
    sale = lottery_sale(client, owner, total_stock=2)
    url = urlparse(live_server)

    def post(path, token, out):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        conn.request("POST", path, headers=bearer(token))
        resp = conn.getresponse()
        out.append((resp.status, resp.read()))
        conn.close()

    def race(path, token, n):
        out, barrier = [], threading.Barrier(n)

        def run():
            barrier.wait()
            post(path, token, out)

        threads = [threading.Thread(target=run) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return out

    answers = race(f"/api/v1/flashsales/{sale}/entries", members[0][1], 8)
    assert sorted(s for s, _ in answers) == [200] * 7 + [201], answers
    for _, token in members[1:]:
        register(client, sale, token)
    db.session.rollback()
    count = db.select(db.func.count()).select_from(LotteryEntry)
    assert db.session.scalar(count.where(LotteryEntry.member_id == members[0][0])) == 1
    wait_closed(sale)
    answers = race(f"{CAMPAIGNS}/{sale}/draw", owner, 6)
    assert sorted(s for s, _ in answers) == [200] + [409] * 5, answers
    assert all(b"already_drawn" in body for s, body in answers if s == 409)
    db.session.rollback()
    won = db.select(db.func.count()).select_from(LotteryEntry).where(LotteryEntry.outcome == "won")
    assert db.session.scalar(won) == 2
