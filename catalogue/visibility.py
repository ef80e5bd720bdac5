"""Who may see an offer, a group-buy or a flash sale: one rule, in Python and in SQL.

The rule (docs/catalogue.md, "Visibility"):

* A member's city is the ``city_code`` of their region in ``regions.csv`` (the region comes from
  the union roster of the city that issued the card, so it identifies the issuing city).
* An item belongs to the city of its merchant (``city``) and lists ``regions``; an empty list
  means every region of that city.
* A member of the item's city sees it when the list is empty or names their region.
* A member whose region is listed explicitly sees it, whatever their city.
* An item flagged ``alliance`` is also visible to members from any other city of the same
  alliance (``alliance`` column of regions.csv, ``jjj`` = Beijing-Tianjin-Hebei).
* Anyone else (another city, an unknown region, no region) does not see it.

Use :func:`visible_to` for one item and :func:`visible_clause` to filter a query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, false, or_

from marketplace.members.identity import regions as region_table


@dataclass(frozen=True)
class Viewer:
    region: str | None
    city: str | None
    alliance: str | None


def city_of(region: str | None) -> str | None:
    row = region_table().get(region or "")
    return row["city_code"] if row else None


def alliance_of_city(city: str | None) -> str | None:
    for row in region_table().values():
        if row["city_code"] == city:
            return row.get("alliance") or None
    return None


def alliance_cities(alliance: str | None) -> set[str]:
    if not alliance:
        return set()
    return {r["city_code"] for r in region_table().values() if r.get("alliance") == alliance}


def viewer(who) -> Viewer:
    """A Viewer from a region code, a Principal, a Member, or anything with ``region``."""
    region = who if isinstance(who, str) or who is None else getattr(who, "region", None)
    row = region_table().get(region or "")
    if row is None:
        return Viewer(region, None, None)
    return Viewer(region, row["city_code"], row.get("alliance") or None)


def visible_to(
    who, regions: Iterable[str] | None, alliance: bool = False, city: str | None = None
) -> bool:
    """Whether ``who`` (region code, Principal or Member) may see an item.

    ``city`` is the item's city; ``None`` means the city of its first listed region, else the
    member's own city (for callers such as flash sales that store no city: a city-wide item).
    """
    v = viewer(who)
    regions = set(regions or ())
    if v.region and v.region in regions:
        return True
    if v.city is None:
        return False
    if city is None:
        city = city_of(next(iter(sorted(regions)), None)) if regions else v.city
    if v.city == city:
        return not regions or v.region in regions
    return bool(alliance) and v.alliance is not None and v.alliance == alliance_of_city(city)


def visible_clause(model, who):
    """A WHERE clause on a model with ``RegionsMixin`` columns, equivalent to :func:`visible_to`."""
    v = viewer(who)
    if v.region is None:
        return false()
    listed = model.regions_key.like(f"%,{v.region},%")
    if v.city is None:
        return listed
    same_city = and_(model.city == v.city, or_(model.regions_key == "", listed))
    others = alliance_cities(v.alliance) - {v.city}
    if not others:
        return or_(same_city, listed)
    return or_(same_city, listed, and_(model.alliance.is_(True), model.city.in_(sorted(others))))
