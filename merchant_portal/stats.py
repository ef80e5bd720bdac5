"""Dashboard numbers and charts: live stock and claims from the engine, history from SQL.

Series are bucketed in SQL (per minute of claims, per day of redemptions, in Asia/Shanghai time)
so a 100,000-voucher sale returns a few hundred rows, not 100,000.
"""

from __future__ import annotations

import re

import pygal
from pygal.style import Style
from sqlalchemy import func, select

from flashsale import services as fs
from flashsale.models import Campaign, Redemption, Voucher
from marketplace import permissions
from marketplace.extensions import db

MAX_MINUTES = 240  # the busiest part of a sale; older minutes are left off the chart
STYLE = Style(
    background="white", plot_background="white", foreground="#1f2328",
    foreground_strong="#1f2328", foreground_subtle="#656d76", colors=("#c8102e", "#1a7f37"),
    font_family="system-ui, 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Zen Hei', sans-serif",
)  # fmt: skip


def local_bucket(column, fmt: str):
    """``column`` (UTC) as Asia/Shanghai text: ``fmt`` is 'minute' or 'day'."""
    if db.engine.dialect.name == "postgresql":
        pattern = "YYYY-MM-DD HH24:MI" if fmt == "minute" else "YYYY-MM-DD"
        return func.to_char(func.timezone("Asia/Shanghai", column), pattern)
    pattern = "%Y-%m-%d %H:%M" if fmt == "minute" else "%Y-%m-%d"
    return func.strftime(pattern, column, "+8 hours")


def live(campaign: Campaign) -> dict:
    """What the dashboard polls: engine stock and claims, SQL redemptions, the rate."""
    stats = fs.stats(campaign)
    issued = max(stats["persisted"] - stats["cancelled"], 0)
    return {
        "id": campaign.id,
        "status": fs.effective_status(campaign, remaining=stats["remaining"]),
        **stats,
        "redemption_rate": round(stats["redeemed"] / issued, 4) if issued else 0.0,
    }


def merchant_overview(principal) -> dict:
    """Every sale of the caller's merchant with live numbers, and the totals across them."""
    merchant = permissions.staff_merchant(principal, "sale.view")
    campaigns = db.session.scalars(fs.list_own(merchant.id).limit(200)).all()
    rows = [(c, live(c)) for c in campaigns]
    totals = {"sales": len(rows)}
    for key in ("stock", "claimed", "remaining", "redeemed", "persisted", "cancelled"):
        totals[key] = sum(r[key] for _c, r in rows if _c.status != "draft")
    issued = totals["persisted"] - totals["cancelled"]
    totals["redemption_rate"] = round(totals["redeemed"] / issued, 4) if issued else 0.0
    return {"merchant": merchant, "rows": rows, "totals": totals}


def claims_per_minute(campaign_id: int) -> list[tuple[str, int]]:
    bucket = local_bucket(Voucher.claimed_at, "minute")
    rows = db.session.execute(
        select(bucket.label("b"), func.count())
        .where(Voucher.campaign_id == campaign_id)
        .group_by("b")
        .order_by(bucket.desc())
        .limit(MAX_MINUTES)
    ).all()
    return [(b, n) for b, n in reversed(rows)]


def redemptions_per_day(campaign_id: int) -> list[tuple[str, int]]:
    bucket = local_bucket(Redemption.redeemed_at, "day")
    rows = db.session.execute(
        select(bucket.label("b"), func.count())
        .join(Voucher, Voucher.id == Redemption.voucher_id)
        .where(Voucher.campaign_id == campaign_id, Redemption.reverted_at.is_(None))
        .group_by("b")
        .order_by("b")
    ).all()
    return [(b, n) for b, n in rows]


def bar_svg(series: list[tuple[str, int]], title: str, label: str, empty: str,
            short=lambda b: b) -> bytes:  # fmt: skip
    """A server-side SVG bar chart (no scripts: it is shown as an <img>)."""
    chart = pygal.Bar(
        style=STYLE, width=640, height=300, show_legend=False, js=[], title=title,
        no_data_text=empty, x_label_rotation=30 if len(series) > 12 else 0,
        show_minor_x_labels=False, x_labels_major_every=max(1, len(series) // 12),
        truncate_label=-1, print_values=len(series) <= 12,
    )  # fmt: skip
    chart.x_labels = [short(b) for b, _n in series]
    chart.add(label, [n for _b, n in series])
    # pygal inlines a config <script> even without JS files; an <img> would ignore it anyway.
    return re.sub(rb"<script.*?</script>", b"", chart.render(), flags=re.S)
