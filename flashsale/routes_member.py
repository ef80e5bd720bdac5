"""Member API: the sale list, one sale, the snap-up, and the member's own vouchers."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from marketplace import fastlane
from marketplace.auth import auth_required, current_principal
from marketplace.errors import NotFound, Problem, problem_response
from marketplace.pagination import PageArgsSchema, page_schema, paginate

from . import claims, polls, room, services, vouchers
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


@bp.route("/flashsales")
class Sales(MethodView):
    @auth_required("sale.browse")
    @polls.from_cache
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, SaleListSchema)
    @bp.doc(responses={304: {"description": "Not Modified (If-None-Match)"}})
    def get(self, args):
        """Live and upcoming sales with remaining stock and the server's time.

        Served from a per-process copy at most ``FLASHSALE_POLL_TTL`` old, with a weak ``ETag``
        (``If-None-Match`` → 304) and ``Cache-Control: private, no-cache`` (docs/flashsale.md).
        """
        return polls.cached_json(lambda: _page(args))


def _page(args) -> tuple[dict, dict]:
    page = paginate(services.visible_sales(), **args)
    services.with_remaining(page.items)
    body, _, headers = page.as_response()
    data = SaleListSchema().dump({**body, "server_time": None})
    data["server_time"] = polls.NOW  # filled in per response
    return data, headers


@bp.route("/flashsales/<int:campaign_id>")
class Sale(MethodView):
    @auth_required("sale.browse")
    @polls.from_cache
    @bp.response(200, CampaignOutSchema)
    @bp.doc(responses={304: {"description": "Not Modified (If-None-Match)"}})
    def get(self, campaign_id):
        """One sale (drafts are invisible: 404); cached like the list."""
        return polls.cached_json(lambda: _sale(campaign_id))


def _sale(campaign_id: int) -> tuple[dict, dict]:
    campaign = services.published_sale(campaign_id)
    if campaign is None:
        raise NotFound("No such flash sale.")
    return CampaignOutSchema().dump(services.with_remaining([campaign])[0]), {}


@bp.route("/flashsales/<int:campaign_id>/claims")
class Claims(MethodView):
    @auth_required("claim.create")
    @bp.response(201, ClaimSchema)
    @bp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, campaign_id):
        """Snap up one ticket. Repeating the Idempotency-Key returns the first answer.

        A ``queue``-mode sale also needs the ``Queue-Pass`` header (the waiting room's pass):
        403 ``pass_required`` / ``pass_invalid`` / ``pass_expired``; every claim with one pass
        answers with the same voucher."""
        # The hottest route answers with ready JSON: refusals (sold out above all) skip Flask's
        # exception dispatch, and the 201 skips the schema dump; a test holds the body equal to
        # ClaimSchema's dump of it, so the document still describes what is sent.
        try:
            body = claims.claim(
                current_principal(), campaign_id, request.headers.get("Idempotency-Key"),
                request.headers.get(room.PASS_HEADER),
            )  # fmt: skip
        except Problem as refusal:
            return problem_response(refusal)
        return claims.claim_response(body)


# The same route in the fast lane (marketplace/fastlane.py): a claim without a body or query
# string, with a valid member token, is answered here without Flask's request machinery; every
# other request reaches the view above. tests/flashsale/test_fastlane.py holds the two equal.
CLAIM_PATH = r"/api/v1/flashsales/([1-9][0-9]{0,17})/claims"
CLAIM_RULE = "/api/v1/flashsales/<int:campaign_id>/claims"


def fast_claim(req: dict, match) -> fastlane.Answer:
    body = claims.claim(
        current_principal(), int(match[1]), req.get("HTTP_IDEMPOTENCY_KEY"),
        fastlane.header(req, room.PASS_HEADER),
    )  # fmt: skip
    return 201, [("Content-Type", "application/json")], claims.claim_document(body).encode()


def fast_poll(req: dict, match) -> fastlane.Answer:
    """A sale or sale-list page from the process's micro-cache (flashsale/polls.py); a miss
    goes to the view, which builds and caches it."""
    body = polls.fresh(req["PATH_INFO"], req.get("QUERY_STRING", "").encode("latin-1"))
    if body is None:
        raise fastlane.Fallback
    return polls.answer(body, req.get("HTTP_IF_NONE_MATCH"))


def init_fast_lane(app) -> None:
    fastlane.route(app, "POST", CLAIM_PATH, rule=CLAIM_RULE, action="claim.create")(fast_claim)
    fastlane.route(app, "GET", r"/api/v1/flashsales", rule="/api/v1/flashsales",
                   action="sale.browse", query=True)(fast_poll)  # fmt: skip
    fastlane.route(app, "GET", r"/api/v1/flashsales/[1-9][0-9]{0,17}",
                   rule="/api/v1/flashsales/<int:campaign_id>",
                   action="sale.browse")(fast_poll)  # fmt: skip


@bp.route("/me/vouchers")
class MyVouchers(MethodView):
    @auth_required("voucher.own")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(SaleVoucherSchema, "VoucherPageSchema"))
    def get(self, args):
        """The member's vouchers, newest first."""
        page = paginate(vouchers.own_vouchers(current_principal().member_id), **args)
        return page.as_response()


@bp.route("/me/vouchers/<code>")
class MyVoucher(MethodView):
    @auth_required("voucher.own")
    @bp.response(200, SaleVoucherSchema)
    def get(self, code):
        return vouchers.get_own(current_principal().member_id, code)


@bp.route("/me/vouchers/<code>/cancel")
class CancelVoucher(MethodView):
    @auth_required("voucher.own")
    @bp.response(200, SaleVoucherSchema)
    def post(self, code):
        """Give the ticket back before the sale's cancel deadline."""
        return vouchers.cancel(current_principal(), code)
