"""After a lottery's draw: winners confirm in time or their ticket passes on; the merchant marks
an unused voucher in time and it passes on; the next on the waiting list is told; problem codes,
authorization, a race of confirmations against expiry jobs, and the audit after hand-ons."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from datetime import timedelta

from flashsale import handon
from flashsale.audit import run_audit
from flashsale.hotpath import get_engine
from flashsale.jobs import lottery_hand_ons
from flashsale.models import Campaign, LotteryEntry, Voucher
from marketplace.auth.services import create_account
from marketplace.extensions import db
from marketplace.models import utcnow
from messaging.models import Notice
from tests.authz import outcome

from .factories import bearer, create_sale, make_members, make_merchant, token_for
from .lotterykit import CAMPAIGNS, draw, entry, lottery_sale, problem, register


def confirm(client, sale, token):
    return client.post(f"/api/v1/flashsales/{sale}/entries/me/confirm", headers=bearer(token))


def kinds(member_id) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(db.select(Notice.kind).where(Notice.member_id == member_id)))


def issued(sale) -> dict[int, int]:
    """member -> issued vouchers of the sale in SQL."""
    db.session.rollback()
    rows = db.session.scalars(db.select(Voucher.member_id).where(
        Voucher.campaign_id == sale, Voucher.status == "issued"))  # fmt: skip
    out: dict[int, int] = {}
    for m in rows:
        out[m] = out.get(m, 0) + 1
    return out


def assert_books_balance(sale, drain, stock):
    """SQL's issued vouchers == the engine's claims; nobody holds two; the audit agrees."""
    drain()
    held = issued(sale)
    assert all(n == 1 for n in held.values()), held
    assert sum(held.values()) == get_engine().stats(str(sale)).claimed <= stock
    assert run_audit(sale).ok


def drawn_sale(client, owner, members, **overrides) -> tuple[int, dict]:
    sale = lottery_sale(client, owner, **overrides)
    for _, token in members:
        assert register(client, sale, token).status_code == 201
    draw(client, sale, owner)
    states = {m: entry(client, sale, t) for m, t in members}
    return sale, states


def test_winners_confirm_in_time_or_the_ticket_passes_on(app_ctx, client, drain, runner):
    _, owner = make_merchant()
    members = make_members(5)
    token = dict(members)
    sale, states = drawn_sale(client, owner, members, total_stock=2, confirm_hours=1)
    shown = client.get(f"/api/v1/flashsales/{sale}", headers=bearer(members[0][1])).get_json()
    assert shown["confirm_hours"] == 1
    won = sorted((s["position"], m) for m, s in states.items() if s["state"] == "won")
    waiting = sorted((s["position"], m) for m, s in states.items() if s["state"] == "waiting")
    (_, a), (_, b) = won
    assert states[a]["confirm_by"] and states[a]["confirmed_at"] is None
    assert "lottery.won" in kinds(a)
    first = confirm(client, sale, token[a])
    assert first.status_code == 200 and first.get_json()["confirmed_at"], first.get_json()
    assert confirm(client, sale, token[a]).get_json() == first.get_json()  # idempotent
    problem(confirm(client, sale, token[waiting[0][1]]), 409, "not_a_winner")
    drain()
    # b lets the deadline pass; a confirmed, so its past deadline changes nothing.
    db.session.execute(db.update(LotteryEntry).where(LotteryEntry.campaign_id == sale,
                                                     LotteryEntry.member_id.in_((a, b)))
                       .values(confirm_by=utcnow() - timedelta(seconds=1)))  # fmt: skip
    db.session.commit()
    problem(confirm(client, sale, token[b]), 409, "confirm_deadline_passed")
    assert lottery_hand_ons() == {"expired": 1, "handed": 0}
    assert lottery_hand_ons() == {"expired": 0, "handed": 0}  # twice: nothing more
    late = entry(client, sale, token[b])
    assert (late["state"], late["reason"]) == ("passed", "unconfirmed")
    nxt = waiting[0][1]
    promoted = entry(client, sale, token[nxt])
    assert promoted["state"] == "won" and promoted["confirm_by"], promoted
    assert "lottery.promoted" in kinds(nxt) and "lottery.passed" in kinds(b)
    refused = confirm(client, sale, token[b])
    problem(refused, 409, "win_passed_on")
    assert refused.get_json()["type"].endswith("/win_passed_on"), refused.get_json()
    assert entry(client, sale, token[a])["state"] == "won"
    # The interleaving the race can produce: a job read a's entry as unconfirmed, then a's
    # confirmation committed: the job's hand-on must change nothing.
    stale = db.session.scalar(db.select(LotteryEntry).where(LotteryEntry.member_id == a))
    stale.confirmed_at = None  # what the job saw (not flushed: the row stays confirmed)
    db.session.expunge(stale)
    assert handon.hand_on(db.session.get(Campaign, sale), stale, "unconfirmed") is False
    assert entry(client, sale, token[a])["state"] == "won"
    assert confirm(client, sale, token[nxt]).status_code == 200
    drain()
    held = issued(sale)
    assert set(held) == {a, nxt}
    assert_books_balance(sale, drain, 2)
    assert runner.invoke(args=["draw", "verify", str(sale)]).exit_code == 0


def test_merchant_marks_an_unused_voucher_in_time(app_ctx, client, drain):
    _, owner, clerk = make_merchant(clerk="clerk1")
    _, other = make_merchant(name="别家", username="owner2")
    admin = token_for(create_account("boss", "admin-pass-1", "admin"))
    members = make_members(4)
    token = dict(members)
    until = (utcnow() + timedelta(days=1)).isoformat()
    sale, states = drawn_sale(client, owner, members, total_stock=2, handon_until=until)
    drain()
    url = f"{CAMPAIGNS}/{sale}/winners"
    listed = client.get(url, headers=bearer(owner))
    assert listed.status_code == 200, listed.get_json()
    rows = listed.get_json()
    assert len(rows) == 2 and all(r["can_mark_unused"] and r["code"] for r in rows)
    code, keep = rows[0]["code"], rows[1]["code"]
    mark = f"{CAMPAIGNS}/{sale}/vouchers/{code}/unused"
    personas = {"member": members[0][1], "clerk": clerk, "other": other, "admin": admin}
    for method, path in (("get", url), ("post", mark)):
        assert getattr(client, method)(path).status_code == 401
        for persona, tok in personas.items():
            resp = getattr(client, method)(path, headers=bearer(tok))
            want = outcome("sale.handon", persona, target="theirs")
            assert resp.status_code == want, (path, persona, resp.get_json())
    assert sum(issued(sale).values()) == 2  # nobody above changed anything

    loser = min((s["position"], m) for m, s in states.items() if s["state"] == "waiting")[1]
    giver = db.session.scalar(db.select(Voucher.member_id).where(Voucher.code == code))
    resp = client.post(mark, headers=bearer(owner))
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["state"], resp.get_json()["reason"]) == ("passed", "unused")
    problem(client.post(mark, headers=bearer(owner)), 409, "not_handable")
    assert entry(client, sale, token[loser])["state"] == "won"
    assert "lottery.promoted" in kinds(loser) and "lottery.passed" in kinds(giver)
    problem(client.post(f"{CAMPAIGNS}/{sale}/vouchers/NOPE-NOPE/unused", headers=bearer(owner)),
            404, "not_found")  # fmt: skip
    db.session.execute(db.update(Voucher).where(Voucher.code == keep).values(status="redeemed"))
    db.session.commit()
    problem(client.post(f"{CAMPAIGNS}/{sale}/vouchers/{keep}/unused", headers=bearer(owner)),
            409, "not_handable")  # fmt: skip
    db.session.execute(db.update(Voucher).where(Voucher.code == keep).values(status="issued"))
    db.session.execute(db.update(Campaign).where(Campaign.id == sale)
                       .values(handon_until=utcnow() - timedelta(seconds=1)))  # fmt: skip
    db.session.commit()
    problem(client.post(f"{CAMPAIGNS}/{sale}/vouchers/{keep}/unused", headers=bearer(owner)),
            410, "handon_window_passed")  # fmt: skip
    assert_books_balance(sale, drain, 2)

    plain = create_sale(client, owner)
    problem(client.post(f"{CAMPAIGNS}/{plain}/vouchers/{keep}/unused", headers=bearer(owner)),
            409, "not_lottery_sale")  # fmt: skip
    bare = lottery_sale(client, owner, closes_in=600)
    problem(client.post(f"{CAMPAIGNS}/{bare}/vouchers/{keep}/unused", headers=bearer(owner)),
            409, "handon_not_allowed")  # fmt: skip
    resp = client.post(CAMPAIGNS, json={"mode": "lottery", "handon_until": until,
                                        "valid_until": until, "title": "x", "category": "movie",
                                        "total_stock": 1, "starts_at": until, "ends_at": until,
                                        "valid_from": until}, headers=bearer(owner))  # fmt: skip
    problem(resp, 422, "validation_error")


def _expire_loop(app, until: float, out) -> None:
    """A hand-on job process: run the expiry over and over until ``until``."""
    with app.app_context():
        db.engine.dispose(close=False)
        done = 0
        while time.time() < until:
            done += handon.expire_unconfirmed()
        out.put(done)


def test_confirmations_race_expiry_jobs(app_ctx, client, drain, live_server):
    """Six winners confirm over HTTP around their deadline while three job processes expire
    wins at the same time: each win ends confirmed or passed on, never both; every ticket is
    held by exactly one member; SQL and the engine agree."""
    import http.client
    from urllib.parse import urlparse

    _, owner = make_merchant()
    members = make_members(14)
    token = dict(members)
    sale, states = drawn_sale(client, owner, members, total_stock=6, confirm_hours=1)
    drain()
    winners = sorted(m for m, s in states.items() if s["state"] == "won")
    url = urlparse(live_server)
    for m in winners * 2:  # warm both workers up (the first request of a worker is slow)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.request("GET", f"/api/v1/flashsales/{sale}/entries/me", headers=bearer(token[m]))
        assert conn.getresponse().status == 200
        conn.close()
    deadline = time.time() + 2.5
    db.session.execute(db.update(LotteryEntry).where(LotteryEntry.member_id.in_(winners))
                       .values(confirm_by=utcnow() + timedelta(seconds=2.5)))  # fmt: skip
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    jobs = [ctx.Process(target=_expire_loop, args=(app_ctx, deadline + 1.0, out))
            for _ in range(3)]  # fmt: skip
    for p in jobs:
        p.start()
    answers = {}

    def confirm_at(member, at):
        time.sleep(max(0.0, at - time.time()))
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.request("POST", f"/api/v1/flashsales/{sale}/entries/me/confirm",
                     headers=bearer(token[member]))  # fmt: skip
        resp = conn.getresponse()
        answers[member] = (resp.status, resp.read())
        conn.close()

    threads = [threading.Thread(target=confirm_at, args=(m, deadline + (i - 3) * 0.3))
               for i, m in enumerate(winners)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for p in jobs:
        p.join(30)
        assert p.exitcode == 0
    handon.expire_unconfirmed()  # anything confirmed too late and not yet expired
    db.session.rollback()
    rows = {e.member_id: e for e in db.session.scalars(
        db.select(LotteryEntry).where(LotteryEntry.campaign_id == sale))}  # fmt: skip
    for m in winners:
        e = rows[m]
        assert (e.confirmed_at is None) != (e.passed_at is None), (m, e.confirmed_at, e.passed_at)
        status, body = answers[m]
        assert (status == 200) == (e.confirmed_at is not None), (m, status, body)
        if status != 200:
            refused = json.loads(body)
            assert refused["code"] in ("win_passed_on", "confirm_deadline_passed"), refused
            assert refused["type"].endswith("/" + refused["code"]), refused
    passed = [m for m in winners if rows[m].passed_at is not None]
    assert 0 < len(passed) < len(winners), answers  # both sides of the race won some
    promoted = [m for m, e in rows.items() if e.outcome == "promoted"]
    assert len(promoted) == len(passed)  # one waiting member per ticket passed on
    drain()
    held = issued(sale)
    assert set(held) == {m for m in winners if rows[m].passed_at is None} | set(promoted)
    assert_books_balance(sale, drain, 6)


def test_two_hand_ons_of_one_voucher_at_once(app_ctx, client, drain, live_server):
    """Six 'unused' requests for the same voucher over HTTP at once (two gunicorn workers): one
    hands the ticket on, the others answer 409 not_handable; one waiting member gets it."""
    import http.client
    from urllib.parse import urlparse

    _, owner = make_merchant()
    members = make_members(5)
    until = (utcnow() + timedelta(days=1)).isoformat()
    sale, states = drawn_sale(client, owner, members, total_stock=2, handon_until=until)
    drain()
    code = client.get(f"{CAMPAIGNS}/{sale}/winners", headers=bearer(owner)).get_json()[0]["code"]
    url = urlparse(live_server)
    answers, barrier = [], threading.Barrier(6)

    def mark():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        barrier.wait()
        conn.request("POST", f"{CAMPAIGNS}/{sale}/vouchers/{code}/unused", headers=bearer(owner))
        resp = conn.getresponse()
        answers.append((resp.status, json.loads(resp.read())))
        conn.close()

    threads = [threading.Thread(target=mark) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(s for s, _ in answers) == [200] + [409] * 5, answers
    assert all(b["code"] == "not_handable" for s, b in answers if s == 409), answers
    db.session.rollback()
    outcomes = db.session.scalars(db.select(LotteryEntry.outcome).where(
        LotteryEntry.campaign_id == sale)).all()  # fmt: skip
    assert sorted(outcomes) == ["promoted", "waiting", "waiting", "won", "won"]
    assert_books_balance(sale, drain, 2)
