"""Member API: the merchant directory, offers and favourites, group-buys (join, leave, mine).

Every endpoint needs a member token: what a member may see depends on their region.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.auth import auth_required, current_principal
from marketplace.errors import PROBLEM_MIME, ProblemSchema
from marketplace.pagination import PageArgsSchema, page_schema

from . import directory, groupbuys
from .schemas import (
    DirectoryMerchantDetailSchema,
    DirectoryMerchantSchema,
    GroupBuyDetailSchema,
    GroupBuyListArgs,
    GroupBuySchema,
    JoinSchema,
    MerchantListArgs,
    MyPlaceSchema,
    MyTeamSchema,
    OfferListArgs,
    OfferSchema,
    PlaceSchema,
)

bp = Blueprint(
    "catalogue",
    __name__,
    url_prefix="/api/v1",
    description="Merchant directory, discount offers and group-buys",
)


@bp.route("/merchants")
class Merchants(MethodView):
    @auth_required("directory.browse")
    @bp.arguments(MerchantListArgs, location="query")
    @bp.response(200, page_schema(DirectoryMerchantSchema))
    def get(self, args):
        """Approved merchants by category, district and keywords (Chinese or English)."""
        page = directory.list_merchants(**args)
        counts = directory.offer_counts([m.id for m in page.items], current_principal())
        page.items = [_with(m, current_offers=counts.get(m.id, 0)) for m in page.items]
        return page.as_response()


@bp.route("/merchants/<int:merchant_id>")
class MerchantDetail(MethodView):
    @auth_required("directory.browse")
    @bp.response(200, DirectoryMerchantDetailSchema)
    def get(self, merchant_id):
        """A merchant with the current offers the caller may see."""
        merchant = directory.get_listed_merchant(merchant_id)
        offers = directory.list_offers(current_principal(), merchant_id=merchant.id, per_page=100)
        return _with(merchant, offers=offers.items, current_offers=offers.total)


@bp.route("/offers")
class Offers(MethodView):
    @auth_required("directory.browse")
    @bp.arguments(OfferListArgs, location="query")
    @bp.response(200, page_schema(OfferSchema))
    def get(self, args):
        """Current discount offers open to the caller's region."""
        principal = current_principal()
        page = directory.list_offers(principal, **args)
        saved = directory.favourite_ids(principal.member_id, [o.id for o in page.items])
        page.items = [_with(o, favourite=o.id in saved) for o in page.items]
        return page.as_response()


@bp.route("/offers/<int:offer_id>")
class OfferDetail(MethodView):
    @auth_required("directory.browse")
    @bp.response(200, OfferSchema)
    def get(self, offer_id):
        """One offer with its terms."""
        principal = current_principal()
        offer = directory.get_visible_offer(offer_id, principal)
        return _with(
            offer, favourite=bool(directory.favourite_ids(principal.member_id, [offer.id]))
        )


@bp.route("/offers/favourites")
class Favourites(MethodView):
    @auth_required("offer.favourite")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(OfferSchema, "FavouriteOfferPageSchema"))
    def get(self, args):
        """The caller's saved offers that are still current."""
        principal = current_principal()
        page = directory.list_favourites(principal.member_id, principal, **args)
        page.items = [_with(o, favourite=True) for o in page.items]
        return page.as_response()


@bp.route("/offers/<int:offer_id>/favourite")
class Favourite(MethodView):
    @auth_required("offer.favourite")
    @bp.response(204)
    def put(self, offer_id):
        """Save an offer (idempotent)."""
        principal = current_principal()
        directory.add_favourite(
            principal.member_id, directory.get_visible_offer(offer_id, principal)
        )

    @auth_required("offer.favourite")
    @bp.response(204)
    def delete(self, offer_id):
        """Forget a saved offer (idempotent)."""
        directory.remove_favourite(current_principal().member_id, offer_id)


@bp.route("/groupbuys")
class GroupBuys(MethodView):
    @auth_required("groupbuy.browse")
    @bp.arguments(GroupBuyListArgs, location="query")
    @bp.response(200, page_schema(GroupBuySchema))
    def get(self, args):
        """Open group-buys the caller may join (``sort=popular`` for the most joined first)."""
        return groupbuys.list_groupbuys(current_principal(), **args).as_response()


def _detail(deal, member_id):
    from .engine import get_engine

    place = groupbuys.my_place(deal.id, member_id)
    remaining = max(0, deal.max_participants - deal.joined)
    if deal.mode == "team" and get_engine().pool_exists(deal.pool_id):
        remaining = get_engine().stats(deal.pool_id).remaining * deal.team_size
    teams = groupbuys.forming_teams(deal.id) if deal.mode == "team" else []
    return _with(deal, my_place=place, remaining=remaining, teams=teams)


@bp.route("/groupbuys/<int:deal_id>")
class GroupBuyDetail(MethodView):
    @auth_required("groupbuy.browse")
    @bp.response(200, GroupBuyDetailSchema)
    def get(self, deal_id):
        """A group-buy with how many joined, what is left, open teams and the caller's place."""
        principal = current_principal()
        deal = groupbuys.get_visible_groupbuy(deal_id, principal, principal.member_id)
        return _detail(deal, principal.member_id)


@bp.route("/groupbuys/<int:deal_id>/join")
class Join(MethodView):
    @auth_required("groupbuy.join")
    @bp.arguments(JoinSchema)
    @bp.response(201, PlaceSchema)
    @bp.alt_response(
        409,
        schema=ProblemSchema,
        content_type=PROBLEM_MIME,
        description="groupbuy_full, already_joined, not_open, closed",
    )
    def post(self, data, deal_id):
        """Take a place (team deals: ``team_id`` joins a team, none opens a new one).

        Send an ``Idempotency-Key`` header to retry safely: the same key answers with the same
        place."""
        principal = current_principal()
        deal = groupbuys.get_visible_groupbuy(deal_id, principal)
        key = request.headers.get("Idempotency-Key", "")[:64] or None
        return groupbuys.join(deal, principal, request_id=key, **data)


@bp.route("/groupbuys/<int:deal_id>/leave")
class Leave(MethodView):
    @auth_required("groupbuy.join")
    @bp.response(200, PlaceSchema)
    def post(self, deal_id):
        """Give the place back before the deadline (once; a second call answers 409 not_joined)."""
        principal = current_principal()
        deal = groupbuys.get_visible_groupbuy(deal_id, principal, principal.member_id)
        return groupbuys.leave(deal, principal.member_id)


@bp.route("/groupbuys/mine")
class Mine(MethodView):
    @auth_required("groupbuy.join")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(MyPlaceSchema))
    def get(self, args):
        """The caller's places, newest first, with team and voucher."""
        member_id = current_principal().member_id
        page = groupbuys.my_groupbuys(member_id, **args)
        vouchers = groupbuys.vouchers_for([p.id for p in page.items])
        page.items = [_with(p, voucher=vouchers.get(p.id)) for p in page.items]
        return page.as_response()


@bp.route("/groupbuys/teams/mine")
class MyTeams(MethodView):
    @auth_required("groupbuy.join")
    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, page_schema(MyTeamSchema))
    def get(self, args):
        """Teams the caller opened or joined."""
        return groupbuys.my_teams(current_principal().member_id, **args).as_response()


class _Decorated:
    """An ORM object plus computed fields, for dumping (never written back)."""

    def __init__(self, obj, **extra):
        self._obj, self._extra = obj, extra

    def __getattr__(self, name):
        if name in self._extra:
            return self._extra[name]
        return getattr(self._obj, name)


def _with(obj, **extra):
    return _Decorated(obj, **extra)
