"""Test harness: real Redis and a real database, isolated per test.

Redis: ``TEST_REDIS_URL`` (or ``REDIS_URL``) if set, else a bundled Valkey server started once per
session. The Redis Cluster fixture starts a real 3-master cluster from the same binary.
``SHIHUI_REQUIRE`` (comma-separated: postgres, browser, cluster) turns a skip into a failure;
CI sets it.
"""

from __future__ import annotations

import contextlib
import os

import pytest
import redis

from inventory.server import EmbeddedCluster, EmbeddedRedis


def required(suite: str) -> bool:
    return suite in {s.strip() for s in os.environ.get("SHIHUI_REQUIRE", "").split(",")}


def skip_or_fail(suite: str, reason: str) -> None:
    if required(suite):
        pytest.fail(f"{suite} suite is required (SHIHUI_REQUIRE) but cannot run: {reason}")
    pytest.skip(reason)


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs two workers) each worker gets its own stores.

    Without settings every worker starts its own Valkey, cluster and SQLite file anyway. With
    ``TEST_DATABASE_URL`` (PostgreSQL) worker N works in its own database ``<name>_wN``, created
    here; ``TEST_REDIS_URL`` is the first worker's (the others start their own Valkey). The
    variables are rewritten in the environment so tests and the servers they start read the
    worker's own values.
    """
    worker = getattr(config, "workerinput", {}).get("workerid")  # gw0, gw1, … under xdist
    if not worker:
        return
    n = int(worker.removeprefix("gw"))
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgres"):
        os.environ["TEST_DATABASE_URL"] = _worker_database(url, n)
    if n > 0:
        # Worker 0 keeps the given server; the others start their own Valkey (the default
        # without settings): tests read server-wide figures (INFO commandstats: "the snapshot
        # answers without a script call") that another worker's calls would change.
        for name in ("TEST_REDIS_URL", "TEST_RQ_REDIS_URL"):
            os.environ.pop(name, None)


def _worker_database(url: str, n: int) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(_normalise(url))
    name = f"{base.database}_w{n}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory):
    """URL of a standalone server whose databases the tests may flush."""
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_client(redis_server_url):
    """A client on a flushed database; flushed again afterwards."""
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A running 3-master cluster (``EmbeddedCluster``); ``.startup_nodes`` lists its nodes."""
    try:
        cluster = EmbeddedCluster(tmp_path_factory.mktemp("cluster")).start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        skip_or_fail("cluster", f"cannot start a Redis Cluster: {exc}")
    yield cluster
    cluster.stop()


# --------------------------------------------------------------------------- database and app

TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-checks"


def _normalise(url: str) -> str:
    from marketplace.config import normalise_database_url

    return normalise_database_url(url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """``TEST_DATABASE_URL`` (PostgreSQL in CI) or a SQLite file for this session."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _normalise(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def app_config(database_url, redis_server_url, instance_dir):
    from marketplace.config import rq_url_for

    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "ID_HASH_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_server_url,
        "RQ_REDIS_URL": os.environ.get("TEST_RQ_REDIS_URL") or rq_url_for(redis_server_url),
        "INSTANCE_DIR": str(instance_dir),
        "LOG_LEVEL": "WARNING",
        "LOTTERY_BEACON": "fixed",  # lottery draws: no network (flashsale/beacon.py)
    }


def server_env(config: dict) -> dict:
    """Environment for subprocesses (gunicorn, RQ workers) that must see the test's stores."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=config["REDIS_URL"],
        RQ_REDIS_URL=config["RQ_REDIS_URL"],
        SECRET_KEY=config["SECRET_KEY"],
        ID_HASH_KEY=config["ID_HASH_KEY"],
        SHIHUI_INSTANCE=config["INSTANCE_DIR"],
        SHIHUI_TESTING="1",
        LOG_LEVEL="WARNING",
        LOTTERY_BEACON="fixed",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@pytest.fixture(scope="session")
def _schema(app_config):
    """Create every table once per session (tests only: the platform itself migrates)."""
    from marketplace.extensions import db
    from shihui import create_app

    app = create_app(app_config)
    with app.app_context():
        if app_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            from sqlalchemy import text

            with db.engine.begin() as conn:  # leftovers of an earlier run or a migration test
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.create_all()
        db.engine.dispose()
    return True


def _clean_database(db) -> None:
    from sqlalchemy import text

    tables = [t.name for t in db.metadata.sorted_tables]
    if not tables:
        return
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # One round trip of DELETEs (children first) and a reset of every sequence: the
            # same end state as TRUNCATE ... RESTART IDENTITY, which costs 0.3-0.9 s per test
            # on 49 tables (it replaces each table's files) against about 13 ms for this.
            deletes = "; ".join(f'DELETE FROM "{name}"' for name in reversed(tables))
            conn.exec_driver_sql(
                f"{deletes}; SELECT setval(c.oid, 1, false) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
        else:
            for name in reversed(tables):
                conn.execute(text(f'DELETE FROM "{name}"'))
            has_seq = conn.execute(
                text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")
            ).first()
            if has_seq:
                conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def app(app_config, _schema):
    """An app on the session's database and Redis; tables and Redis databases emptied after."""
    from marketplace.extensions import db, get_redis, get_rq_redis
    from shihui import create_app

    app = create_app(app_config)
    with app.app_context():
        get_redis().flushdb()
        get_rq_redis().flushdb()
    yield app
    with app.app_context():
        db.session.remove()
        _clean_database(db)
        get_redis().flushdb()
        get_rq_redis().flushdb()
        db.engine.dispose()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --------------------------------------------------------------------------- live processes


@contextlib.contextmanager
def gunicorn_server(app_config, threads: int = 8, workers: int = 2, **env_extra: str):
    """The app under gunicorn (2 workers) in a subprocess on a free port; yields its base URL."""
    import subprocess
    import sys
    import time
    import urllib.request

    from inventory.server import free_port

    port = free_port()
    env = server_env(app_config)
    env.update(WEB_BIND=f"127.0.0.1:{port}", WEB_WORKERS=str(workers), WEB_THREADS=str(threads))
    env.update(env_extra)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:shihui.gunicorn_conf",
         "shihui.wsgi:app"],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded CI machine imports the app slowly
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:  # noqa: S310
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("gunicorn did not start")
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def live_server(app, app_config):
    """The app under gunicorn in a subprocess (real HTTP, several processes), on a free port."""
    with gunicorn_server(app_config) as base:
        yield base


def start_worker(app_config, *args: str):
    """Start ``shihui worker`` (RQ) in a subprocess against the test's stores."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "shihui", "worker", *args], env=server_env(app_config)
    )


# --------------------------------------------------------------------------- browser

CHROMIUM = "/usr/bin/chromium"

# Assertions wait up to 15 s (Playwright's default is 5 s): two test processes share two cores
# with the servers and browsers they start, and a page that is right late is still right.
try:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
except ImportError:  # pragma: no cover - the dev extras install Playwright
    pass


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (Playwright's own browser download cannot work here)."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(
            "browser", f"{CHROMIUM} not found: apt-get install -y chromium fonts-wqy-zenhei"
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def pytest_collection_modifyitems(config, items):
    """Browser tests carry the ``browser`` marker whatever folder they live in."""
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
