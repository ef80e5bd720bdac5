"""Member pages: home, directory, merchant, offer, group-buys and "my group-buys" (/m/...).

Server-rendered and mobile-first. Each list page runs a fixed number of queries whatever the
number of items (tests/catalogue/test_query_counts.py counts them).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from marketplace.auth.decorators import page_required
from marketplace.errors import Problem
from marketplace.members.identity import regions as region_table
from marketplace.models import utcnow

from . import directory, groupbuys
from .schemas import MEMBER_CATEGORIES

bp = Blueprint("catalogue_pages", __name__, url_prefix="/m", template_folder="templates")

PER_PAGE = 20


def _int_arg(name: str, default: int = 1, high: int = 100_000) -> int:
    value = request.args.get(name, "")
    return min(int(value), high) if value.isdigit() and int(value) >= 1 else default


@bp.app_context_processor
def catalogue_helpers():
    return {
        "region_name": _region_name,
        "yuan": lambda cents: f"{cents / 100:,.2f}".rstrip("0").rstrip("."),
    }


def _region_name(code: str | None) -> str:
    row = region_table().get(code or "")
    if row is None:
        return code or ""
    from flask_babel import get_locale

    return row["name_en"] if str(get_locale() or "").startswith("en") else row["name_zh"]


@bp.get("/home")
@page_required("directory.browse")
def home():
    """The member home moved to ``/m/`` (the shell's, one home): old links and bookmarks follow."""
    return redirect("/m/", code=301)


def home_context(principal) -> dict:
    """What the member home shows from the catalogue: sales, popular group-buys, categories."""
    popular = groupbuys.list_groupbuys(principal, sort="popular", per_page=6)
    return {
        "sales": _sales(principal),
        "popular": popular.items,
        "categories": MEMBER_CATEGORIES,
        "district": principal.region,
    }


def _sales(principal, limit: int = 6) -> list:
    """Live and upcoming flash sales the member may see."""
    from sqlalchemy import select

    from flashsale.models import Campaign
    from marketplace.extensions import db

    from .visibility import visible_to

    rows = db.session.execute(
        select(Campaign)
        .where(Campaign.status.in_(("scheduled", "live")), Campaign.ends_at > utcnow())
        .order_by(Campaign.starts_at)
        .limit(limit * 4)
    ).scalars()
    return [c for c in rows if visible_to(principal, c.regions)][:limit]


@bp.get("/directory")
@page_required("directory.browse")
def directory_page():
    category = request.args.get("category") or None
    if category not in (None, *MEMBER_CATEGORIES, "other"):
        category = None
    district = request.args.get("district") or None
    if district and district not in region_table():
        district = None
    q = (request.args.get("q") or "")[:100]
    page = directory.list_merchants(
        category=category, district=district, q=q, page=_int_arg("page"), per_page=PER_PAGE
    )
    counts = directory.offer_counts([m.id for m in page.items], g.principal)
    return render_template(
        "catalogue/directory.html",
        page=page,
        counts=counts,
        q=q,
        category=category,
        district=district,
        categories=MEMBER_CATEGORIES,
        regions=region_table(),
    )


@bp.get("/merchants/<int:merchant_id>")
@page_required("directory.browse")
def merchant(merchant_id: int):
    merchant = _or_404(directory.get_listed_merchant, merchant_id)
    offers = directory.list_offers(g.principal, merchant_id=merchant.id, per_page=100)
    deals = groupbuys.list_groupbuys(g.principal, merchant_id=merchant.id, per_page=100)
    return render_template(
        "catalogue/merchant.html", merchant=merchant, offers=offers.items, deals=deals.items
    )


@bp.get("/offers/<int:offer_id>")
@page_required("directory.browse")
def offer(offer_id: int):
    offer = _or_404(directory.get_visible_offer, offer_id, g.principal)
    saved = offer.id in directory.favourite_ids(g.principal.member_id, [offer.id])
    return render_template("catalogue/offer.html", offer=offer, saved=saved)


@bp.post("/offers/<int:offer_id>/favourite")
@page_required("offer.favourite")
def toggle_favourite(offer_id: int):
    offer = _or_404(directory.get_visible_offer, offer_id, g.principal)
    if request.form.get("save") == "1":
        directory.add_favourite(g.principal.member_id, offer)
    else:
        directory.remove_favourite(g.principal.member_id, offer.id)
    return redirect(url_for(".offer", offer_id=offer.id))


@bp.get("/groupbuys")
@page_required("groupbuy.browse")
def groupbuy_list():
    sort = "popular" if request.args.get("sort") == "popular" else "deadline"
    page = groupbuys.list_groupbuys(
        g.principal,
        sort=sort,
        q=(request.args.get("q") or "")[:100],
        page=_int_arg("page"),
        per_page=PER_PAGE,
    )
    return render_template("catalogue/groupbuys.html", page=page, sort=sort)


@bp.get("/groupbuys/<int:deal_id>")
@page_required("groupbuy.browse")
def groupbuy(deal_id: int):
    p = g.principal
    deal = _or_404(groupbuys.get_visible_groupbuy, deal_id, p, p.member_id)
    place = groupbuys.my_place(deal.id, p.member_id)
    teams = groupbuys.forming_teams(deal.id) if deal.mode == "team" else []
    voucher = groupbuys.vouchers_for([place.id]).get(place.id) if place else None
    return render_template(
        "catalogue/groupbuy.html",
        deal=deal,
        place=place,
        teams=teams,
        voucher=voucher,
        now=utcnow(),
        invited=_int_arg("team", 0),
    )


@bp.post("/groupbuys/<int:deal_id>/join")
@page_required("groupbuy.join")
def join(deal_id: int):
    p = g.principal
    deal = _or_404(groupbuys.get_visible_groupbuy, deal_id, p)
    team_id = request.form.get("team_id", "")
    try:
        groupbuys.join(
            deal,
            p,
            team_id=int(team_id) if team_id.isdigit() else None,
            request_id=request.form.get("request_id") or None,
        )
        flash(_("You joined the group-buy."), "success")
    except Problem as exc:
        flash(_message(exc), "error")
    return redirect(url_for(".groupbuy", deal_id=deal_id))


@bp.post("/groupbuys/<int:deal_id>/leave")
@page_required("groupbuy.join")
def leave(deal_id: int):
    p = g.principal
    deal = _or_404(groupbuys.get_visible_groupbuy, deal_id, p, p.member_id)
    try:
        groupbuys.leave(deal, p.member_id)
        flash(_("You left the group-buy."), "success")
    except Problem as exc:
        flash(_message(exc), "error")
    return redirect(url_for(".groupbuy", deal_id=deal_id))


@bp.get("/my/groupbuys")
@page_required("groupbuy.join")
def my_groupbuys():
    member_id = g.principal.member_id
    page = groupbuys.my_groupbuys(member_id, page=_int_arg("page"), per_page=PER_PAGE)
    vouchers = groupbuys.vouchers_for([p.id for p in page.items])
    return render_template(
        "catalogue/my_groupbuys.html",
        page=page,
        vouchers=vouchers,
        notices=groupbuys.my_notices(member_id),
    )


def _or_404(func, *args):
    try:
        return func(*args)
    except Problem as exc:
        if exc.status == 404:
            abort(404)
        raise


def _message(exc: Problem) -> str:
    messages = {
        "groupbuy_full": _("Sorry, every place is taken."),
        "already_joined": _("You already have a place in this group-buy."),
        "not_open": _("Joining has not opened yet."),
        "closed": _("Joining has closed."),
        "team_closed": _("This team is no longer forming."),
        "team_not_found": _("This team does not exist."),
        "not_joined": _("You have no place in this group-buy."),
        "card_inactive": _("Activate your card to join group-buys."),
    }
    return messages.get(exc.code, _("Something went wrong. Please try again."))
