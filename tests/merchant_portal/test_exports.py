"""CSV exports: UTF-8 with BOM, Excel-safe cells, and bounded memory for 100,000 vouchers."""

import csv
import io
import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import insert

from flashsale.models import Campaign, Redemption, Voucher
from marketplace.extensions import db
from marketplace.models import utcnow

from .conftest import bearer

N = 100_000


def make_campaign(merchant_id: int, title="十万张票") -> Campaign:
    now = utcnow()
    campaign = Campaign(
        merchant_id=merchant_id, title=title, category="movie", total_stock=N, status="ended",
        starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1),
        valid_from=now - timedelta(days=2), valid_until=now + timedelta(days=30),
    )  # fmt: skip
    db.session.add(campaign)
    db.session.commit()
    return campaign


def bulk_vouchers(campaign_id: int, n: int, redeemed_by=None) -> None:
    """Core bulk inserts, 10,000 rows per statement (the ORM would take minutes)."""
    now = utcnow()
    for start in range(0, n, 10_000):
        rows = [
            {
                "claim_id": f"{campaign_id}:{i}",
                "code": f"C{campaign_id:03d}{i:012d}",
                "campaign_id": campaign_id,
                "member_id": i + 1,
                "status": "redeemed" if redeemed_by and i % 2 else "issued",
                "claimed_at": now,
                "persisted_at": now,
                "valid_from": now,
                "valid_until": now + timedelta(days=30),
                "redeemed_at": now if redeemed_by and i % 2 else None,
                "redeemed_by": redeemed_by if i % 2 else None,
            }  # fmt: skip
            for i in range(start, min(n, start + 10_000))
        ]
        db.session.execute(insert(Voucher), rows)
    db.session.commit()


def test_voucher_export_of_100k_rows_streams_in_bounded_memory(client, shop, capsys):
    merchant_id, owner, _ = shop
    campaign_id = make_campaign(merchant_id).id
    bulk_vouchers(campaign_id, N)
    db.session.remove()  # nothing of the inserts stays referenced in this process

    tracemalloc.start()
    try:
        resp = client.get(f"/api/v1/merchant/campaigns/{campaign_id}/vouchers.csv",
                          headers=bearer(owner))  # fmt: skip
        assert resp.status_code == 200 and resp.is_streamed
        size, lines, first = 0, 0, b""
        for chunk in resp.response:
            if not first:
                first = chunk
            size += len(chunk)
            lines += chunk.count(b"\n")
        resp.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with capsys.disabled():
        print(f"\nexport of {N} vouchers: {size / 1e6:.1f} MB streamed, peak {peak / 1e6:.2f} MB")
    assert first.startswith(b"\xef\xbb\xbfcode,status,member_id")
    assert lines == N + 1
    # The CSV is ~11 MB; loading the rows (or the body) at once would need several times that.
    assert size > 8_000_000
    assert peak < 6_000_000


@pytest.mark.parametrize("kind", ["vouchers", "redemptions"])
def test_exports_are_utf8_with_bom_and_excel_safe(client, shop, kind):
    merchant_id, owner, _ = shop
    campaign = make_campaign(merchant_id, title="=HYPERLINK()")
    bulk_vouchers(campaign.id, 4, redeemed_by=None)
    voucher = db.session.scalars(db.select(Voucher).limit(1)).first()
    db.session.add(Redemption(voucher_id=voucher.id, merchant_id=merchant_id, account_id=1,
                              idempotency_key="k" * 8))  # fmt: skip
    db.session.commit()
    resp = client.get(f"/api/v1/merchant/campaigns/{campaign.id}/{kind}.csv",
                      headers=bearer(owner))  # fmt: skip
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == (5 if kind == "vouchers" else 2)
    assert all(not cell.startswith("=") for row in rows for cell in row)


def test_other_merchants_cannot_export(client, shop, app_ctx):
    from tests.flashsale.factories import make_merchant

    merchant_id, _, _ = shop
    _, other_owner = make_merchant(name="别家", username="owner2")
    campaign = make_campaign(merchant_id)
    resp = client.get(f"/api/v1/merchant/campaigns/{campaign.id}/vouchers.csv",
                      headers=bearer(other_owner))  # fmt: skip
    assert resp.status_code == 404
