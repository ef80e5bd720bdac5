"""Member pages with the test client: CSRF on every form, session cookie, revocation."""

import re

from tests.members.helpers import PASSWORD, activated_member, activation_body, register


def csrf(client, url):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def login(client, card_no, password=PASSWORD):
    token = csrf(client, "/m/login")
    return client.post(
        "/m/login", data={"csrf_token": token, "username": card_no, "password": password}
    )


def test_pages_render_in_chinese_by_default(client):
    for url in ("/m/", "/m/activate", "/m/login"):
        resp = client.get(url)
        assert resp.status_code == 200
        assert 'lang="zh-CN"' in resp.get_data(as_text=True)
    assert "激活" in client.get("/m/activate").get_data(as_text=True)
    assert "Activate card" in client.get("/m/activate?lang=en").get_data(as_text=True)


def test_forms_without_csrf_token_are_refused(client, app_ctx):
    d, _ = activated_member(client, 1)
    resp = client.post("/m/login", data={"username": d["card_no"], "password": PASSWORD})
    assert resp.status_code == 400
    assert client.post("/m/activate", data=activation_body(2)).status_code == 400
    assert client.post("/m/logout").status_code == 400


def test_card_needs_login(client):
    resp = client.get("/m/card")
    assert resp.status_code == 302 and "/m/login" in resp.headers["Location"]


def test_activate_login_card_logout(client, app_ctx):
    register(1)
    token = csrf(client, "/m/activate")
    body = activation_body(1) | {"confirm": PASSWORD, "csrf_token": token}
    resp = client.post("/m/activate", data=body)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/m/card")
    page = client.get("/m/card").get_data(as_text=True)
    assert activation_body(1)["card_no"] in page and "<svg" in page
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
    resp = client.post("/m/logout", data={"csrf_token": csrf(client, "/m/")})
    assert resp.status_code == 302
    assert client.get("/m/card").status_code == 302


def test_wrong_login_shows_an_error(client, app_ctx):
    d, _ = activated_member(client, 1)
    resp = login(client, d["card_no"], "wrong-password")
    assert resp.status_code == 401
    assert "卡号或密码不正确" in resp.get_data(as_text=True)


def test_password_change_ends_other_sessions(client, app):
    # No app context around the requests: Flask-Login caches the user on ``g``.
    with app.app_context():
        d, token = activated_member(client, 1)
    assert login(client, d["card_no"]).status_code == 302
    assert client.get("/m/card").status_code == 200
    client.post(
        "/api/v1/auth/password",
        headers={"Authorization": f"Bearer {token}"},
        json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
    )
    assert client.get("/m/card").status_code == 302


def test_open_redirect_is_refused(client, app_ctx):
    d, _ = activated_member(client, 1)
    token = csrf(client, "/m/login")
    resp = client.post(
        "/m/login?next=//evil.example/",
        data={"csrf_token": token, "username": d["card_no"], "password": PASSWORD},
    )
    assert resp.headers["Location"].endswith("/m/")  # the home, not the foreign site
