"""Redis and database outages, for real: the drainer process rides them out and the web answers
503 with Retry-After meanwhile (issue #11). Each test owns a Redis server it can stop and restart
on the same port from its AOF; the database is the session's (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

import contextlib
import itertools
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import redis
from sqlalchemy import create_engine, select, text

from flashsale.hotpath import get_engine
from flashsale.jobs import GROUP
from flashsale.models import Voucher
from inventory import OutboxConsumer
from inventory.server import EmbeddedRedis
from marketplace.extensions import db
from marketplace.heartbeats import read as heartbeat
from shihui import create_app
from tests.conftest import _clean_database, server_env
from tests.flashsale.factories import bearer, create_sale, make_members, make_merchant

_keys = itertools.count()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis with an AOF that the test may stop and start again on the same port."""
    server = EmbeddedRedis(tmp_path / "redis", persistent=True).start()
    yield server
    server.stop()


@pytest.fixture
def stack(app_config, _schema, own_redis):
    """(app, config) on the session database and ``own_redis``; tables emptied afterwards."""
    config = dict(
        app_config,
        REDIS_URL=own_redis.url,
        RQ_REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/1",
        FLASHSALE_CLAIM_RATE=1000,
    )
    app = create_app(config)
    with app.app_context():
        yield app, config
        db.session.remove()
        db.engine.dispose()
        _clean_database(db)
        db.engine.dispose()


def claim(client, sale, token):
    return client.post(
        f"/api/v1/flashsales/{sale}/claims",
        headers={**bearer(token), "Idempotency-Key": f"outage-{next(_keys):06d}"},
    )


def claim_all(client, sale, members) -> set[str]:
    codes = set()
    for _, token in members:
        resp = claim(client, sale, token)
        assert resp.status_code == 201, resp.get_json()
        codes.add(resp.get_json()["voucher"]["code"])
    return codes


def persisted_codes() -> set[str]:
    for _ in range(3):  # the first use after an outage may meet a connection it killed
        try:
            db.session.rollback()
            return set(db.session.scalars(select(Voucher.code)))
        except Exception:
            db.session.remove()
            db.engine.dispose()
    raise AssertionError("database not reachable")


def wait_for(predicate, timeout: float, step: float = 0.1) -> float | None:
    """Seconds until ``predicate()`` held, or None if it never did within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


@contextlib.contextmanager
def drainer(config, log_path):
    """``shihui flashsale drain --follow`` as a real process, its log in ``log_path``."""
    env = server_env(config)
    env["LOG_LEVEL"] = "INFO"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shihui", "flashsale", "drain", "--follow"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _world(client, members=40, stock=200):
    _, owner = make_merchant()
    people = make_members(members)
    sale = create_sale(client, owner, total_stock=stock, per_member_limit=3)
    return sale, people


@pytest.mark.slow
def test_drainer_outlives_a_redis_restart(stack, own_redis, tmp_path):
    app, config = stack
    client = app.test_client()
    sale, members = _world(client)
    log_path = tmp_path / "drainer.log"
    with drainer(config, log_path) as proc:
        before = claim_all(client, sale, members[:20])
        assert wait_for(lambda: persisted_codes() == before, 30) is not None, log_path.read_text()

        own_redis.stop()  # SIGTERM: the server writes its AOF and exits
        down = claim(client, sale, members[20][1])
        assert down.status_code == 503
        assert down.mimetype == "application/problem+json"
        assert down.headers["Retry-After"] == "2"
        assert down.get_json()["code"] == "store_unavailable"
        time.sleep(3)
        assert proc.poll() is None, log_path.read_text()

        own_redis.start()  # same port, same directory: the AOF comes back
        back = time.monotonic()
        # Claims wait (503) until the drainer has reconciled the restarted server with SQL.
        assert wait_for(lambda: _reconciled(app), 15) is not None, log_path.read_text()
        time.sleep(0.6)  # each web process trusts its readiness answer for 0.5 s
        after = claim_all(client, sale, members[20:])
        took = wait_for(lambda: persisted_codes() == before | after, 20, step=0.05)
        assert took is not None, log_path.read_text()
        print(f"\nRedis back -> all {len(after)} new claims persisted in "
              f"{time.monotonic() - back:.2f} s")  # fmt: skip
        assert proc.poll() is None
        assert wait_for(lambda: client.get("/readyz").get_json()["status"] == "ready", 5)
    assert proc.returncode == 0
    log = log_path.read_text()
    # One line when the outage starts and one when it ends, not one per attempt.
    assert log.count("redis unavailable") == 1, log
    assert log.count("redis back after") == 1, log
    consumer = OutboxConsumer(get_engine(), GROUP, "check")
    assert consumer.pending(str(sale)) == 0


def _reconciled(app) -> bool:
    from flashsale.recovery import _key, run_id
    from marketplace.extensions import get_redis

    with app.app_context():
        client = get_redis()
        seen = client.get(_key("run_id"))
        return seen is not None and seen.decode() == run_id(client)


@contextlib.contextmanager
def database_blocked(url: str):
    """A real outage: PostgreSQL refuses connections and drops the open ones; SQLite is held
    under an exclusive lock past the platform's 10 s busy timeout."""
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1].split("?")[0]
        admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            try:
                yield 6.0
            finally:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    else:
        path = url.split("sqlite:///", 1)[1]
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield 12.0
        finally:
            conn.execute("ROLLBACK")
            conn.close()


