"""API: the public merchant application, and the merchant's staff, dashboard, sales extras,
exports, cover uploads, recent redemptions and audit log."""

from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from flashsale.models import Campaign
from marketplace import permissions
from marketplace.auth import auth_required, current_principal
from marketplace.errors import ValidationFailed
from marketplace.extensions import CSV_RESPONSE, file_upload_body
from marketplace.pagination import PageArgsSchema, page_schema, paginate

from . import audit_log, counter, exports, onboarding, sales, staff, stats
from .schemas import (
    ApplicationInSchema,
    AuditEventSchema,
    AuditQuerySchema,
    CardCheckSchema,
    CardCodeSchema,
    CoverSchema,
    DashboardSchema,
    ExportQuerySchema,
    LiveSchema,
    MerchantSchema,
    RedemptionRowSchema,
    StaffInSchema,
    StaffSchema,
    TopUpSchema,
)

bp = Blueprint(
    "merchant_portal_api", __name__, url_prefix="/api/v1",
    description="Merchant onboarding, staff, dashboards, exports and audit log",
)  # fmt: skip


@bp.route("/merchant-applications")
class Applications(MethodView):
    @bp.arguments(ApplicationInSchema)
    @bp.response(201, MerchantSchema)
    def post(self, data):
        """Apply to sell (public). The owner login works once a union admin approves."""
        return onboarding.apply(data)


@bp.route("/merchant/me")
class Me(MethodView):
    @auth_required("merchant.view_own")
    @bp.response(200, MerchantSchema)
    def get(self):
        """The caller's merchant with its status (and the reason when suspended)."""
        return permissions.staff_merchant(current_principal(), "merchant.view_own")


@bp.route("/merchant/staff")
class Staff(MethodView):
    @auth_required("staff.manage")
    @bp.response(200, StaffSchema(many=True))
    def get(self):
        """The merchant's clerks (removed ones included, inactive)."""
        return staff.list_staff(current_principal())

    @auth_required("staff.manage")
    @bp.arguments(StaffInSchema)
    @bp.response(201, StaffSchema)
    def post(self, data):
        """Add a clerk with a first password; a clerk can only redeem and see redemptions."""
        return staff.add_clerk(current_principal(), data["username"], data["password"])


@bp.route("/merchant/staff/<int:account_id>")
class StaffMember(MethodView):
    @auth_required("staff.manage")
    @bp.response(200, StaffSchema)
    def delete(self, account_id):
        """Remove a clerk: the login is disabled and its tokens and sessions revoked."""
        return staff.remove_clerk(current_principal(), account_id)


@bp.route("/merchant/dashboard")
class Dashboard(MethodView):
    @auth_required("sale.view")
    @bp.response(200, DashboardSchema)
    def get(self):
        """Every sale with live stock, claims and redemption rate, and the totals."""
        view = stats.merchant_overview(current_principal())
        return {"merchant": view["merchant"], "totals": view["totals"],
                "sales": [live for _c, live in view["rows"]]}  # fmt: skip


@bp.route("/merchant/cards/verify")
class CardVerify(MethodView):
    @auth_required("card.verify")
    @bp.arguments(CardCodeSchema)
    @bp.response(200, CardCheckSchema)
    def post(self, data):
        """Check the changing code of a member's card QR: valid in its step and the next only.
        Refused: 422 ``card_code_invalid`` (not a card code, forged), 410 ``card_code_expired``,
        409 ``card_frozen`` / ``card_inactive`` (with ``card_status``)."""
        return counter.verify_card(current_principal(), data["code"])


@bp.route("/merchant/campaigns/<int:campaign_id>/live")
class Live(MethodView):
    @auth_required("sale.view")
    @bp.response(200, LiveSchema)
    def get(self, campaign_id):
        """Live numbers of one sale (what the dashboard polls)."""
        return stats.live(sales.own_sale(current_principal(), campaign_id))


