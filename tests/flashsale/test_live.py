"""Over real HTTP and real processes: gunicorn, RQ workers, member processes, SIGKILL."""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections import Counter

import requests
from rq import Queue
from sqlalchemy import func, select

from flashsale.hotpath import get_engine
from flashsale.jobs import GROUP, drain_outbox
from flashsale.models import Voucher
from inventory import OutboxConsumer
from marketplace.extensions import db, get_rq_redis
from tests.conftest import start_worker

from .factories import bearer, create_sale, make_members, make_merchant
from .racers import race


def voucher_count() -> int:
    db.session.rollback()  # see other processes' commits
    return db.session.scalar(select(func.count()).select_from(Voucher))


def wait_for(predicate, timeout=30.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except Exception:
            proc.kill()
            proc.wait()


def test_members_race_one_sale_over_http(app_ctx, client, live_server, app_config):
    """300 members x 3 attempts in 6 processes over 100 tickets, limit 1."""
    _, owner = make_merchant()
    members = make_members(300)
    sale = create_sale(client, owner, total_stock=100, per_member_limit=1)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=race, args=(live_server, sale, members[i::6], 3, out)) for i in range(6)
    ]
    for p in procs:
        p.start()
    results = [r for _ in procs for r in out.get(timeout=120)]
    for p in procs:
        p.join(10)
    wins = [(m, body) for m, status, body in results if status == 201]
    statuses = Counter(status for _, status, _ in results)
    codes = Counter(body.get("code") for _, status, body in results if status != 201)
    assert len(results) == 900
    assert len(wins) == 100, (statuses, codes)
    assert set(codes) <= {"sold_out", "limit_reached"}, codes
    assert len({m for m, _ in wins}) == 100  # no member won twice
    worker = start_worker(app_config)
    try:
        Queue("high", connection=get_rq_redis()).enqueue(drain_outbox)
        assert wait_for(lambda: voucher_count() == 100, timeout=60)
    finally:
        stop(worker)
    rows = db.session.execute(select(Voucher.code, Voucher.member_id)).all()
    assert sorted(c for c, _ in rows) == sorted(b["voucher"]["code"] for _, b in wins)
    assert Counter(m for _, m in rows).most_common(1)[0][1] == 1
    assert get_engine().stats(str(sale)).remaining == 0


def freeze_mid_persist(monkeypatch, tmp_path, nth: int):
    """Make subprocesses started from now on hang inside their ``nth`` voucher INSERT's
    transaction, after the statement ran and before the commit (a ``sitecustomize`` on
    PYTHONPATH; the product has no test hook). Returns the marker file the frozen process
    writes when it gets there, holding the voucher count its own transaction sees."""
    hook = tmp_path / "hook"
    hook.mkdir()
    marker = tmp_path / "mid-persist"
    (hook / "sitecustomize.py").write_text(FREEZE_HOOK.format(marker=str(marker), nth=nth))
    monkeypatch.setenv("PYTHONPATH", str(hook))
    return marker


FREEZE_HOOK = """
import os, pathlib, time
from sqlalchemy import event
from sqlalchemy.engine import Engine

seen = [0]

@event.listens_for(Engine, "after_cursor_execute")
def freeze(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().upper().startswith("INSERT INTO VOUCHERS"):
        seen[0] += 1
        if seen[0] == {nth}:
            own = cursor.connection.cursor()  # same connection, same open transaction
            own.execute("SELECT count(*) FROM vouchers")
            pathlib.Path({marker!r} + ".tmp").write_text(str(own.fetchone()[0]))
            os.replace({marker!r} + ".tmp", {marker!r})  # appears whole
            time.sleep(600)
"""


