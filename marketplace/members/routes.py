"""Members API: activation and the caller's own profile."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import auth_required, current_principal, issue_token
from ..auth.models import Account
from ..auth.refresh import start_family
from ..auth.tokens import principal_for
from ..extensions import db
from . import services
from .schemas import ActivatedSchema, ActivateSchema, MeSchema

bp = Blueprint("members", __name__, url_prefix="/api/v1", description="Members and cards")


@bp.route("/members/activate")
class Activate(MethodView):
    @bp.arguments(ActivateSchema)
    @bp.response(200, ActivatedSchema)
    def post(self, data):
        """Activate an issued card with the holder's details; returns a bearer token and a
        refresh token (the phone is signed in)."""
        account = services.activate(**data, client_ip=request.remote_addr)
        principal = principal_for(account)
        return (
            issue_token(account, principal)
            | start_family(principal)
            | {"account_id": account.id, "username": account.username}
        )


@bp.route("/me")
class Me(MethodView):
    @auth_required("account.self")
    @bp.response(200, MeSchema)
    def get(self):
        """The caller's account, and for members their profile and card (ID number masked)."""
        account = db.session.get(Account, current_principal().account_id)
        member = account.member if account.member_id else None
        return {
            "account_id": account.id,
            "username": account.username,
            "role": account.role,
            "merchant_id": account.merchant_id,
            "member": member,
            "card": member.current_card if member else None,
        }
