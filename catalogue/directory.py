"""Services for the merchant directory, discount offers and favourites (no Flask request here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload

from marketplace import permissions
from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.merchants import Merchant
from marketplace.models import record_audit, utcnow
from marketplace.pagination import Page, paginate

from . import cache, search
from .models import Favourite, MerchantProfile, Offer
from .visibility import city_of, viewer, visible_clause

LISTED = "approved"  # pending, rejected and suspended merchants vanish from every member list


# -- merchants --------------------------------------------------------------------------------


def merchant_search_text():
    """Profile text (names, keywords, address at the last profile save) plus live names."""
    return (
        func.coalesce(MerchantProfile.search_text, "")
        + " "
        + func.lower(Merchant.name_zh)
        + " "
        + func.lower(func.coalesce(Merchant.name_en, ""))
        + " "
        + func.lower(Merchant.address)
    )


def list_merchants(*, category=None, district=None, q=None, page=1, per_page=20) -> Page:
    key = (category, district, q or "", page, per_page)
    return cache.cached("merchants", key, lambda: _merchants(category, district, q, page, per_page))


def _merchants(category, district, q, page, per_page) -> Page:
    stmt = (
        select(Merchant)
        .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Merchant.id)
        .options(contains_eager(Merchant.profile))
        .where(Merchant.status == LISTED)
        .order_by(Merchant.name_zh, Merchant.id)
    )
    if category:
        stmt = stmt.where(Merchant.category == category)
    if district:
        stmt = stmt.where(Merchant.region == district)
    clause = search.matches(merchant_search_text(), q)
    if clause is not None:
        stmt = stmt.where(clause)
    return paginate(stmt, page, per_page)


def get_listed_merchant(merchant_id: int) -> Merchant:
    merchant = db.session.execute(
        select(Merchant)
        .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Merchant.id)
        .options(contains_eager(Merchant.profile))
        .where(Merchant.id == merchant_id, Merchant.status == LISTED)
    ).scalar_one_or_none()
    if merchant is None:
        raise NotFound("No such merchant.")
    return merchant


def offer_counts(merchant_ids, who, now: datetime | None = None) -> dict[int, int]:
    """Current offers visible to ``who`` per merchant, for a whole page in one query."""
    if not merchant_ids:
        return {}
    if now is None:
        key = (viewer(who).region, tuple(sorted(merchant_ids)))
        return cache.cached("offer_counts", key, lambda: _offer_counts(merchant_ids, who))
    return _offer_counts(merchant_ids, who, now)


def _offer_counts(merchant_ids, who, now: datetime | None = None) -> dict[int, int]:
    rows = db.session.execute(
        select(Offer.merchant_id, func.count())
        .where(
            Offer.merchant_id.in_(list(merchant_ids)), *_current(now), visible_clause(Offer, who)
        )
        .group_by(Offer.merchant_id)
    )
    return dict(rows.all())


def update_profile(merchant: Merchant, actor, **fields) -> MerchantProfile:
    profile = db.session.get(MerchantProfile, merchant.id) or MerchantProfile(
        merchant_id=merchant.id
    )
    for key in ("opening_hours", "photo_url", "keywords"):
        if key in fields:
            setattr(profile, key, fields[key] if fields[key] is not None else _blank(key))
    profile.search_text = search.normalise(
        merchant.name_zh, merchant.name_en, profile.keywords, merchant.address
    )
    profile.updated_at = utcnow()
    db.session.add(profile)
    record_audit(
        "merchant.profile_updated",
        "merchant",
        merchant.id,
        actor=actor,
        merchant_id=merchant.id,
        data={k: fields[k] for k in sorted(fields)},
    )
    db.session.commit()
    return profile


def _blank(key: str):
    return None if key == "photo_url" else ""


# -- offers -----------------------------------------------------------------------------------


def _current(now: datetime | None = None):
    now = now or utcnow()
    return (Offer.status == "published", Offer.valid_from <= now, Offer.valid_until > now)


def list_offers(who, *, category=None, merchant_id=None, q=None, page=1, per_page=20) -> Page:
    key = (viewer(who).region, category, merchant_id, q or "", page, per_page)
    return cache.cached(
        "offers", key, lambda: _offers(who, category, merchant_id, q, page, per_page)
    )


def _offers(who, category, merchant_id, q, page, per_page) -> Page:
    stmt = (
        select(Offer)
        .join(Merchant, Merchant.id == Offer.merchant_id)
        .options(contains_eager(Offer.merchant))
        .where(Merchant.status == LISTED, *_current(), visible_clause(Offer, who))
        .order_by(Offer.valid_until, Offer.id)
    )
    if category:
        stmt = stmt.where(Offer.category == category)
    if merchant_id:
        stmt = stmt.where(Offer.merchant_id == merchant_id)
    clause = search.matches(Offer.search_text, q)
    if clause is not None:
        stmt = stmt.where(clause)
    return paginate(stmt, page, per_page)


def get_visible_offer(offer_id: int, who) -> Offer:
    """404 for offers the member may not see: their existence is not the member's business."""
    offer = db.session.execute(
        select(Offer)
        .join(Merchant, Merchant.id == Offer.merchant_id)
        .options(contains_eager(Offer.merchant))
        .where(
            Offer.id == offer_id, Merchant.status == LISTED, *_current(), visible_clause(Offer, who)
        )
    ).scalar_one_or_none()
    if offer is None:
        raise NotFound("No such offer.")
    return offer