@pytest.mark.slow
def test_drainer_outlives_a_database_outage(stack, tmp_path):
    """Claims keep succeeding (Redis only); the drainer reads them, fails to persist them, keeps
    them pending, and writes every one once the database is back: none waits for the 30 s
    take-over of idle entries."""
    app, config = stack
    client = app.test_client()
    sale, members = _world(client)
    log_path = tmp_path / "drainer.log"
    url = config["SQLALCHEMY_DATABASE_URI"]
    with drainer(config, log_path) as proc:
        before = claim_all(client, sale, members[:10])
        assert wait_for(lambda: persisted_codes() == before, 30) is not None, log_path.read_text()
        db.session.remove()
        with database_blocked(url) as hold:
            # The outbox is Redis: a member's claim needs no SQL.
            during = claim_all(client, sale, members[10:])
            started = time.monotonic()
            pending = OutboxConsumer(get_engine(), GROUP, "check")
            # The drainer has read entries it cannot persist: they stay pending, unacknowledged.
            assert wait_for(lambda: pending.pending(str(sale)) > 0, 10)
            # What an operator's dashboard reads meanwhile: the drainer's mark says why it waits.
            states = set()
            while time.monotonic() - started < hold:
                states.add((heartbeat("drainer") or {}).get("state"))
                time.sleep(0.1)
            assert proc.poll() is None, log_path.read_text()
        states.add((heartbeat("drainer") or {}).get("state"))  # before its next try, backed off
        assert "database unavailable" in states, states
        back = time.monotonic()
        took = wait_for(lambda: persisted_codes() == before | during, 15, step=0.05)
        assert took is not None, log_path.read_text()
        print(f"\ndatabase back -> {len(during)} pending claims persisted in "
              f"{time.monotonic() - back:.2f} s")  # fmt: skip
        assert pending.pending(str(sale)) == 0
        assert proc.poll() is None
    assert proc.returncode == 0
    log = log_path.read_text()
    assert log.count("database unavailable") == 1, log
    assert log.count("database back after") == 1, log


