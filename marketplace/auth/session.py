"""Flask-Login for the web pages: the session stores ``<account id>:<token version>``, so a
password change, logout or card freeze (all bump the version) ends every other session too."""

from __future__ import annotations

from flask import Flask
from flask_login import UserMixin

from ..extensions import db, login_manager
from .models import Account


class SessionUser(UserMixin):
    def __init__(self, account: Account):
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.token_version}"

    @property
    def role(self) -> str:
        return self.account.role

    @property
    def id(self) -> int:
        return self.account.id


def load_user(user_id: str) -> SessionUser | None:
    account_id, _, version = user_id.partition(":")
    if not account_id.isdigit() or not version.isdigit():
        return None
    account = db.session.get(Account, int(account_id))
    if account is None or not account.is_active or account.token_version != int(version):
        return None
    return SessionUser(account)


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "members_pages.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
