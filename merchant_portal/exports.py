"""CSV exports of a sale's vouchers and redemptions, streamed row batch by row batch.

The query runs with ``yield_per`` (a server-side cursor on PostgreSQL), rows are written into a
small buffer that is handed out every ``BATCH`` rows, so memory stays flat however large the sale.
UTF-8 with a BOM, so Excel opens the Chinese text correctly; times in Asia/Shanghai.

Two header languages: ``zh`` (Chinese headers and voucher states, what a shop's staff read in
Excel; the default on a zh-CN page) and ``en`` (the stable English column keys of earlier
exports, for scripts; ``?lang=en``). Only the header row and the state words differ.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import aliased

from flashsale.models import Campaign, Redemption, Voucher
from marketplace.auth.models import Account
from marketplace.extensions import db

BOM = "\ufeff"
BATCH = 1000
SHANGHAI = ZoneInfo("Asia/Shanghai")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

VOUCHER_COLUMNS = ["code", "status", "member_id", "claimed_at", "valid_from", "valid_until",
                   "redeemed_at", "redeemed_by", "cancelled_at"]  # fmt: skip
REDEMPTION_COLUMNS = ["redemption_id", "code", "redeemed_at", "redeemed_by", "reverted_at",
                      "reverted_by"]  # fmt: skip
LANGUAGES = ("zh", "en")
HEADERS = {
    "vouchers": {
        "en": VOUCHER_COLUMNS,
        "zh": ["券码", "状态", "会员编号", "领取时间", "生效时间", "失效时间", "核销时间",
               "核销人", "取消时间"],
    },
    "redemptions": {
        "en": REDEMPTION_COLUMNS,
        "zh": ["核销记录编号", "券码", "核销时间", "核销人", "撤销时间", "撤销人"],
    },
}  # fmt: skip
# The words of the member's wallet (未使用 / 已核销 / 已取消 / 已过期).
STATES_ZH = {"issued": "未使用", "redeemed": "已核销", "cancelled": "已取消", "expired": "已过期"}


def language(requested: str | None, page_locale: str) -> str:
    """The header language: the one asked for, else the page's (zh-CN → ``zh``)."""
    if requested in LANGUAGES:
        return requested
    return "zh" if page_locale.lower().startswith("zh") else "en"


def _t(value) -> str:
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds") if value else ""


def _cell(value) -> str:
    # A leading = + - @ (or a tab or carriage return before one) would make Excel evaluate the
    # cell as a formula (OWASP "CSV injection").
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _stream(header: list[str], rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(v) for v in row])
        if n % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _rows(stmt):
    result = db.session.execute(stmt.execution_options(yield_per=BATCH, stream_results=True))
    try:
        yield from result
    finally:
        result.close()


def vouchers_csv(campaign: Campaign, lang: str = "en") -> Iterator[str]:
    redeemer = aliased(Account)
    stmt = (
        select(
            Voucher.code,
            Voucher.status,
            Voucher.member_id,
            Voucher.claimed_at,
            Voucher.valid_from,
            Voucher.valid_until,
            Voucher.redeemed_at,
            redeemer.username,
            Voucher.cancelled_at,
        )  # fmt: skip
        .outerjoin(redeemer, redeemer.id == Voucher.redeemed_by)
        .where(Voucher.campaign_id == campaign.id)
        .order_by(Voucher.id)
    )
    rows = (
        (
            r.code,
            STATES_ZH.get(r.status, r.status) if lang == "zh" else r.status,
            r.member_id,
            _t(r.claimed_at),
            _t(r.valid_from),
            _t(r.valid_until),
            _t(r.redeemed_at),
            r.username or "",
            _t(r.cancelled_at),
        )  # fmt: skip
        for r in _rows(stmt)
    )
    return _stream(HEADERS["vouchers"][lang], rows)


def redemptions_csv(campaign: Campaign, lang: str = "en") -> Iterator[str]:
    by, reverter = aliased(Account), aliased(Account)
    stmt = (
        select(
            Redemption.id,
            Voucher.code,
            Redemption.redeemed_at,
            by.username,
            Redemption.reverted_at,
            reverter.username.label("reverter"),
        )  # fmt: skip
        .join(Voucher, Voucher.id == Redemption.voucher_id)
        .outerjoin(by, by.id == Redemption.account_id)
        .outerjoin(reverter, reverter.id == Redemption.reverted_by)
        .where(Voucher.campaign_id == campaign.id)
        .order_by(Redemption.id)
    )
    rows = (
        (r.id, r.code, _t(r.redeemed_at), r.username or "", _t(r.reverted_at), r.reverter or "")
        for r in _rows(stmt)
    )
    return _stream(HEADERS["redemptions"][lang], rows)


def csv_response(chunks: Iterator[str], filename: str):
    from flask import Response, stream_with_context

    return Response(
        stream_with_context(chunk.encode("utf-8") for chunk in chunks),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
