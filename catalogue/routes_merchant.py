"""Merchant API: the directory profile, discount offers and group-buys of the caller's merchant.

Owners and clerks may read and redeem; only owners create or change. Another merchant's offer
or group-buy answers 404, as if it did not exist.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace import permissions
from marketplace.auth import auth_required, current_principal
from marketplace.errors import PROBLEM_MIME, Forbidden, ProblemSchema
from marketplace.pagination import PageArgsSchema, page_schema

from . import directory, states
from . import groupbuy_admin as groupbuys
from .schemas import GroupBuySchema, OfferPatchSchema, OfferSchema, ProfileSchema, RedeemedSchema
from .schemas import RedeemSchema as RedeemArgs

bp = Blueprint(
    "catalogue_merchant",
    __name__,
    url_prefix="/api/v1/merchant",
    description="Merchants: profile, offers and group-buys",
)


def _merchant(action: str):
    return permissions.staff_merchant(current_principal(), action)


def _actor():
    return permissions.Actor(current_principal())


@bp.route("/profile")
class Profile(MethodView):
    @auth_required("profile.edit")
    @bp.arguments(ProfileSchema)
    @bp.response(200, ProfileSchema)
    def put(self, data):
        """Opening hours, photo and search keywords shown in the member directory."""
        return directory.update_profile(_merchant("profile.edit"), _actor(), **data)


@bp.route("/offers")
class Offers(MethodView):
    @auth_required("offer.view")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(OfferSchema, "MerchantOfferPageSchema"))
    def get(self, args):
        """The merchant's offers, newest first (every status)."""
        return directory.merchant_offers(_merchant("offer.view"), **args).as_response()

    @auth_required("offer.create")
    @bp.arguments(OfferSchema)
    @bp.response(201, OfferSchema)
    def post(self, data):
        """Publish a discount offer (``status: draft`` keeps it hidden)."""
        return directory.create_offer(_merchant("offer.create"), _actor(), data)


@bp.route("/offers/<int:offer_id>")
class OfferItem(MethodView):
    @auth_required("offer.view")
    @bp.response(200, OfferSchema)
    def get(self, offer_id):
        """One of the merchant's offers."""
        return directory.own_offer(_merchant("offer.view"), offer_id)

    @auth_required("offer.edit")
    @bp.arguments(OfferPatchSchema)
    @bp.response(200, OfferSchema)
    def patch(self, data, offer_id):
        """Change an offer; ``status: withdrawn`` removes it from members' lists."""
        merchant = _merchant("offer.edit")
        offer = directory.own_offer(merchant, offer_id)
        return directory.update_offer(merchant, offer, _actor(), data)


@bp.route("/groupbuys")
class GroupBuys(MethodView):
    @auth_required("groupbuy.view")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(GroupBuySchema, "MerchantGroupBuyPageSchema"))
    def get(self, args):
        """The merchant's group-buys, newest first."""
        return groupbuys.merchant_groupbuys(_merchant("groupbuy.view"), **args).as_response()

    @auth_required("groupbuy.create")
    @bp.arguments(GroupBuySchema)
    @bp.response(201, GroupBuySchema)
    def post(self, data):
        """Create a group-buy; its deadline job is scheduled at once."""
        return groupbuys.create_groupbuy(_merchant("groupbuy.create"), _actor(), data)


@bp.route("/groupbuys/<int:deal_id>")
class GroupBuyItem(MethodView):
    @auth_required("groupbuy.view")
    @bp.response(200, GroupBuySchema)
    def get(self, deal_id):
        """One of the merchant's group-buys with its state and joined count."""
        return groupbuys.own_groupbuy(_merchant("groupbuy.view"), deal_id)


@bp.route("/groupbuys/<int:deal_id>/cancel")
class Cancel(MethodView):
    @auth_required("groupbuy.cancel")
    @bp.response(200, GroupBuySchema)
    def post(self, deal_id):
        """Call an open group-buy off: nobody gets a voucher, participants are told."""
        merchant = _merchant("groupbuy.cancel")
        deal = groupbuys.own_groupbuy(merchant, deal_id)
        states.cancel_deal(deal, _actor())
        return groupbuys.own_groupbuy(merchant, deal_id)


@bp.route("/groupbuy-redemptions")
class Redeem(MethodView):
    @auth_required("voucher.redeem")
    @bp.arguments(RedeemArgs)
    @bp.response(200, RedeemedSchema)
    @bp.alt_response(
        409,
        schema=ProblemSchema,
        content_type=PROBLEM_MIME,
        description="already_redeemed, voucher_expired",
    )
    def post(self, data):
        """Redeem a group-buy voucher at the counter (the member pays the member price)."""
        merchant = _merchant("voucher.redeem")
        if permissions.redemption_paused(merchant):
            raise Forbidden("Redemption is paused for this merchant.", code="merchant_suspended")
        return groupbuys.redeem_voucher(merchant, data["code"], current_principal().account_id)