def require_active(merchant: Merchant, action: str) -> None:
    """The selling rule of :mod:`marketplace.permissions` for ``action``; the catalogue API has
    always answered ``merchant_not_active`` for suspended merchants too (clients rely on it)."""
    try:
        permissions.check_selling(merchant, action)
    except Forbidden:
        raise Forbidden(
            "Only approved merchants can publish.", code="merchant_not_active"
        ) from None


def _check_validity(valid_from, valid_until) -> None:
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidationFailed(errors={"valid_until": ["Must be after valid_from."]})


def create_offer(merchant: Merchant, actor, data: dict) -> Offer:
    require_active(merchant, "offer.create")
    _check_validity(data["valid_from"], data["valid_until"])
    regions = data.pop("regions", [])
    offer = Offer(merchant_id=merchant.id, city=city_of(merchant.region) or "", **data)
    offer.regions = regions
    offer.search_text = search.normalise(
        offer.title, offer.title_en, offer.terms, merchant.name_zh, merchant.name_en
    )
    db.session.add(offer)
    db.session.flush()
    record_audit("offer.created", "offer", offer.id, actor=actor, merchant_id=merchant.id)
    db.session.commit()
    return offer


def own_offer(merchant: Merchant, offer_id: int) -> Offer:
    return permissions.own(db.session.get(Offer, offer_id), merchant.id, "offer")


def update_offer(merchant: Merchant, offer: Offer, actor, data: dict) -> Offer:
    if data.get("status") == "published" or offer.status == "published":
        require_active(merchant, "offer.publish")
    if "regions" in data:
        offer.regions = data.pop("regions")
    for key, value in data.items():
        setattr(offer, key, value)
    _check_validity(offer.valid_from, offer.valid_until)
    offer.search_text = search.normalise(
        offer.title, offer.title_en, offer.terms, merchant.name_zh, merchant.name_en
    )
    offer.updated_at = utcnow()
    record_audit(
        "offer.updated",
        "offer",
        offer.id,
        actor=actor,
        merchant_id=merchant.id,
        data={"fields": sorted(data)},
    )
    db.session.commit()
    return offer


def merchant_offers(merchant: Merchant, page: int, per_page: int) -> Page:
    stmt = (
        select(Offer)
        .options(joinedload(Offer.merchant))
        .where(Offer.merchant_id == merchant.id)
        .order_by(Offer.id.desc())
    )
    return paginate(stmt, page, per_page)


# -- favourites -------------------------------------------------------------------------------


def add_favourite(member_id: int, offer: Offer) -> None:
    if db.session.get(Favourite, (member_id, offer.id)) is not None:
        return
    db.session.add(Favourite(member_id=member_id, offer_id=offer.id))
    try:
        db.session.commit()
    except IntegrityError:  # a double tap saved it already
        db.session.rollback()


def remove_favourite(member_id: int, offer_id: int) -> None:
    db.session.execute(
        db.delete(Favourite).where(Favourite.member_id == member_id, Favourite.offer_id == offer_id)
    )
    db.session.commit()


def list_favourites(member_id: int, who, page: int, per_page: int) -> Page:
    """Saved offers that are still current and visible (expired ones drop out of the list)."""
    stmt = (
        select(Offer)
        .join(Favourite, Favourite.offer_id == Offer.id)
        .join(Merchant, Merchant.id == Offer.merchant_id)
        .options(contains_eager(Offer.merchant))
        .where(
            Favourite.member_id == member_id,
            Merchant.status == LISTED,
            *_current(),
            visible_clause(Offer, who),
        )
        .order_by(Favourite.created_at.desc())
    )
    return paginate(stmt, page, per_page)


def favourite_ids(member_id: int, offer_ids) -> set[int]:
    if not offer_ids:
        return set()
    rows = db.session.execute(
        select(Favourite.offer_id).where(
            Favourite.member_id == member_id, Favourite.offer_id.in_(list(offer_ids))
        )
    )
    return set(rows.scalars())
