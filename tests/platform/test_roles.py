"""Node roles as real processes (issue #15): two ``shihui scheduler`` processes enqueue each
periodic job once, and a kill -9'd leader is replaced; three ``shihui worker`` nodes share the
outbox through the consumer group, and the entries a kill -9'd worker left pending are taken over
by the others (XAUTOCLAIM). Every process is killed or stopped by its own pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from rq import Queue, Worker
from sqlalchemy import create_engine, func, select, text

from flashsale.hotpath import get_engine
from flashsale.jobs import GROUP, drainer_name
from flashsale.models import Voucher, VoucherConflict
from marketplace.extensions import db, get_redis, get_rq_redis
from shihui.scheduling import LEASE_KEY, LEASE_SECONDS
from tests.conftest import server_env, skip_or_fail
from tests.flashsale.factories import bearer, create_sale, make_members, make_merchant

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float, step: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@contextlib.contextmanager
def processes(app_config, argvs: list[list[str]], **env_extra: str):
    env = server_env(app_config) | env_extra
    procs = [subprocess.Popen([sys.executable, "-m", "shihui", *argv], env=env) for argv in argvs]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _drain_jobs(queue: Queue) -> int:
    return sum(1 for job in queue.get_jobs() if job.func_name == "flashsale.jobs.drain_outbox")


def _holder(rq) -> int | None:
    value = rq.get(LEASE_KEY)
    return int(value.decode().rsplit("-", 1)[1]) if value else None


def test_two_schedulers_enqueue_each_job_once_and_a_killed_leader_is_replaced(
    app, app_ctx, app_config
):
    rq = get_rq_redis()
    high = Queue("high", connection=rq)
    with processes(app_config, [["scheduler"], ["scheduler"]]) as procs:
        pids = {p.pid for p in procs}
        assert wait_for(lambda: _holder(rq) in pids and _drain_jobs(high) >= 1, 90)
        leader = _holder(rq)
        # drain_outbox every 2 s: one leader enqueues ~5 in 10 s, two would enqueue ~10.
        before, started = _drain_jobs(high), time.monotonic()
        time.sleep(10)
        one_window = _drain_jobs(high) - before
        expected = (time.monotonic() - started) / 2
        assert expected - 2 <= one_window <= expected + 1, (one_window, expected)

        victim = next(p for p in procs if p.pid == leader)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed = time.monotonic()
        follower = (pids - {leader}).pop()
        assert wait_for(lambda: _holder(rq) == follower, LEASE_SECONDS + 5), _holder(rq)
        took_over = time.monotonic() - killed
        assert took_over <= LEASE_SECONDS + 2.5, took_over
        before, started = _drain_jobs(high), time.monotonic()
        time.sleep(6)
        after = _drain_jobs(high) - before
        expected = (time.monotonic() - started) / 2
        assert 1 <= after <= expected + 1, (after, expected)
        print(f"\nscheduler: {one_window} drain jobs in 10 s with two schedulers; "
              f"leader replaced {took_over:.1f} s after kill -9")  # fmt: skip


def _pending_by_consumer(engine, sale: int) -> dict[str, int]:
    client = engine.client
    counts: dict[str, int] = {}
    for key in engine.outbox_streams(str(sale)):
        with contextlib.suppress(Exception):
            for row in client.xpending(key, GROUP).get("consumers", []):
                name = row["name"].decode() if isinstance(row["name"], bytes) else row["name"]
                counts[name] = counts.get(name, 0) + int(row["pending"])
    return counts


def test_worker_nodes_share_the_outbox_and_take_over_a_killed_one(app, app_ctx, app_config, client):
    url = app_config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        skip_or_fail("postgres", "holds a table lock on PostgreSQL: set TEST_DATABASE_URL")
    app.config.update(FLASHSALE_CLAIM_RATE=1000)
    _, owner = make_merchant()
    members = make_members(60)
    sale = create_sale(client, owner, total_stock=60)
    db.session.commit()
    engine = get_engine()
    host = socket.gethostname()

    names = ["n1", "n2", "n3"]
    argvs = [["worker", "--queues", "none", "--name", n] for n in names]
    locker = create_engine(url).connect()
    with (
        contextlib.closing(locker),
        processes(app_config, argvs, FLASHSALE_RECOVER_IDLE_MS="2000") as procs,
    ):
        by_name = dict(zip(names, procs, strict=True))
        rq = get_rq_redis()
        assert wait_for(lambda: len(Worker.all(connection=rq)) == 3, 120, 0.5), "workers not up"
        time.sleep(3)  # the drainer threads started with RQ: let them make their first pass
        # Every drainer blocks inside its batch on this lock, holding its entries pending.
        locker.execute(text("LOCK TABLE vouchers IN EXCLUSIVE MODE"))
        codes = []
        for i, (_, token) in enumerate(members):
            resp = client.post(
                f"/api/v1/flashsales/{sale}/claims",
                headers={**bearer(token), "Idempotency-Key": f"role-key-{i:04d}"},
            )
            assert resp.status_code == 201, resp.get_json()
            codes.append(resp.get_json()["voucher"]["code"])
            time.sleep(0.03)  # claims trickle in, so every drainer gets a batch
        busy = wait_for(
            lambda: (p := _pending_by_consumer(engine, sale)) and len(p) == 3 and p, 60, 0.2
        )
        assert busy, f"not every worker took a batch: {_pending_by_consumer(engine, sale)}"
        victim_name = max(names, key=lambda n: busy.get(drainer_name(n), 0))
        victim_entries = busy[drainer_name(victim_name)]
        by_name[victim_name].send_signal(signal.SIGKILL)
        by_name[victim_name].wait()
        killed = time.monotonic()
        locker.rollback()  # releases the lock

        def persisted() -> int:
            db.session.rollback()
            return db.session.scalar(select(func.count()).select_from(Voucher))

        assert wait_for(lambda: persisted() == 60, 60, 0.2), persisted()
        recovered_in = time.monotonic() - killed
        db.session.rollback()
        stored = set(db.session.scalars(select(Voucher.code).where(Voucher.campaign_id == sale)))
        assert stored == set(codes)
        assert db.session.scalar(select(func.count()).select_from(VoucherConflict)) == 0
        assert wait_for(lambda: not any(_pending_by_consumer(engine, sale).values()), 20)
        assert all(p.poll() is None for n, p in by_name.items() if n != victim_name)
    assert f"drainer-{host}-{victim_name}" == drainer_name(victim_name)
    redis = get_redis()
    assert redis is engine.client or redis.ping()
    print(f"\nworkers: kill -9 of a worker holding {victim_entries} entries; all 60 vouchers "
          f"in SQL {recovered_in:.1f} s later, no conflicts, nothing pending")  # fmt: skip


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_worker_node_leaves_no_child_holding_its_connections(app, app_ctx, app_config):
    """RQ forks its scheduler from the worker node, and the fork inherits the node's sockets
    (the drainer's database connection with its open transaction included). A worker killed
    with -9 must take that child with it, or the transaction stays open and the drainers that
    take its entries over block on the same claim ids."""
    from .test_up import alive, descendants

    rq = get_rq_redis()
    with processes(app_config, [["worker", "--queues", "none", "--name", "orphan-check"]]) as (
        proc,
    ):
        assert wait_for(lambda: len(Worker.all(connection=rq)) == 1, 120, 0.5), "worker not up"
        children = wait_for(lambda: descendants(proc.pid), 30, 0.2)
        assert children, "RQ's scheduler child did not start"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        gone = wait_for(lambda: not any(alive(pid) for pid in children), 15, 0.2)
        left = {pid for pid in children if alive(pid)}
        for pid in left:  # never leave them behind for the next test
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        assert gone, f"children of the killed worker still alive: {left}"
