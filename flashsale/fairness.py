"""Fairness figures of a sale, published by the union after it (docs/flashsale.md "Fairness in
the open"): entrants, winners, win rate by branch and by prior-win history, and members excluded
and why. Aggregates only: no member is named.

Who counts as an entrant depends on the mode:

- ``lottery``: every registration (``lottery_entries``);
- ``queue``: everyone who joined the waiting room (the room's keys in Redis);
- ``first_come``: every member whose claim reached the stock engine (the per-member budget
  field the reserve script writes for every decision, winners' counts too) — so it needs the
  pool, and ``FLASHSALE_CLAIM_RATE`` > 0. Members refused earlier (card, region, quota, ban)
  and presses refused from a process's memory once the pool sold out are not counted: the
  figure is "who asked while tickets remained" (``entrants_basis``: ``reached_stock``).

The figures are computed once and stored (``sale_fairness``): the pool and the room are deleted
when a sale is retired, the stored figures stay.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db, get_redis
from marketplace.members.models import Member
from marketplace.models import record_audit, utcnow
from marketplace.orgs.models import Org

from .hotpath import get_engine
from .models import Campaign, LotteryEntry, NoShowBan, SaleFairness, Voucher

HISTORY_DAYS = 180
BASIS = {
    "lottery": "registered",
    "queue": "joined_room",
    "first_come": "reached_stock",
}  # "prior wins": vouchers of sales that started this long before this one


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def entrants(campaign: Campaign) -> set[int]:
    if campaign.mode == "lottery":
        return set(db.session.scalars(
            select(LotteryEntry.member_id).where(LotteryEntry.campaign_id == campaign.id)
        ))  # fmt: skip
    client = get_redis()
    if campaign.mode == "queue":
        from .room import room_keys

        keys = room_keys(campaign.id)
        found = {int(_s(m)) for m in client.zrange(keys[1], 0, -1)}
        found |= {int(_s(m)) for m in client.hkeys(keys[2])}
        return found
    pool = get_engine().keys(campaign.pool_id).pool
    found = set()
    for field in client.hscan_iter(pool, match="[qm]:*", count=1000):
        name = _s(field[0])
        member = name[2:]
        if member.isdigit():
            found.add(int(member))
    return found


def winners(campaign: Campaign) -> set[int]:
    return set(db.session.scalars(
        select(Voucher.member_id).where(Voucher.campaign_id == campaign.id,
                                        Voucher.status != "cancelled")
    ))  # fmt: skip


def _rate(won: int, entered: int) -> float | None:
    return round(won / entered, 4) if entered else None


def compute(campaign: Campaign) -> dict:
    everyone = entrants(campaign)
    won = winners(campaign)
    everyone |= won  # a winner entered, whatever the Redis record says
    branch_of = dict(db.session.execute(
        select(Member.id, Org.name).join(Org, Org.id == Member.org_id, isouter=True)
        .where(Member.id.in_(everyone))
    ).all()) if everyone else {}  # fmt: skip
    since = campaign.starts_at - timedelta(days=HISTORY_DAYS)
    prior = Counter(db.session.scalars(
        select(Voucher.member_id).join(Campaign, Campaign.id == Voucher.campaign_id)
        .where(Voucher.member_id.in_(everyone), Campaign.starts_at >= since,
               Campaign.starts_at < campaign.starts_at, Campaign.id != campaign.id,
               Voucher.status != "cancelled")
    )) if everyone else Counter()  # fmt: skip

    def table(key) -> list[dict]:
        entered, got = Counter(), Counter()
        for member in everyone:
            entered[key(member)] += 1
            got[key(member)] += member in won
        return [{"group": g, "entrants": entered[g], "winners": got[g],
                 "win_rate": _rate(got[g], entered[g])} for g in sorted(entered)]  # fmt: skip

    def history(member) -> str:
        n = prior.get(member, 0)
        return "2+" if n >= 2 else str(n)

    bans = db.session.scalars(
        select(NoShowBan).where(NoShowBan.scope.in_(("*", campaign.category)),
                                NoShowBan.created_at <= campaign.ends_at,
                                NoShowBan.until > campaign.starts_at)
    ).all()  # fmt: skip
    barred = {b.member_id for b in bans if b.lifted_at is None or b.lifted_at > campaign.starts_at}
    return {
        "campaign_id": campaign.id,
        "mode": campaign.mode,
        "total_stock": campaign.total_stock,
        "entrants": len(everyone),
        "entrants_basis": BASIS[campaign.mode],
        "winners": len(won),
        "win_rate": _rate(len(won), len(everyone)),
        "by_branch": table(lambda m: branch_of.get(m) or "-"),
        "by_prior_wins": table(history),
        "prior_wins_days": HISTORY_DAYS,
        "excluded": {"no_show_ban": len(barred), **drawn_excluded(campaign)},
    }


def drawn_excluded(campaign: Campaign) -> dict:
    """A lottery's entrants skipped at the draw or on the waiting list, by reason (over the
    union's quota, barred for no-shows); other modes: nothing."""
    if campaign.mode != "lottery":
        return {}
    counts = dict(db.session.execute(
        select(LotteryEntry.reason, func.count())
        .where(LotteryEntry.campaign_id == campaign.id, LotteryEntry.outcome == "excluded")
        .group_by(LotteryEntry.reason)
    ).all())  # fmt: skip
    return {"drawn_over_quota": counts.get("quota_exceeded", 0),
            "drawn_barred": counts.get("no_show_ban", 0)}  # fmt: skip


def publish(campaign_id: int, actor) -> SaleFairness:
    """Compute and store the figures once the sale ended (409 ``sale_not_over`` before; again
    replaces them, audit-logged)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status == "draft":
        raise NotFound("No such flash sale.", code="not_found")
    if utcnow() < campaign.ends_at and campaign.status != "cancelled":
        raise Conflict("Publish the figures after the sale ended.", code="sale_not_over")
    figures = compute(campaign)
    row = db.session.get(SaleFairness, campaign_id) or SaleFairness(campaign_id=campaign_id)
    row.figures, row.published_at = figures, utcnow()
    db.session.add(row)
    record_audit("sale.fairness_publish", "campaign", campaign_id, actor=actor,
                 merchant_id=campaign.merchant_id,
                 data={"entrants": figures["entrants"], "winners": figures["winners"]})  # fmt: skip
    db.session.commit()
    return row


def published(campaign_id: int) -> SaleFairness:
    row = db.session.get(SaleFairness, campaign_id)
    if row is None:
        raise NotFound("The union has not published this sale's figures.", code="not_published")
    return row


def chart_svg(figures: dict, title: str, key: str) -> str:
    """A bar chart (pygal) of the win rate per group of ``figures[key]``, in percent."""
    import pygal
    from pygal.style import Style

    fonts = "system-ui, 'PingFang SC', 'Microsoft YaHei', sans-serif"
    style = Style(background="white", plot_background="white", colors=("#c8102e", "#8c959f"),
                  font_family=fonts)  # fmt: skip
    chart = pygal.Bar(style=style, height=320, width=640, show_legend=False, title=title,
                      range=(0, 100), disable_xml_declaration=True)  # fmt: skip
    rows = figures[key]
    chart.x_labels = [r["group"] for r in rows]
    chart.add("%", [round((r["win_rate"] or 0) * 100, 1) for r in rows])
    return chart.render(is_unicode=True)
