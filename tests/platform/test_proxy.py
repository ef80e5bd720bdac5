"""Behind a proxy (issue #15): with ``PROXY_TRUSTED_HOPS`` the client address is the one our own
proxies appended to X-Forwarded-For; whatever a client forged to the left of it gains nothing —
not a fresh per-address login budget, not another address in the audit log or the JSON logs."""

from __future__ import annotations

import json
import logging

import pytest
from flask import request

from marketplace.extensions import db
from marketplace.models import record_audit
from marketplace.observability import JsonFormatter, RequestIdFilter
from shihui import create_app

URL = "/api/v1/auth/token"
NGINX = "127.0.0.1"  # the TCP peer gunicorn sees: the proxy


@pytest.fixture
def proxied(app_config, _schema):
    from marketplace.extensions import get_redis

    app = create_app({**app_config, "PROXY_TRUSTED_HOPS": 1, "LOGIN_IP_LIMIT": "3/minute"})

    @app.get("/_test/client")
    def seen_client():
        event = record_audit("test.seen", "test", 1)
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "seen", None, None)
        RequestIdFilter().filter(record)
        logged = json.loads(JsonFormatter().format(record))["client"]
        db.session.rollback()
        return {"remote_addr": request.remote_addr, "audit": event.data["client"], "log": logged}

    with app.app_context():
        get_redis().flushdb()
        yield app
        get_redis().flushdb()


def login(client, forwarded: str, peer: str = NGINX):
    return client.post(
        URL,
        json={"username": "nobody", "password": "whatever-pass"},
        headers={"X-Forwarded-For": forwarded},
        environ_base={"REMOTE_ADDR": peer},
    )


def test_the_address_our_proxy_appended_is_the_client(proxied):
    client = proxied.test_client()
    seen = client.get(
        "/_test/client",
        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"},
        environ_base={"REMOTE_ADDR": NGINX},
    ).get_json()
    assert seen == {"remote_addr": "203.0.113.9", "audit": "203.0.113.9", "log": "203.0.113.9"}


def test_forged_forwarded_for_gains_no_fresh_login_budget(proxied):
    client = proxied.test_client()
    for n in range(3):  # the attacker's real address is 203.0.113.9; the forged part varies
        assert login(client, f"10.0.0.{n}, 203.0.113.9").status_code == 401
    refused = login(client, "10.0.0.99, 198.51.100.1, 203.0.113.9")
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited"
    # Another real client behind the same proxy keeps its own budget.
    assert login(client, "203.0.113.10").status_code == 401


def test_without_trusted_hops_the_header_is_not_read(app, client, app_ctx):
    app.config["LOGIN_IP_LIMIT"] = "3/minute"
    for n in range(3):
        assert login(client, f"198.51.100.{n}").status_code == 401
    assert login(client, "198.51.100.77").status_code == 429  # all one peer: the proxy's


def test_negative_hops_are_refused(app_config):
    with pytest.raises(ValueError, match="PROXY_TRUSTED_HOPS"):
        create_app({**app_config, "PROXY_TRUSTED_HOPS": -1})


def test_the_fast_lane_sits_behind_the_proxy_fix(proxied):
    """The fast lane (marketplace/fastlane.py) is wrapped by ProxyFix, so a renewal it answers
    over TLS at the proxy carries HSTS like Flask's answers do."""
    lane = proxied.extensions["fastlane"]
    client = proxied.test_client()
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    answers = []
    for fast in (True, False):
        proxied.config["FASTLANE"] = fast
        before = lane.served
        peer = {"REMOTE_ADDR": NGINX}
        body = {"refresh_token": "x"}
        answers.append(
            client.post("/api/v1/auth/refresh", json=body, headers=headers, environ_base=peer)
        )
        assert lane.served - before == (1 if fast else 0)
    proxied.config["FASTLANE"] = True
    fast, slow = answers
    assert fast.status_code == slow.status_code == 401
    assert fast.headers["Strict-Transport-Security"] == slow.headers["Strict-Transport-Security"]


def test_log_lines_of_the_fast_lane_carry_the_client_address(proxied):
    """The lane runs in an app context, not a request context: the client address it puts on g
    reaches the JSON log lines, as a view's does; outside either, "-"."""
    from flask import g

    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "store down", None, None)
    with proxied.app_context():
        g.client = "203.0.113.9"
        g.request_id = "lane-req-1"
        RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["client"], entry["request_id"]) == ("203.0.113.9", "lane-req-1")
    bare = logging.LogRecord("t", logging.WARNING, __file__, 1, "outside", None, None)
    RequestIdFilter().filter(bare)
    assert bare.client == "-"
