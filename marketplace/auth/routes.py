"""API: log in for a bearer token and a refresh token, renew, log out, change password."""

from __future__ import annotations

import json

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from .. import fastlane
from ..extensions import db
from ..validation import bad_text
from .decorators import auth_required, current_principal
from .models import Account
from .passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from .refresh import renew, start_family
from .services import authenticate, change_password, logout
from .tokens import issue_token, principal_for

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login and tokens")

_password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH))


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = _password


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    role = fields.String(required=True)


class LoginTokenSchema(TokenSchema):
    refresh_token = fields.String(
        required=True, metadata={"description": "Spend once at /auth/refresh; keep it secret."}
    )
    refresh_expires_in = fields.Integer(required=True)


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=2048))


class PasswordChangeSchema(Schema):
    current_password = _password
    new_password = fields.String(
        required=True, validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH)
    )


@bp.route("/token")
class Token(MethodView):
    @bp.arguments(LoginSchema)
    @bp.response(200, LoginTokenSchema)
    def post(self, data):
        """Exchange a username (card number for members) and password for a bearer token and a
        refresh token (one per sign-in; see /auth/refresh)."""
        account = authenticate(data["username"], data["password"], request.remote_addr)
        principal = principal_for(account)
        return issue_token(account, principal) | start_family(principal)


@bp.route("/refresh")
class Refresh(MethodView):
    @bp.arguments(RefreshSchema)
    @bp.response(200, LoginTokenSchema)
    def post(self, data):
        """Spend a refresh token for a new access token and the next refresh token (rotation).

        No password and no SQL. A refresh token works once: presenting a spent one revokes
        every token of that sign-in (``refresh_token_reused``). Logout, a password change or a
        frozen card revoke it (``token_revoked``); after ``refresh_expires_in`` it has expired
        (``refresh_token_expired``)."""
        return renew(data["refresh_token"])


# The renewal in the fast lane (marketplace/fastlane.py): a body of exactly one well-formed
# ``refresh_token`` is answered without Flask's request machinery, anything else by the view
# above; tests/auth/test_fastlane_renewal.py holds the two equal.
REFRESH_PATH = "/api/v1/auth/refresh"


def fast_renew(req: dict, match) -> fastlane.Answer:
    document = req[fastlane.JSON_BODY]
    token = document.get("refresh_token")
    if (
        len(document) != 1
        or not isinstance(token, str)
        or not 1 <= len(token) <= 2048
        or bad_text(token)
    ):
        raise fastlane.Fallback
    body = json.dumps(_LOGIN_TOKEN.dump(renew(token)), sort_keys=True, separators=(",", ":"))
    return 200, [("Content-Type", "application/json")], (body + "\n").encode()  # as jsonify


_LOGIN_TOKEN = LoginTokenSchema()


def init_fast_lane(app) -> None:
    fastlane.route(app, "POST", REFRESH_PATH, rule=REFRESH_PATH, action=None, body=True,
                   idempotent=False)(fast_renew)  # fmt: skip


@bp.route("/logout")
class Logout(MethodView):
    @auth_required("account.self")
    @bp.response(204)
    def post(self):
        """Revoke every token (and web session) of the calling account."""
        logout(db.session.get(Account, current_principal().account_id))


@bp.route("/password")
class Password(MethodView):
    @auth_required("account.self")
    @bp.arguments(PasswordChangeSchema)
    @bp.response(200, LoginTokenSchema)
    def post(self, data):
        """Change the password; older tokens (refresh tokens too) are revoked and fresh ones are
        returned."""
        account = db.session.get(Account, current_principal().account_id)
        change_password(account, data["current_password"], data["new_password"])
        principal = principal_for(account)
        return issue_token(account, principal) | start_family(principal)


class PasswordResetSchema(Schema):
    card_no = fields.String(required=True, validate=validate.Length(min=1, max=32))
    code = fields.String(required=True, validate=validate.Length(min=1, max=16))
    new_password = fields.String(
        required=True, validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)
    )


@bp.route("/password-reset")
class PasswordReset(MethodView):
    @bp.arguments(PasswordResetSchema)
    @bp.response(204)
    def post(self, data):
        """Set a new password with the card number and a one-time code the member's union
        issued (POST /admin/members/{id}/reset-codes). 400 ``invalid_reset_code`` for an unknown
        card or a wrong, expired or used code (not told apart); 422 for a weak password; 429
        past the limits. Every older token and session is revoked."""
        from .reset import reset

        reset(data["card_no"], data["code"], data["new_password"], request.remote_addr)
