"""Funds with a yearly budget: commit on approval, pay on a confirmed batch, chart the year.

The commit is one conditional UPDATE (``committed + amount <= budget`` in its WHERE): on
PostgreSQL a concurrent approval waits for the row lock and re-checks the condition against the
committed row, on SQLite writers are serialised, so no interleaving of approvals takes a fund
past its budget. A CHECK constraint says the same once more.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pygal
from pygal.style import Style
from sqlalchemy import select, update

from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db

from .models import Application, Fund

SHANGHAI = ZoneInfo("Asia/Shanghai")
STYLE = Style(
    background="white", plot_background="white", foreground="#1f2328",
    foreground_strong="#1f2328", foreground_subtle="#656d76",
    colors=("#656d76", "#c8102e", "#1a7f37"),
    font_family="system-ui, 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Zen Hei', sans-serif",
)  # fmt: skip


def get(fund_id: int) -> Fund:
    fund = db.session.get(Fund, fund_id)
    if fund is None:
        raise NotFound("No such fund.")
    return fund


def commit(fund_id: int, amount_cents: int) -> None:
    """Raise the fund's committed amount by ``amount_cents`` if the budget covers it, atomically
    (409 ``fund_exhausted`` otherwise). Runs in the caller's transaction."""
    result = db.session.execute(
        update(Fund)
        .where(Fund.id == fund_id, Fund.committed_cents + amount_cents <= Fund.budget_cents)
        .values(committed_cents=Fund.committed_cents + amount_cents)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("The fund's budget for the year does not cover this amount.",
                       code="fund_exhausted")  # fmt: skip


def pay(fund_id: int, amount_cents: int) -> None:
    db.session.execute(
        update(Fund)
        .where(Fund.id == fund_id)
        .values(paid_cents=Fund.paid_cents + amount_cents)
        .execution_options(synchronize_session=False)
    )


def monthly(fund: Fund) -> dict[str, list[int]]:
    """Cumulative committed and paid (fen) at the end of each month of the fund's year."""
    rows = db.session.execute(
        select(Application.decided_at, Application.approved_cents, Application.paid_at).where(
            Application.fund_id == fund.id, Application.status.in_(("approved", "paid"))
        )
    ).all()
    committed, paid = [0] * 12, [0] * 12
    for decided_at, amount, paid_at in rows:
        for when, series in ((decided_at, committed), (paid_at, paid)):
            if when is None or not amount:
                continue
            local = when.astimezone(SHANGHAI)
            if local.year == fund.year:
                series[local.month - 1] += amount
            elif local.year < fund.year:
                series[0] += amount
    for series in (committed, paid):
        for i in range(1, 12):
            series[i] += series[i - 1]
    now = datetime.now(UTC).astimezone(SHANGHAI)
    if now.year == fund.year:  # months still to come are not drawn
        for series in (committed, paid):
            for i in range(now.month, 12):
                series[i] = None
    return {"committed": committed, "paid": paid}


def chart_svg(fund: Fund, labels: dict[str, str]) -> bytes:
    """Budget, committed and paid over the fund's year (yuan), a server-side SVG."""
    series = monthly(fund)
    chart = pygal.Line(
        style=STYLE, width=640, height=320, js=[], title=labels["title"], show_dots=True,
        legend_at_bottom=True, truncate_label=-1,
    )  # fmt: skip
    chart.x_labels = [f"{fund.year}-{m:02d}" for m in range(1, 13)]
    chart.add(labels["budget"], [fund.budget_cents / 100] * 12)
    chart.add(labels["committed"], [v / 100 if v is not None else None
                                    for v in series["committed"]])  # fmt: skip
    chart.add(labels["paid"], [v / 100 if v is not None else None for v in series["paid"]])
    return re.sub(rb"<script.*?</script>", b"", chart.render(), flags=re.S)