def test_worker_killed_mid_persist_then_new_worker(
    app_ctx, client, app_config, monkeypatch, tmp_path
):
    """Nothing lost, nothing doubled: a consumer that read and died, and a SIGKILLed worker."""
    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    _, owner = make_merchant()
    members = make_members(400)
    sale = create_sale(client, owner, total_stock=1200, per_member_limit=3)
    codes = set()
    for attempt in range(3):
        for _, token in members:
            r = client.post(
                f"/api/v1/flashsales/{sale}/claims",
                headers={**bearer(token), "Idempotency-Key": f"kill-{attempt}-x"},
            )
            assert r.status_code == 201
            codes.add(r.get_json()["voucher"]["code"])
    assert len(codes) == 1200
    # A consumer that read 150 entries and died before persisting them.
    dead = OutboxConsumer(get_engine(), group=GROUP, consumer="dead-consumer")
    assert len(dead.read(str(sale), count=150)) == 150
    monkeypatch.setenv("FLASHSALE_RECOVER_IDLE_MS", "1000")
    env_config = dict(app_config)
    queue = Queue("high", connection=get_rq_redis())
    for _ in range(30):
        queue.enqueue(drain_outbox, 20)  # small batches: many commits to die between
    # The worker's third voucher INSERT stops inside its transaction (before the commit) and
    # says so; the SIGKILL then lands there for certain, not somewhere between batches.
    marker = freeze_mid_persist(monkeypatch, tmp_path, nth=3)
    # --burst: no scheduler child process that a SIGKILL would orphan.
    worker = start_worker(env_config, "--burst")
    try:
        assert wait_for(marker.exists, timeout=60, step=0.01), "the worker never got there"
        monkeypatch.delenv("PYTHONPATH")  # the next worker runs normally
        seen_inside = int(marker.read_text())
        assert voucher_count() == 2 * 20  # outside, only the two committed batches
        assert seen_inside == 3 * 20  # inside, the third batch's rows exist, uncommitted
    finally:
        worker.send_signal(signal.SIGKILL)  # frozen or not, it must not outlive the test
        worker.wait()
    killed_at = voucher_count()
    assert killed_at == 2 * 20  # nothing of the killed transaction was kept
    time.sleep(1.1)  # let the pending entries idle past FLASHSALE_RECOVER_IDLE_MS
    queue.empty()
    queue.enqueue(drain_outbox)
    worker = start_worker(env_config, "--burst")
    try:
        assert worker.wait(60) == 0
    finally:
        stop(worker)
    assert voucher_count() == 1200
    assert OutboxConsumer(get_engine(), GROUP, "t").pending(str(sale)) == 0
    rows = db.session.scalars(select(Voucher.code)).all()
    assert len(rows) == 1200 and set(rows) == codes


def test_concurrent_redemption_of_one_code(app_ctx, client, live_server, drain):
    _, owner, clerk = make_merchant(clerk="clerk1")
    ((_, member),) = make_members(1)
    sale = create_sale(client, owner)
    code = client.post(
        f"/api/v1/flashsales/{sale}/claims",
        headers={**bearer(member), "Idempotency-Key": "one-code-1"},
    ).get_json()
    code = code["voucher"]["code"]
    drain()
    barrier = threading.Barrier(12)
    answers = []

    def scan(i):
        token = owner if i % 2 else clerk
        session = requests.Session()
        barrier.wait()
        r = session.post(
            f"{live_server}/api/v1/merchant/redemptions",
            json={"code": code},
            headers={**bearer(token), "Idempotency-Key": f"scan-{i:04d}"},
        )
        answers.append((r.status_code, r.json().get("code")))

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers)[0][0] == 200
    assert Counter(s for s, _ in answers) == {200: 1, 409: 11}, answers
    assert {c for s, c in answers if s == 409} == {"already_redeemed"}


def test_audit_repersists_and_flags(app_ctx, client, claim, runner):
    from flashsale.models import CampaignAudit

    _, owner = make_merchant()
    members = make_members(5)
    sale = create_sale(client, owner, total_stock=5)
    for _, token in members[:4]:
        assert claim(sale, token).status_code == 201
    # Nothing drained yet: the audit re-persists all four from the outbox and passes.
    result = runner.invoke(args=["audit", str(sale)])
    assert result.exit_code == 0, result.output
    assert "re-persisted 4" in result.output and "OK" in result.output
    assert voucher_count() == 4
    # A voucher no claim accounts for is an invented ticket: the audit fails and says so.
    voucher = db.session.scalars(select(Voucher)).first()
    db.session.add(
        Voucher(
            claim_id=f"{sale}-999",
            code="ZZZZZZZZZZZZZZZZ",
            campaign_id=sale,
            member_id=voucher.member_id,
            claimed_at=voucher.claimed_at,
            valid_from=voucher.valid_from,
            valid_until=voucher.valid_until,
        )
    )
    db.session.commit()
    result = runner.invoke(args=["audit", str(sale)])
    assert result.exit_code == 1
    assert "mismatch" in result.output and "more than the limit" in result.output
    audits = db.session.scalars(select(CampaignAudit).order_by(CampaignAudit.id)).all()
    assert [a.ok for a in audits] == [True, False]
    assert runner.invoke(args=["audit", "424242"]).exit_code != 0
