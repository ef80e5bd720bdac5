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


def test_revocation_elsewhere_reaches_this_process_within_the_interval(app, account):
    revocations.ensure()
    app.config["TOKEN_VERSION_CACHE_SECONDS"] = 0.2
    token = issue_token(account)["access_token"]
    verify_token(token)
    # Another process revokes: simulate by raising the version without touching this view.
    revocations.append(account.id, account.token_version + 1)
    import time

    time.sleep(0.25)
    with pytest.raises(Unauthorized) as exc:
        verify_token(token)
    assert exc.value.code == "token_revoked"


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
