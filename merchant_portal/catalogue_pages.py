"""Portal pages for discount offers and group-buys (/merchant/offers, /merchant/groupbuys).

They call the catalogue's merchant-side services, the ones the JSON API
(``catalogue.routes_merchant``) calls, after the portal's checks in
:mod:`marketplace.permissions`: clerks may look, owners change, a suspended merchant cannot
create, and another merchant's offer or group-buy is 404.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from catalogue import services as catalogue
from marketplace import permissions
from marketplace.errors import Problem
from marketplace.pagination import page_arg
from marketplace.permissions import Actor

from . import sales
from .catalogue_forms import GROUPBUY_FIELDS, GroupBuyForm, OfferForm
from .forms import ActionForm, ProfileForm
from .merchant_pages import bp, portal
from .web import apply_errors, message

PER_PAGE = 50


def _can_write() -> bool:
    return permissions.allows(g.principal.role, "offer.edit")


# --------------------------------------------------------------------------- offers


@bp.get("/offers")
@portal("offer.view")
def offer_list():
    merchant = permissions.staff_merchant(g.principal, "offer.view")
    page = catalogue.merchant_offers(merchant, page=page_arg(), per_page=PER_PAGE)
    return render_template(
        "merchant_portal/offers.html", merchant=merchant, page=page, can_write=_can_write()
    )


def _offer_form(form, offer, status=200):
    return render_template("merchant_portal/offer_form.html", form=form, offer=offer), status


@bp.route("/offers/new", methods=["GET", "POST"])
@portal("offer.create")
def offer_new():
    merchant = permissions.merchant_for(g.principal, "offer.create")
    form = OfferForm()
    if not form.validate_on_submit():
        return _offer_form(form, None, 422 if form.errors else 200)
    try:
        offer = catalogue.create_offer(merchant, Actor(g.principal), form.values())
    except Problem as exc:
        apply_errors(form, exc)
        flash(message(exc), "error")
        return _offer_form(form, None, exc.status)
    flash(_("The offer is saved."), "success")
    return redirect(url_for("merchant_pages.offer_list", _anchor=f"offer-{offer.id}"))


@bp.route("/offers/<int:offer_id>/edit", methods=["GET", "POST"])
@portal("offer.edit")
def offer_edit(offer_id: int):
    merchant = permissions.staff_merchant(g.principal, "offer.edit")
    offer = catalogue.own_offer(merchant, offer_id)
    form = OfferForm()
    if request.method == "GET":
        form.fill(offer)
        return _offer_form(form, offer)
    if not form.validate_on_submit():
        return _offer_form(form, offer, 422)
    try:
        catalogue.update_offer(merchant, offer, Actor(g.principal), form.values())
    except Problem as exc:
        apply_errors(form, exc)
        flash(message(exc), "error")
        return _offer_form(form, offer, exc.status)
    flash(_("Saved."), "success")
    return redirect(url_for("merchant_pages.offer_list", _anchor=f"offer-{offer_id}"))


# --------------------------------------------------------------------------- group-buys


@bp.get("/groupbuys")
@portal("groupbuy.view")
def groupbuy_list():
    merchant = permissions.staff_merchant(g.principal, "groupbuy.view")
    page = catalogue.merchant_groupbuys(merchant, page=page_arg(), per_page=PER_PAGE)
    return render_template(
        "merchant_portal/groupbuys.html", merchant=merchant, page=page, can_write=_can_write()
    )


@bp.route("/groupbuys/new", methods=["GET", "POST"])
@portal("groupbuy.create")
def groupbuy_new():
    merchant = permissions.merchant_for(g.principal, "groupbuy.create")
    form = GroupBuyForm()
    if request.method == "GET":
        form.per_member_limit.data = 1
    if not form.validate_on_submit():
        status = 422 if form.errors else 200
        return render_template("merchant_portal/groupbuy_form.html", form=form), status
    try:
        deal = catalogue.create_groupbuy(merchant, Actor(g.principal), form.values())
    except Problem as exc:
        apply_errors(form, exc, GROUPBUY_FIELDS)
        flash(message(exc), "error")
        return render_template("merchant_portal/groupbuy_form.html", form=form), exc.status
    flash(_("The group-buy is open: members can find it now."), "success")
    return redirect(url_for("merchant_pages.groupbuy_detail", deal_id=deal.id))


@bp.get("/groupbuys/<int:deal_id>")
@portal("groupbuy.view")
def groupbuy_detail(deal_id: int):
    merchant = permissions.staff_merchant(g.principal, "groupbuy.view")
    deal = catalogue.own_groupbuy(merchant, deal_id)
    return render_template(
        "merchant_portal/groupbuy.html",
        deal=deal,
        people=catalogue.participants(deal),
        can_write=_can_write(),
    )


@bp.post("/groupbuys/<int:deal_id>/cancel")
@portal("groupbuy.cancel")
def groupbuy_cancel(deal_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    merchant = permissions.staff_merchant(g.principal, "groupbuy.cancel")
    deal = catalogue.own_groupbuy(merchant, deal_id)
    try:
        catalogue.cancel_deal(deal, Actor(g.principal))
    except Problem as exc:
        flash(message(exc), "error")
    else:
        flash(_("The group-buy is cancelled; its participants are told."), "success")
    return redirect(url_for("merchant_pages.groupbuy_detail", deal_id=deal_id))


# --------------------------------------------------------------------------- shop profile


def _profile_form(form, merchant, status=200):
    return render_template("merchant_portal/profile.html", form=form, merchant=merchant), status


@bp.route("/profile", methods=["GET", "POST"])
@portal("profile.edit")
def profile():
    """The shop's directory profile (what ``PUT /api/v1/merchant/profile`` edits) with the
    phone and address of its application; the photo is stored as the sale covers are."""
    merchant = permissions.staff_merchant(g.principal, "profile.edit")
    form = ProfileForm()
    if request.method == "GET":
        current = merchant.profile
        form.opening_hours.data = current.opening_hours if current else ""
        form.keywords.data = current.keywords if current else ""
        form.contact_phone.data = merchant.contact_phone
        form.address.data = merchant.address
        return _profile_form(form, merchant)
    if not form.validate_on_submit():
        return _profile_form(form, merchant, 422)
    fields = {
        "opening_hours": (form.opening_hours.data or "").strip(),
        "keywords": (form.keywords.data or "").strip(),
    }
    upload = form.photo.data
    try:
        if upload and getattr(upload, "filename", ""):
            image = sales.save_cover(g.principal, upload.read())
            fields["photo_url"] = url_for("merchant_pages.cover", image_id=image.id, _external=True)
        elif form.remove_photo.data:
            fields["photo_url"] = None
    except Problem as exc:
        if not apply_errors(form, exc, {"cover": "photo"}):
            form.photo.errors = [*form.photo.errors, message(exc)]
        return _profile_form(form, merchant, exc.status)
    for name in ("contact_phone", "address"):
        value = getattr(form, name).data.strip()
        if value != getattr(merchant, name):
            setattr(merchant, name, value)
            fields[name] = value
    catalogue.update_profile(merchant, Actor(g.principal), **fields)
    flash(_("The shop profile is saved."), "success")
    return redirect(url_for("merchant_pages.profile"))
