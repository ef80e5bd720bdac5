"""Who may use a service: the rules a union admin sets as data on ``Service.rules``.

``rules`` keys (all optional):

- ``active_card`` (bool, default true): the member's card must be activated.
- ``min_months`` (int, default 0): whole months since the member joined the roster.
- ``regions`` (list of region codes or 2/4-digit prefixes, default: everywhere).
- ``levels`` (object, level -> amount in fen): an award paid by certificate level; the member
  picks one level and the amount is that level's.
- ``one_award_per_level`` (bool): at most one live application per member per level
  (a unique index on ``(member_id, award_key)``, not a check-then-insert).
"""

from __future__ import annotations

from datetime import datetime

from marketplace.models import utcnow

RULE_KEYS = ("active_card", "min_months", "regions", "levels", "one_award_per_level")


def months_between(start: datetime, end: datetime) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


def reasons(service, member, now: datetime | None = None) -> list[str]:
    """Why ``member`` may not use ``service`` (stable codes); empty when they may."""
    rules = service.rules or {}
    out = []
    if service.status != "open":
        out.append("service_closed")
    card = member.current_card
    if rules.get("active_card", True) and not (card is not None and card.is_active):
        out.append("card_not_active")
    min_months = int(rules.get("min_months") or 0)
    if min_months and months_between(member.created_at, now or utcnow()) < min_months:
        out.append("membership_too_short")
    regions = rules.get("regions") or []
    if regions and not any(member.region.startswith(r) for r in regions):
        out.append("region_not_covered")
    return out


def describe(service) -> list[tuple[str, object]]:
    """The rules as (code, value) pairs, for the pages to say who is eligible."""
    rules = service.rules or {}
    out: list[tuple[str, object]] = []
    if rules.get("active_card", True):
        out.append(("active_card", True))
    if rules.get("min_months"):
        out.append(("min_months", int(rules["min_months"])))
    if rules.get("regions"):
        out.append(("regions", list(rules["regions"])))
    if rules.get("levels"):
        out.append(("levels", dict(rules["levels"])))
    if rules.get("one_award_per_level"):
        out.append(("one_award_per_level", True))
    if service.max_amount_cents:
        out.append(("max_amount", service.max_amount_cents))
    return out
