"""The revocation feed lets a process check tokens without a Redis call, and never accepts a
revoked token for longer than the feed interval; without the feed it falls back safely."""

import pytest

from marketplace.auth import revocations
from marketplace.auth.tokens import bump_token_version, issue_token, verify_token
from marketplace.errors import Unauthorized
from marketplace.extensions import get_redis


@pytest.fixture
def account(app_ctx):
    from marketplace.auth.services import create_account

    return create_account("feed-admin", "a-long-password", "admin")


def count_redis_calls(monkeypatch):
    calls = []
    client = get_redis()
    original = client.execute_command

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", counting)
    return calls


def test_healthy_feed_checks_tokens_without_redis_calls(app, account, monkeypatch):
    assert revocations.ensure() is True
    token = issue_token(account)["access_token"]
    verify_token(token)  # reads the feed once
    calls = count_redis_calls(monkeypatch)
    for _ in range(50):
        assert verify_token(token).account_id == account.id
    assert calls == []


def refused_after(token, since: float, window: float) -> float:
    """Check ``token`` until it is refused as revoked; returns how long after ``since`` that was.
    Fails if a check that began more than ``window`` after ``since`` still accepted it."""
    import time

    while True:
        began = time.monotonic() - since
        try:
            verify_token(token)
        except Unauthorized as exc:
            assert exc.code == "token_revoked"
            return began
        assert began <= window, f"revoked token accepted {began:.2f} s later"
        time.sleep(0.01)


def test_revocation_elsewhere_reaches_this_process_within_the_interval(app, account):
    import time

    revocations.ensure()
    app.config["TOKEN_VERSION_CACHE_SECONDS"] = 1.0
    token = issue_token(account)["access_token"]
    verify_token(token)
    # Another process revokes: simulate by raising the version without touching this view.
    revocations.append(account.id, account.token_version + 1)
    refused_after(token, time.monotonic(), window=1.0)


def test_revoking_process_refuses_the_old_token_at_once(app, account):
    revocations.ensure()
    old = issue_token(account)["access_token"]
    verify_token(old)
    bump_token_version(account)
    with pytest.raises(Unauthorized):
        verify_token(old)
    assert verify_token(issue_token(account)["access_token"]).account_id == account.id


def test_lost_feed_falls_back_then_is_rebuilt_from_sql(app, account):
    revocations.ensure()
    old = issue_token(account)["access_token"]
    bump_token_version(account)
    get_redis().flushdb()  # Redis lost everything, including the feed and version keys
    app.config["TOKEN_VERSION_CACHE_SECONDS"] = 0.0  # no process-local memory either
    app.extensions.pop("shihui.revocations", None)
    with pytest.raises(Unauthorized):
        verify_token(old)  # fallback: version from SQL
    assert revocations.ensure() is True  # the scheduler's job writes the feed again
    assert revocations.ensure() is False  # and only once
    app.config["TOKEN_VERSION_CACHE_SECONDS"] = 1.0
    with pytest.raises(Unauthorized):
        verify_token(old)  # feed path, rebuilt from SQL


@pytest.fixture
def pid_logged_server(monkeypatch, tmp_path, request):
    """``live_server`` (gunicorn, 2 workers) writing ``<worker pid> <status>`` per request."""
    log = tmp_path / "access.log"
    monkeypatch.setenv("WEB_ACCESS_LOG", str(log))
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--access-logformat='%(p)s %(s)s %(U)s'")
    return request.getfixturevalue("live_server"), log


def served_by(log, status: str) -> set[str]:
    lines = [line.strip("'").split() for line in log.read_text().splitlines()]
    return {pid for pid, code, path in lines if code == status and path == "/api/v1/me"}


def test_logout_reaches_every_web_process_within_one_second(pid_logged_server, app):
    import time

    import requests

    from tests.members.helpers import PASSWORD, activation_body, details, register

    base, log = pid_logged_server
    with app.app_context():
        register(1)
    assert requests.post(base + "/api/v1/members/activate", json=activation_body(1),
                         timeout=10).status_code == 200  # fmt: skip
    token = requests.post(base + "/api/v1/auth/token", timeout=10,
                          json={"username": details(1)["card_no"], "password": PASSWORD}
                          ).json()["access_token"]  # fmt: skip
    auth = {"Authorization": f"Bearer {token}", "Connection": "close"}
    # A new connection per request, so both workers serve the token and cache its version.
    deadline = time.monotonic() + 30
    while len(served_by(log, "200")) < 2:
        assert requests.get(base + "/api/v1/me", headers=auth, timeout=10).status_code == 200
        assert time.monotonic() < deadline, "one worker served every request"
    assert requests.post(base + "/api/v1/auth/logout", headers=auth, timeout=10).status_code == 204
    revoked_at = time.monotonic()
    late = 0
    while late < 20 or len(served_by(log, "401")) < 2:
        sent = time.monotonic() - revoked_at
        status = requests.get(base + "/api/v1/me", headers=auth, timeout=10).status_code
        assert status in (200, 401), status
        assert status == 401 or sent <= 1.0, f"revoked token accepted {sent:.2f} s later"
        late += sent > 1.0
        assert sent < 30, "one worker served every request after the revocation"
    assert len(served_by(log, "401")) >= 2  # every worker refused it, not just the one asked
