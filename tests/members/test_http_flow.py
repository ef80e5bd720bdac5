"""The API flow end to end over HTTP against gunicorn (several processes), Redis and the DB."""

import time

import requests

from marketplace.auth.services import create_account
from tests.members.helpers import PASSWORD, activation_body, details, register


def test_activate_login_me_freeze_over_http(live_server, app):
    with app.app_context():
        register(1)
        create_account("root", "admin-pass-1", "admin")
    s = requests.Session()
    act = s.post(live_server + "/api/v1/members/activate", json=activation_body(1), timeout=10)
    assert act.status_code == 200, act.text
    login = s.post(
        live_server + "/api/v1/auth/token",
        json={"username": details(1)["card_no"], "password": PASSWORD},
        timeout=10,
    )
    token = login.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    me = s.get(live_server + "/api/v1/me", headers=auth, timeout=10)
    assert me.json()["card"]["status"] == "active"
    admin = s.post(
        live_server + "/api/v1/auth/token",
        json={"username": "root", "password": "admin-pass-1"},
        timeout=10,
    ).json()
    assert (
        s.get(live_server + "/api/v1/admin/members/1", headers=auth, timeout=10).status_code == 403
    )
    freeze = s.post(
        f"{live_server}/api/v1/admin/cards/{details(1)['card_no']}/freeze",
        headers={"Authorization": f"Bearer {admin['access_token']}"},
        timeout=10,
    )
    assert freeze.status_code == 200
    frozen_at = time.monotonic()
    # Other gunicorn workers may trust their copy for TOKEN_VERSION_CACHE_SECONDS (1 s, as
    # documented): a request *sent* later than that must be refused.
    while True:
        sent = time.monotonic() - frozen_at
        if s.get(live_server + "/api/v1/me", headers=auth, timeout=10).status_code == 401:
            break
        assert sent <= 1.0, f"frozen card's token accepted {sent:.2f} s after the freeze"
        time.sleep(0.02)
    again = s.post(live_server + "/api/v1/members/activate", json=activation_body(1), timeout=10)
    assert again.status_code == 422
