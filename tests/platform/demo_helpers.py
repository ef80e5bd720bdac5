"""What the demo data does not hold and page tests need: a voucher the demo member holds (won in
the live cinema sale, drained to SQL) and a finished roster import with one refused row."""

from __future__ import annotations

import time

from flashsale.jobs import drain_outbox
from flashsale.models import Campaign, Voucher
from marketplace.auth.models import Account
from marketplace.auth.tokens import issue_token
from marketplace.extensions import db

MEMBER = "6222000000000017"


def member_holds_a_voucher(client) -> tuple[int, str]:
    """The demo member claims a ticket of the live cinema sale; returns (sale id, voucher code)."""
    account = db.session.scalars(db.select(Account).where(Account.username == MEMBER)).one()
    token = issue_token(account)["access_token"]
    sale = db.session.scalars(
        db.select(Campaign.id).where(Campaign.title == "周末电影免费票")
    ).one()
    resp = client.post(f"/api/v1/flashsales/{sale}/claims",
                       headers={"Authorization": f"Bearer {token}",
                                "Idempotency-Key": "axe-demo-claim"})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    code = resp.get_json()["voucher"]["code"]
    for _ in range(50):  # the drainer's list of sale pools may be a moment old
        drain_outbox(kind="test")
        if db.session.scalar(db.select(Voucher.id).where(Voucher.code == code)):
            return sale, code
        time.sleep(0.1)
    raise AssertionError("the claim did not reach SQL")


def finished_import() -> int:
    """A roster import with one refused row, run to the end (its page lists the row)."""
    from marketplace.members.importer import new_import
    from marketplace.members.jobs import run_import, store_upload
    from tests.members.helpers import details
    from tests.members.test_import import roster

    data = roster([details(901) | {"region": "999999"}])
    imp = new_import("roster.csv", data)
    store_upload(imp.id, data)
    run_import(imp.id)
    return imp.id
