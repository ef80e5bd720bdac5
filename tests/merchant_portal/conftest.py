"""Portal fixtures: an admin, merchants (approved, suspended, other), members, session logins."""

from __future__ import annotations

import re

import pytest

from marketplace.auth.models import Account
from marketplace.auth.tokens import publish_versions
from marketplace.extensions import db
from tests.flashsale.factories import (
    PASSWORD,
    _hash,
    bearer,
    make_members,
    make_merchant,
    token_for,
)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def fresh_g() -> None:
    """Requests made while a test holds an app context share its ``g``; Flask-Login, Flask-WTF
    and Flask-Babel cache the user, the CSRF token and the locale there, so two clients (or two
    languages) would see each other's."""
    from flask import g, has_app_context

    if has_app_context():
        for name in ("_login_user", "csrf_token", "principal", "_flask_babel"):
            g.pop(name, None)


class Browser:
    """The Flask test client with a session: log in through a page, post forms with CSRF."""

    def __init__(self, client):
        self.client = client
        self._token = None

    def token(self) -> str:
        fresh_g()
        if self._token is None:
            self._token = csrf_of(self.client.get("/merchant/login").get_data(as_text=True))
        return self._token

    def login(self, username, password=PASSWORD, where="/merchant/login"):
        self.token()
        fresh_g()
        resp = self.client.post(
            where, data={"csrf_token": self.token(), "username": username, "password": password}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
        return resp

    def post(self, url, data=None, **kw):
        self.token()
        fresh_g()
        return self.client.post(url, data={"csrf_token": self.token(), **(data or {})}, **kw)

    def get(self, url, **kw):
        fresh_g()
        return self.client.get(url, **kw)


@pytest.fixture
def web(client):
    """A session client (named ``web``: Playwright owns ``browser``)."""
    return Browser(client)


@pytest.fixture
def drain(app_ctx):
    """Persist claimed vouchers now (one outbox drain pass in-process)."""
    from flashsale.jobs import drain_outbox

    return lambda: drain_outbox(kind="test")


@pytest.fixture
def admin(app_ctx):
    """(account, token) of a union admin called ``root``."""
    account = Account(username="root", role="admin", password_hash=_hash())
    db.session.add(account)
    db.session.commit()
    publish_versions([(account.id, 0)])
    return account, token_for(account)


@pytest.fixture
def shop(app_ctx):
    """An approved cinema: (merchant_id, owner_token, clerk_token); logins owner1 / clerk1."""
    return make_merchant(username="owner1", clerk="clerk1")


@pytest.fixture
def member(app_ctx):
    """(member_id, token) of a member with an active card."""
    return make_members(1)[0]


__all__ = ["PASSWORD", "bearer"]
