"""Admin API: the merchant review queue and transitions, all sales with their audit, the log."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.auth import auth_required, current_principal
from marketplace.pagination import PageArgsSchema, page_schema, paginate

from . import audit_log, console, onboarding
from .schemas import (
    AdminSaleSchema,
    AuditEventSchema,
    AuditQuerySchema,
    MerchantQuerySchema,
    MerchantSchema,
    ReasonSchema,
    SuspendSchema,
)

bp = Blueprint(
    "merchant_portal_admin", __name__, url_prefix="/api/v1/admin",
    description="Union administration: merchants, sales audit status, audit log",
)  # fmt: skip

MerchantPage = page_schema(MerchantSchema, "MerchantPageSchema")


def _merchant_page(status, page, per_page):
    result = paginate(onboarding.merchants_query(status), page, per_page)
    return result.as_response()


@bp.route("/merchant-applications")
class Applications(MethodView):
    @auth_required("merchant.review")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, MerchantPage)
    def get(self, args):
        """The review queue: pending applications, newest first."""
        return _merchant_page("pending", **args)


@bp.route("/merchant-applications/<int:merchant_id>/approve")
class Approve(MethodView):
    @auth_required("merchant.review")
    @bp.response(200, MerchantSchema)
    def post(self, merchant_id):
        """Approve an application: the owner's login is enabled."""
        return onboarding.approve(current_principal(), merchant_id)


@bp.route("/merchant-applications/<int:merchant_id>/reject")
class Reject(MethodView):
    @auth_required("merchant.review")
    @bp.arguments(ReasonSchema)
    @bp.response(200, MerchantSchema)
    def post(self, data, merchant_id):
        """Reject an application with a reason."""
        return onboarding.reject(current_principal(), merchant_id, data["reason"])


@bp.route("/merchants")
class Merchants(MethodView):
    @auth_required("merchant.view_any")
    @bp.arguments(MerchantQuerySchema, location="query")
    @bp.response(200, MerchantPage)
    def get(self, args):
        """All merchants, optionally of one status."""
        return _merchant_page(args["status"], args["page"], args["per_page"])


@bp.route("/merchants/<int:merchant_id>")
class MerchantItem(MethodView):
    @auth_required("merchant.view_any")
    @bp.response(200, MerchantSchema)
    def get(self, merchant_id):
        return onboarding.get_merchant(merchant_id)


@bp.route("/merchants/<int:merchant_id>/suspend")
class Suspend(MethodView):
    @auth_required("merchant.suspend")
    @bp.arguments(SuspendSchema)
    @bp.response(200, MerchantSchema)
    def post(self, data, merchant_id):
        """Suspend: no publishing or selling, live sales stop taking claims; ``vouchers_valid``
        decides whether issued vouchers may still be redeemed."""
        return onboarding.suspend(
            current_principal(), merchant_id, data["reason"], data["vouchers_valid"]
        )


@bp.route("/merchants/<int:merchant_id>/reinstate")
class Reinstate(MethodView):
    @auth_required("merchant.suspend")
    @bp.response(200, MerchantSchema)
    def post(self, merchant_id):
        """Lift a suspension: published sales take claims again."""
        return onboarding.reinstate(current_principal(), merchant_id)


@bp.route("/campaigns")
class Sales(MethodView):
    @auth_required("sale.view_any")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(AdminSaleSchema, "AdminSalePageSchema"))
    def get(self, args):
        """Every sale of every merchant with its latest audit (ok, counts, problems)."""
        page = paginate(console.sales_query(), **args)
        console.with_audits(page.items)
        return page.as_response()


@bp.route("/audit-events")
class AuditEvents(MethodView):
    @auth_required("audit.view_any")
    @bp.arguments(AuditQuerySchema, location="query")
    @bp.response(200, page_schema(AuditEventSchema, "AdminAuditEventPageSchema"))
    def get(self, args):
        """The whole audit log, newest first; filter by merchant, subject type, action prefix."""
        stmt = audit_log.events_query(args["merchant_id"], args["subject_type"], args["action"])
        page = paginate(stmt, args["page"], args["per_page"])
        page.items = audit_log.as_dicts(page.items)
        return page.as_response()
