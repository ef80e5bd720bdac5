"""Member API: the sale list, one sale, the snap-up, and the member's own vouchers."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from marketplace.auth import auth_required, current_principal
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.pagination import PageArgsSchema, page_schema, paginate

from . import claims, services, vouchers
from .models import Campaign
from .schemas import IDEMPOTENCY_HEADER, CampaignOutSchema, ClaimSchema, SaleVoucherSchema, UTCAware

bp = Blueprint("flashsale_member", __name__, url_prefix="/api/v1", description="Flash sales")

SaleListSchema = Schema.from_dict(
    {
        "items": fields.List(fields.Nested(CampaignOutSchema)),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
        "total": fields.Integer(),
        "pages": fields.Integer(),
        "server_time": UTCAware(),
    },
    name="SalePageSchema",
)


def visible_sales():
    """Live and upcoming sales (published, not cancelled, not ended), soonest first."""
    return (
        select(Campaign)
        .where(
            Campaign.status.in_(("scheduled", "live", "sold_out")), Campaign.ends_at > utcnow()
        )  # fmt: skip
        .order_by(Campaign.starts_at, Campaign.id)
    )


def with_remaining(campaigns):
    remaining = services.remaining_of(campaigns)
    for c in campaigns:
        c.live_remaining = remaining.get(c.id)
    return campaigns


@bp.route("/flashsales")
class Sales(MethodView):
    @auth_required("member")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, SaleListSchema)
    def get(self, args):
        """Live and upcoming sales with remaining stock and the server's time."""
        page = paginate(visible_sales(), **args)
        with_remaining(page.items)
        return {**page.as_dict(), "server_time": utcnow()}, 200, {"Link": page.link_header()}


@bp.route("/flashsales/<int:campaign_id>")
class Sale(MethodView):
    @auth_required("member")
    @bp.response(200, CampaignOutSchema)
    def get(self, campaign_id):
        """One sale (drafts are invisible: 404)."""
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or campaign.status == "draft":
            raise NotFound("No such flash sale.")
        return with_remaining([campaign])[0]


@bp.route("/flashsales/<int:campaign_id>/claims")
class Claims(MethodView):
    @auth_required("member")
    @bp.response(201, ClaimSchema)
    @bp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, campaign_id):
        """Snap up one ticket. Repeating the Idempotency-Key returns the first answer."""
        return claims.claim(
            current_principal(), campaign_id, request.headers.get("Idempotency-Key")
        )


@bp.route("/me/vouchers")
class MyVouchers(MethodView):
    @auth_required("member")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(SaleVoucherSchema, "VoucherPageSchema"))
    def get(self, args):
        """The member's vouchers, newest first."""
        page = paginate(vouchers.own_vouchers(current_principal().member_id), **args)
        return page.as_dict(), 200, {"Link": page.link_header()}


@bp.route("/me/vouchers/<code>")
class MyVoucher(MethodView):
    @auth_required("member")
    @bp.response(200, SaleVoucherSchema)
    def get(self, code):
        return vouchers.get_own(current_principal().member_id, code)


@bp.route("/me/vouchers/<code>/cancel")
class CancelVoucher(MethodView):
    @auth_required("member")
    @bp.response(200, SaleVoucherSchema)
    def post(self, code):
        """Give the ticket back before the sale's cancel deadline."""
        return vouchers.cancel(current_principal(), code)
