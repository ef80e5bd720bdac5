"""The token renewal in the fast lane (marketplace/fastlane.py) answers what Flask answers.

A renewal spends its refresh token, so the two lanes are compared on two sign-ins of the same
member: same status, same header names and values (tokens aside), the same document shape; and
every refusal the same. Bodies the lane does not take (extra members, wrong types, another
content type) reach Flask's view, whose answer the lane does not change."""

from __future__ import annotations

import pytest

from tests.members.helpers import activated_member, bearer

from .test_refresh import login

PATH = "/api/v1/auth/refresh"
RID = "renewal-parity-01"


def renew(app, client, fast: bool, **kw):
    app.config["FASTLANE"] = fast
    try:
        return client.post(PATH, headers={"X-Request-ID": RID}, **kw)
    finally:
        app.config["FASTLANE"] = True


def headers_of(response) -> dict:
    skip = {"date", "content-length"}
    return {n.lower(): v for n, v in response.headers if n.lower() not in skip}


@pytest.fixture
def signins(client, app_ctx):
    activated_member(client, 1)
    return [login(client) for _ in range(4)]


def test_a_renewal_agrees_with_flask(app, client, signins):
    lane = app.extensions["fastlane"]
    served = lane.served
    fast = renew(app, client, True, json={"refresh_token": signins[0]["refresh_token"]})
    assert lane.served == served + 1
    slow = renew(app, client, False, json={"refresh_token": signins[1]["refresh_token"]})
    assert lane.served == served + 1
    assert fast.status_code == slow.status_code == 200
    assert headers_of(fast) == headers_of(slow)
    f, s = fast.get_json(), slow.get_json()
    assert sorted(f) == sorted(s) == sorted(signins[0])
    assert {k: f[k] for k in ("token_type", "role", "expires_in", "refresh_expires_in")} == {
        k: s[k] for k in ("token_type", "role", "expires_in", "refresh_expires_in")
    }
    assert fast.data.endswith(b"\n") and slow.data.endswith(b"\n")
    assert len(fast.data) == len(slow.data)  # same layout: sorted keys, compact separators
    # the renewed tokens work, and the refresh token renews again through either lane
    assert client.get("/api/v1/me", headers=bearer(f["access_token"])).status_code == 200
    again = renew(app, client, False, json={"refresh_token": f["refresh_token"]})
    assert again.status_code == 200


def test_refusals_agree(app, client, signins):
    spent = [signins[i]["refresh_token"] for i in (1, 2)]
    for token in spent:
        assert renew(app, client, True, json={"refresh_token": token}).status_code == 200
    # a replayed refresh token revokes the whole sign-in, whichever lane sees it
    fast = renew(app, client, True, json={"refresh_token": spent[0]})
    slow = renew(app, client, False, json={"refresh_token": spent[1]})
    assert fast.status_code == slow.status_code == 401
    assert fast.data == slow.data and headers_of(fast) == headers_of(slow)
    assert fast.get_json()["code"] == "refresh_token_reused"
    # and then it is revoked: the same answer again from both
    fast = renew(app, client, True, json={"refresh_token": spent[0]})
    slow = renew(app, client, False, json={"refresh_token": spent[0]})
    assert fast.data == slow.data and fast.get_json()["code"] == "token_revoked"
    for garbage in ("x", "a" * 2048, "eyJ.bad.token"):
        fast = renew(app, client, True, json={"refresh_token": garbage})
        slow = renew(app, client, False, json={"refresh_token": garbage})
        assert fast.status_code == slow.status_code == 401
        assert fast.data == slow.data and headers_of(fast) == headers_of(slow)


@pytest.mark.parametrize(
    "kw",
    [
        {"json": {"refresh_token": "x", "extra": 1}},
        {"json": {"refresh_token": 5}},
        {"json": {}},
        {"json": ["refresh_token"]},
        {"json": {"refresh_token": ""}},
        {"json": {"refresh_token": "a" * 2049}},
        {"json": {"refresh_token": "nul\u0000here"}},
        {"data": '{"refresh_token": "x"', "content_type": "application/json"},
        {"data": "refresh_token=x", "content_type": "application/x-www-form-urlencoded"},
        {"data": "x" * 5000, "content_type": "application/json"},
    ],
)
def test_bodies_the_lane_does_not_take_get_flasks_answer(app, client, signins, kw):
    lane = app.extensions["fastlane"]
    served = lane.served
    fast = renew(app, client, True, **kw)
    slow = renew(app, client, False, **kw)
    assert lane.served == served
    assert fast.status_code == slow.status_code and 400 <= fast.status_code < 500
    assert fast.data == slow.data


def test_the_lanes_answers_carry_the_apps_own_csp(app_config, _schema):
    """With a realtime origin configured the pages' CSP names it (the app's header set, not the
    module default); the lane's answers, API JSON, carry the same API policy as Flask's."""
    from shihui import create_app

    realtime = create_app({**app_config, "REALTIME_URL": "http://127.0.0.1:5999/events"})
    client = realtime.test_client()
    answers = []
    for fast in (True, False):
        realtime.config["FASTLANE"] = fast
        answers.append(client.post(PATH, json={"refresh_token": "x"}))
    fast, slow = answers
    assert fast.status_code == slow.status_code == 401
    assert fast.headers["Content-Security-Policy"] == slow.headers["Content-Security-Policy"]
    assert fast.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert sorted(fast.headers.keys()) == sorted(slow.headers.keys())
    page = client.get("/m/login")
    assert "http://127.0.0.1:5999" in page.headers["Content-Security-Policy"]
