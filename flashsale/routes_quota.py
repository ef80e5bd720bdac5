"""Union quotas and no-show bans (docs/flashsale.md "Quotas and no-shows"): the admin's rules and
bans, and what a member sees of their own."""

from __future__ import annotations

from datetime import datetime

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from marketplace.auth import auth_required, current_principal
from marketplace.models import utcnow
from marketplace.permissions import Actor

from . import quotas

bp = Blueprint("flashsale_quota", __name__, url_prefix="/api/v1", description="Quotas, no-shows")

_count = validate.Range(min=1, max=1000)


class RuleSchema(Schema):
    scope = fields.String(dump_only=True, metadata={"enum": list(quotas.SCOPES)})
    monthly_limit = fields.Integer(
        allow_none=True, validate=_count, metadata={"description": "tickets per member per month"}
    )
    no_show_limit = fields.Integer(
        allow_none=True, validate=_count, metadata={"description": "no-shows that bar a member"}
    )
    no_show_window_days = fields.Integer(validate=validate.Range(min=1, max=3650))
    ban_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=3650))
    updated_at = fields.DateTime(dump_only=True)


class BanSchema(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    scope = fields.String()
    no_shows = fields.Integer()
    created_at = fields.String()
    until = fields.String()
    lifted_at = fields.String(allow_none=True)
    lift_reason = fields.String(allow_none=True)


class BanQuerySchema(Schema):
    member_id = fields.Integer()
    all = fields.Boolean(load_default=False, metadata={"description": "lifted and past ones too"})


class LiftSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class LimitsSchema(Schema):
    month = fields.String()
    rules = fields.List(fields.Nested(RuleSchema))
    used = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "tickets counted this month, by scope"},
    )
    bans = fields.List(fields.Nested(BanSchema))


@bp.route("/admin/sale-rules")
class Rules(MethodView):
    @auth_required("sale.rules")
    @bp.response(200, RuleSchema(many=True))
    def get(self):
        """The union's rules across sales, by scope (``*`` or a category)."""
        return quotas.rules()


@bp.route("/admin/sale-rules/<scope>")
class Rule(MethodView):
    @auth_required("sale.rules")
    @bp.arguments(RuleSchema)
    @bp.response(200, RuleSchema)
    def put(self, values, scope):
        """Set (or change) the rule of one scope; fields left out keep their value.

        Takes effect on claims within ``FLASHSALE_META_TTL`` (1 s). Audit-logged."""
        return quotas.set_rule(Actor(current_principal()), scope, values)

    @auth_required("sale.rules")
    @bp.response(204)
    def delete(self, scope):
        """Remove the rule of one scope. Audit-logged."""
        quotas.delete_rule(Actor(current_principal()), scope)


@bp.route("/admin/no-show-bans")
class Bans(MethodView):
    @auth_required("sale.rules")
    @bp.arguments(BanQuerySchema, location="query")
    @bp.response(200, BanSchema(many=True))
    def get(self, args):
        """Members barred for no-shows (active ones unless ``all``), newest first, at most 500."""
        found = quotas.bans(args.get("member_id"), active_only=not args["all"])
        return [quotas.ban_dict(b) for b in found]


@bp.route("/admin/no-show-bans/<int:ban_id>/lift")
class Lift(MethodView):
    @auth_required("sale.rules")
    @bp.arguments(LiftSchema)
    @bp.response(200, BanSchema)
    def post(self, args, ban_id):
        """Lift a ban at once (audit-logged with the reason); 409 ``already_lifted``."""
        return quotas.ban_dict(quotas.lift(Actor(current_principal()), ban_id, args["reason"]))


@bp.route("/me/sale-limits")
class MyLimits(MethodView):
    @auth_required("voucher.own")
    @bp.response(200, LimitsSchema)
    def get(self):
        """The union's rules, the member's tickets counted this month, and any no-show ban (why
        and until when)."""
        return my_limits(current_principal().member_id)


def my_limits(member_id: int, now: datetime | None = None) -> dict:
    now = now or utcnow()
    month = quotas.month_of(now.timestamp())
    used = quotas.usage(member_id, [month])[month]
    return {
        "month": f"{month[:4]}-{month[4:]}",
        "rules": quotas.rules(),
        "used": used,
        "bans": [quotas.ban_dict(b) for b in quotas.bans(member_id)],
    }