@bp.route("/merchant/campaigns/<int:campaign_id>/top-up")
class TopUp(MethodView):
    @auth_required("sale.top_up")
    @bp.arguments(TopUpSchema)
    @bp.response(200, LiveSchema)
    def post(self, data, campaign_id):
        """Add tickets to a sale, live ones included (suspended merchants: 403)."""
        return stats.live(sales.top_up(current_principal(), campaign_id, data["add"]))


@bp.route("/merchant/campaigns/<int:campaign_id>/duplicate")
class Duplicate(MethodView):
    @auth_required("sale.duplicate")
    @bp.response(201, LiveSchema)
    def post(self, campaign_id):
        """A draft copy of a sale, moved forward by whole weeks."""
        return stats.live(sales.duplicate(current_principal(), campaign_id))


@bp.get("/merchant/campaigns/<int:campaign_id>/vouchers.csv")
@bp.arguments(ExportQuerySchema, location="query")
@bp.doc(responses=CSV_RESPONSE)
@auth_required("sale.export")
def vouchers_csv(args, campaign_id):
    """Every voucher of the sale as CSV (UTF-8 with BOM, streamed)."""
    campaign: Campaign = sales.own_sale(current_principal(), campaign_id, "sale.export")
    return exports.csv_response(exports.vouchers_csv(campaign, args["lang"]),
                                f"sale-{campaign.id}-vouchers.csv")  # fmt: skip


@bp.get("/merchant/campaigns/<int:campaign_id>/redemptions.csv")
@bp.arguments(ExportQuerySchema, location="query")
@bp.doc(responses=CSV_RESPONSE)
@auth_required("sale.export")
def redemptions_csv(args, campaign_id):
    """Every redemption (and revert) of the sale as CSV (UTF-8 with BOM, streamed)."""
    campaign: Campaign = sales.own_sale(current_principal(), campaign_id, "sale.export")
    return exports.csv_response(
        exports.redemptions_csv(campaign, args["lang"]), f"sale-{campaign.id}-redemptions.csv"
    )


@bp.route("/merchant/covers")
class Covers(MethodView):
    @auth_required("cover.upload")
    @bp.doc(requestBody=file_upload_body(
        "A JPEG, PNG or WebP picture (checked by its bytes; else 422 cover_type), at most "
        "COVER_MAX_BYTES (512 KB by default; else 422 cover_too_large)."))  # fmt: skip
    @bp.response(201, CoverSchema)
    def post(self):
        """Upload a cover picture (multipart field ``file``; JPEG, PNG or WebP); use its url as
        a sale's ``image_url``."""
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(errors={"file": ["Upload the picture as multipart 'file'."]})
        image = sales.save_cover(current_principal(), upload.read())
        return cover_view(image)


def cover_view(image) -> dict:
    url = url_for("merchant_pages.cover", image_id=image.id, _external=True)
    return {"id": image.id, "url": url, "content_type": image.content_type, "size": image.size}


@bp.route("/merchant/recent-redemptions")
class RecentRedemptions(MethodView):
    @auth_required("redemption.view")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(RedemptionRowSchema, "RedemptionRowPageSchema"))
    def get(self, args):
        """The merchant's redemptions, newest first (owners and clerks)."""
        page = paginate(counter.recent_query(current_principal()), **args)
        return page.as_response()


@bp.route("/merchant/audit-events")
class MerchantAudit(MethodView):
    @auth_required("audit.view_own")
    @bp.arguments(AuditQuerySchema, location="query")
    @bp.response(200, page_schema(AuditEventSchema, "AuditEventPageSchema"))
    def get(self, args):
        """Who did what and when, for the caller's merchant only."""
        merchant = permissions.staff_merchant(current_principal(), "audit.view_own")
        stmt = audit_log.events_query(merchant.id, args["subject_type"], args["action"])
        page = paginate(stmt, args["page"], args["per_page"])
        page.items = audit_log.as_dicts(page.items)
        return page.as_response()