def test_requests_while_redis_is_down_get_503_not_500(stack, own_redis):
    app, _ = stack
    client = app.test_client()
    sale, members = _world(client, members=2)
    assert claim(client, sale, members[0][1]).status_code == 201
    from marketplace.auth.models import Account

    account = db.session.scalar(select(Account).where(Account.member_id == members[1][0]))
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    assert client.get(f"/m/sales/{sale}").status_code == 200

    from marketplace.auth.refresh import start_family
    from marketplace.auth.tokens import decode_token

    refresh = start_family(decode_token(members[1][1]))["refresh_token"]
    own_redis.stop()
    # the token renewal (fast lane, not idempotent: it must not fall back to Flask) says 503
    renewal = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert renewal.status_code == 503, renewal.get_data(as_text=True)
    assert renewal.get_json()["code"] == "store_unavailable"
    api = claim(client, sale, members[1][1])
    assert api.status_code == 503
    assert api.mimetype == "application/problem+json"
    assert api.headers["Retry-After"] == "2"
    body = api.get_json()
    assert (body["code"], body["status"], body["retry_after"]) == ("store_unavailable", 503, 2)
    # The sale page rendered above may be reused for FLASHSALE_POLL_TTL (0.5 s); after that,
    # rendering it needs Redis (the remaining stock).
    time.sleep(0.6)
    page = client.get(f"/m/sales/{sale}", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert page.headers["Retry-After"] == "2"
    assert "503" in page.get_data(as_text=True)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["down"] == ["redis"]

    own_redis.start()
    assert claim(client, sale, members[1][1]).status_code == 201
    renewal = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert renewal.status_code == 200, renewal.get_data(as_text=True)  # nothing was spent


def test_requests_while_the_database_is_down_get_503(app_ctx, app_config):
    """A member with a valid token (and a page session) meets a database that refuses."""
    from inventory.server import free_port
    from marketplace.auth.models import Account

    ((member_id, token),) = make_members(1)
    account = db.session.scalar(select(Account).where(Account.member_id == member_id))
    dead = f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x"
    client = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=dead)).test_client()
    resp = client.get("/api/v1/flashsales", headers=bearer(token))
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["Retry-After"] == "2"
    assert resp.get_json()["code"] == "database_unavailable"
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    page = client.get("/m/sales", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert page.headers["Retry-After"] == "2"


def test_drainer_reconciles_after_a_restart(stack, own_redis):
    """In-process: once the server's run id changes, the drainer merges SQL back into the engine
    (flashsale.recovery.check_restart) and records the new run id, which lets claims through."""
    from flashsale.jobs import follow
    from flashsale.recovery import _key, run_id
    from marketplace.extensions import get_redis

    app, _ = stack
    stop = threading.Event()

    def run():
        with app.app_context():
            follow(stop=stop.is_set)

    def marker_matches(client):
        seen = client.get(_key("run_id"))
        return seen is not None and seen.decode() == run_id(client)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        with app.app_context():
            client = get_redis()
            assert wait_for(lambda: marker_matches(client), 10) is not None
            first = client.get(_key("run_id"))
            own_redis.stop()
            time.sleep(1)
            own_redis.start()
            assert wait_for(lambda: run_id(client) != first.decode(), 10) is not None
            assert wait_for(lambda: marker_matches(client), 15) is not None
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


@contextlib.contextmanager
def process(config, log_path, *args):
    """``shihui <args>`` as a real process against the test's stores, its log in ``log_path``."""
    env = server_env(config)
    env["LOG_LEVEL"] = "INFO"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shihui", *args], env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_worker_and_scheduler_outlive_a_redis_outage(stack, own_redis, tmp_path):
    """Redis gone for 5 s (longer than redis-py's own retries): both processes stay up, and
    afterwards the scheduler enqueues again and the worker runs what it enqueues."""
    app, config = stack
    rq = redis.Redis(port=own_redis.port, db=1)
    mark = redis.Redis(port=own_redis.port, db=0)
    with (
        process(config, tmp_path / "worker.log", "worker") as worker,
        process(config, tmp_path / "scheduler.log", "scheduler") as scheduler,
    ):
        # marketplace.jobs.heartbeat runs every 30 s, first at start: proof both work.
        assert wait_for(lambda: mark.exists("shihui:heartbeat:worker"), 40), (
            tmp_path / "worker.log"
        ).read_text()
        own_redis.stop()
        time.sleep(5)
        own_redis.start()
        back = time.monotonic()
        finished = "rq:finished:high"
        seen = set(rq.zrange(finished, 0, -1))
        # The 2 s drain_outbox job, enqueued by the scheduler and run by the worker, again.
        assert wait_for(lambda: set(rq.zrange(finished, 0, -1)) - seen, 20), (
            tmp_path / "scheduler.log"
        ).read_text()[-3000:]
        print(f"\nRedis back -> worker ran a scheduled job within {time.monotonic() - back:.2f} s")
        # That job may have been queued before the outage: wait for the scheduler's own return
        # (its backoff is up to 2 s) before stopping it.
        log = tmp_path / "scheduler.log"
        assert wait_for(lambda: "scheduler: redis back after" in log.read_text(), 20), (
            log.read_text()[-3000:]
        )
        assert worker.poll() is None and scheduler.poll() is None
    assert (worker.returncode, scheduler.returncode) == (0, 0)
    assert "scheduler: redis back after" in (tmp_path / "scheduler.log").read_text()


def _get_routes(app) -> list[str]:
    """Every GET route, path parameters filled with 1 (or a plausible code)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        values = {arg: "ABCDEFGHJKMNPQRS" if arg == "code" else 1 for arg in rule.arguments}
        if "filename" in rule.arguments:
            continue
        urls.append(rule.build(values, append_unknown=False)[1])
    return sorted(set(urls))


@pytest.mark.parametrize("store", ["redis", "database"])
def test_no_route_answers_500_while_a_store_is_down(app_ctx, app_config, store):
    """Every GET page and API route, as a logged-in member (bearer token and page session), with
    Redis or the database refusing connections: 503 with Retry-After, or an answer that did not
    need the store, never a 500."""
    from inventory.server import free_port
    from marketplace.auth.models import Account

    ((member_id, token),) = make_members(1)
    account = db.session.scalar(select(Account).where(Account.member_id == member_id))
    dead = {
        "redis": {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
        "database": {
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x"
        },
    }[store]
    app = create_app(dict(app_config, **dead))
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    failures, unavailable = [], 0
    for url in _get_routes(app):
        for headers in (bearer(token), {"Accept": "text/html"}):
            resp = client.get(url, headers=headers)
            resp.close()
            if resp.status_code >= 500 and (
                resp.status_code != 503 or "Retry-After" not in resp.headers
            ):
                failures.append((url, headers.get("Accept", "bearer"), resp.status_code))
            unavailable += resp.status_code == 503
    assert failures == []
    assert unavailable > 10  # the outage was real: many routes needed the store
