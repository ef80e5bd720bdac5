"""Fairness figures of a sale (docs/flashsale.md "Fairness in the open"): the admin publishes
them after the sale, members read them."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from marketplace.auth import auth_required, current_principal
from marketplace.permissions import Actor

from . import fairness

bp = Blueprint("flashsale_fairness", __name__, url_prefix="/api/v1", description="Fairness")


class GroupSchema(Schema):
    group = fields.String()
    entrants = fields.Integer()
    winners = fields.Integer()
    win_rate = fields.Float(allow_none=True)


class FiguresSchema(Schema):
    campaign_id = fields.Integer()
    mode = fields.String()
    total_stock = fields.Integer()
    entrants = fields.Integer()
    entrants_basis = fields.String(
        metadata={
            "enum": ["registered", "joined_room", "reached_stock"],
            "description": "lottery: registrations; queue: joined the room; first_come: "
            "claims that reached the stock while tickets remained",
        }
    )
    winners = fields.Integer()
    win_rate = fields.Float(allow_none=True)
    by_branch = fields.List(fields.Nested(GroupSchema))
    by_prior_wins = fields.List(
        fields.Nested(GroupSchema),
        metadata={
            "description": "groups 0, 1, 2+: vouchers won in sales of the previous prior_wins_days"
        },
    )
    prior_wins_days = fields.Integer()
    excluded = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "members excluded, by reason"},
    )
    published_at = fields.String()


def _body(row) -> dict:
    return {**row.figures, "published_at": row.published_at.isoformat()}


@bp.route("/flashsales/<int:campaign_id>/fairness")
class Figures(MethodView):
    @auth_required("sale.browse")
    @bp.response(200, FiguresSchema)
    def get(self, campaign_id):
        """The figures the union published for this sale (404 ``not_published`` before)."""
        return _body(fairness.published(campaign_id))


@bp.route("/admin/sales/<int:campaign_id>/fairness")
class Publish(MethodView):
    @auth_required("sale.fairness")
    @bp.response(200, FiguresSchema)
    def post(self, campaign_id):
        """Compute and publish the figures (after the end: 409 ``sale_not_over`` before;
        again: replaced). Audit-logged."""
        return _body(fairness.publish(campaign_id, Actor(current_principal())))
