"""Merchant API: campaigns (owner) and counter redemption (owner or clerk)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.auth import auth_required, current_principal
from marketplace.errors import Forbidden
from marketplace.pagination import PageArgsSchema, page_schema, paginate

from . import redemption, services
from .redemption import merchant_voucher
from .schemas import (
    IDEMPOTENCY_HEADER,
    CampaignInSchema,
    CampaignPatchSchema,
    MerchantCampaignSchema,
    RedeemInSchema,
    SaleVoucherSchema,
    VoucherRedemptionSchema,
)

bp = Blueprint(
    "flashsale_merchant", __name__, url_prefix="/api/v1/merchant",
    description="Merchant flash sales and redemption",
)  # fmt: skip


def merchant():
    principal = current_principal()
    if principal.merchant_id is None:
        raise Forbidden("This account belongs to no merchant.")
    return principal


def with_stats(campaign):
    campaign.live_stats = services.stats(campaign)
    campaign.live_remaining = campaign.live_stats["remaining"]
    return campaign


@bp.route("/campaigns")
class Campaigns(MethodView):
    @auth_required("sale.view")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(MerchantCampaignSchema, "MerchantCampaignPageSchema"))
    def get(self, args):
        """The merchant's own campaigns with live stats."""
        page = paginate(services.list_own(merchant().merchant_id), **args)
        for campaign in page.items:
            with_stats(campaign)
        return page.as_dict(), 200, {"Link": page.link_header()}

    @auth_required("sale.create")
    @bp.arguments(CampaignInSchema)
    @bp.response(201, MerchantCampaignSchema)
    def post(self, data):
        """Create a campaign as a draft."""
        return with_stats(services.create(merchant(), data))


@bp.route("/campaigns/<int:campaign_id>")
class CampaignItem(MethodView):
    @auth_required("sale.view")
    @bp.response(200, MerchantCampaignSchema)
    def get(self, campaign_id):
        return with_stats(services.get_own(merchant().merchant_id, campaign_id))

    @auth_required("sale.edit")
    @bp.arguments(CampaignPatchSchema(partial=True))
    @bp.response(200, MerchantCampaignSchema)
    def patch(self, data, campaign_id):
        """Change a draft or scheduled campaign; once live, only increase total_stock."""
        return with_stats(services.patch(merchant(), campaign_id, data))


@bp.route("/campaigns/<int:campaign_id>/publish")
class Publish(MethodView):
    @auth_required("sale.publish")
    @bp.response(200, MerchantCampaignSchema)
    def post(self, campaign_id):
        """Load the stock into the engine: scheduled or live depending on the time."""
        return with_stats(services.publish(merchant(), campaign_id))


@bp.route("/campaigns/<int:campaign_id>/cancel")
class Cancel(MethodView):
    @auth_required("sale.cancel")
    @bp.response(200, MerchantCampaignSchema)
    def post(self, campaign_id):
        return with_stats(services.cancel(merchant(), campaign_id))


@bp.route("/vouchers/<code>")
class MerchantVoucher(MethodView):
    @auth_required("voucher.redeem")
    @bp.response(200, SaleVoucherSchema)
    def get(self, code):
        """Look a code up before redeeming it (other merchants' codes: 404)."""
        return merchant_voucher(merchant().merchant_id, code)


@bp.route("/redemptions")
class Redemptions(MethodView):
    @auth_required("voucher.redeem")
    @bp.arguments(RedeemInSchema)
    @bp.response(200, VoucherRedemptionSchema)
    @bp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, data):
        """Redeem a voucher at the counter; exactly one of two racing scans succeeds."""
        return redemption.redeem(merchant(), data["code"], request.headers.get("Idempotency-Key"))


@bp.route("/redemptions/<int:redemption_id>/revert")
class Revert(MethodView):
    @auth_required("redemption.revert")
    @bp.response(200, VoucherRedemptionSchema)
    def post(self, redemption_id):
        """Undo a mistaken scan within 10 minutes."""
        return redemption.revert(merchant(), redemption_id)
