"""A member holding one voucher in each 券包 state and one group-buy voucher, for the client and
browser tests of the member app shell."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update

from catalogue import states
from catalogue.models import GroupBuy, GroupBuyVoucher
from flashsale.jobs import drain_outbox
from flashsale.models import Voucher
from marketplace.extensions import db
from marketplace.models import utcnow
from tests.catalogue import factories as cf
from tests.flashsale import factories as ff

PASSWORD = cf.PASSWORD
_seq = itertools.count(1)


@dataclass
class Wallet:
    member_id: int
    token: str
    card_no: str
    unused: str  # a flash-sale voucher that can still be cancelled
    used: str
    expired: str
    groupbuy: str


def _claim(client, sale: int, token: str, key: str) -> str:
    resp = client.post(f"/api/v1/flashsales/{sale}/claims",
                       headers={**ff.bearer(token), "Idempotency-Key": key})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["voucher"]["code"]


def wallet(client) -> Wallet:
    """Call inside an app context."""
    member_id, token, card_no = cf.member(password=True)
    n = next(_seq)
    _, owner = ff.make_merchant(username=f"wallet_owner{n}")
    codes = []
    for i in range(3):
        sale = ff.create_sale(client, owner, title=f"免费电影票{i}", total_stock=5)
        codes.append(_claim(client, sale, token, f"wallet-{member_id}-{i}"))
    for _ in range(50):  # the drainer's list of sale pools may be a moment old
        drain_outbox(kind="test")
        if db.session.scalar(db.select(db.func.count()).select_from(Voucher)
                             .where(Voucher.code.in_(codes))) == 3:  # fmt: skip
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the claims did not reach SQL")
    unused, used, expired = codes
    now = utcnow()
    db.session.execute(update(Voucher).where(Voucher.code == used)
                       .values(status="redeemed", redeemed_at=now))  # fmt: skip
    db.session.execute(update(Voucher).where(Voucher.code == expired)
                       .values(valid_until=now - timedelta(days=1)))  # fmt: skip
    db.session.commit()
    # A group-buy that succeeded with this member and one other.
    _, shop_owner, _ = cf.merchant(name=f"火锅{n}", clerk=True)
    deal = cf.create(client, "/api/v1/merchant/groupbuys", shop_owner, cf.deal_body())
    for who in (token, cf.member()[1]):
        resp = client.post(f"/api/v1/groupbuys/{deal['id']}/join", json={},
                           headers=cf.bearer(who))  # fmt: skip
        assert resp.status_code == 201, resp.get_json()
    deadline = db.session.get(GroupBuy, deal["id"]).deadline
    assert states.decide_deal(deal["id"], now=deadline + timedelta(minutes=1)) == "succeeded"
    db.session.expire_all()
    gb = db.session.scalars(db.select(GroupBuyVoucher)
                            .where(GroupBuyVoucher.member_id == member_id)).one()  # fmt: skip
    return Wallet(member_id, token, card_no, unused, used, expired, gb.code)
