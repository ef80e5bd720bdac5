"""What group-buys tell members through the messages feature, without importing it
(:mod:`marketplace.notices`): unused group-buy vouchers about to expire are a source of "expires
soon" notices, like flash-sale vouchers (flashsale/notices.py). Group-buy results are sent where
they are decided (``states``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from marketplace import notices
from marketplace.extensions import db

from .models import GroupBuy, GroupBuyVoucher


def expiring(start: datetime, end: datetime):
    rows = db.session.execute(
        select(GroupBuyVoucher.id, GroupBuyVoucher.member_id, GroupBuyVoucher.valid_until,
               GroupBuy.title)
        .join(GroupBuy, GroupBuy.id == GroupBuyVoucher.groupbuy_id)
        .where(GroupBuyVoucher.status == "issued", GroupBuyVoucher.valid_until > start,
               GroupBuyVoucher.valid_until <= end)
    )  # fmt: skip
    for voucher_id, member_id, valid_until, title in rows:
        payload = {"voucher_id": voucher_id, "title": title, "date": valid_until.date().isoformat()}
        yield member_id, payload, f"expiring:groupbuy-voucher:{voucher_id}"


def register(app) -> None:
    notices.add_expiring_source(app, expiring)
