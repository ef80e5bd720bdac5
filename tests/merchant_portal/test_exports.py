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
from merchant_portal.exports import REDEMPTION_COLUMNS, VOUCHER_COLUMNS

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


# What Excel, LibreOffice and Sheets take as the start of a formula (OWASP "CSV injection").
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = {
    "vouchers": ("code", "status", "redeemed_by"),
    "redemptions": ("code", "redeemed_by", "reverted_by"),
}


def hostile_sale(merchant_id: int) -> tuple[int, dict[str, str]]:
    """A sale whose exported text (codes, redeemer and reverter names) starts with every
    formula character; returns the campaign id and {code: redeemer username}."""
    from marketplace.auth.services import create_account

    campaign_id = make_campaign(merchant_id, title="=HYPERLINK()").id
    bulk_vouchers(campaign_id, len(DANGEROUS))
    vouchers = db.session.scalars(db.select(Voucher).order_by(Voucher.id)).all()
    redeemers = {}
    for n, (prefix, voucher) in enumerate(zip(DANGEROUS, vouchers, strict=True)):
        voucher.code = f"{prefix}HYPERLINK(A{n})"  # codes are at most 16 characters
        # Usernames are stripped, so a name cannot start with a tab or a carriage return.
        name = f"{DANGEROUS[n % 4]}clerk{n}"
        clerk = create_account(name, "clerk-pass-1", "merchant_clerk", merchant_id=merchant_id)
        db.session.flush()
        voucher.status, voucher.redeemed_at, voucher.redeemed_by = "redeemed", utcnow(), clerk.id
        db.session.add(Redemption(voucher_id=voucher.id, merchant_id=merchant_id,
                                  account_id=clerk.id, idempotency_key=f"key-{n:04d}",
                                  reverted_at=utcnow(), reverted_by=clerk.id))  # fmt: skip
        redeemers[voucher.code] = name
    db.session.commit()
    return campaign_id, redeemers


@pytest.mark.parametrize("kind", ["vouchers", "redemptions"])
def test_exports_are_utf8_with_bom_and_excel_safe(client, shop, kind):
    merchant_id, owner, _ = shop
    campaign_id, redeemers = hostile_sale(merchant_id)
    resp = client.get(f"/api/v1/merchant/campaigns/{campaign_id}/{kind}.csv",
                      headers=bearer(owner))  # fmt: skip
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert len(rows) == len(DANGEROUS)
    for row in rows:
        for column in TEXT_COLUMNS[kind]:
            assert not row[column].startswith(DANGEROUS), (column, row[column])
    # Escaped with a leading apostrophe, and nothing else changed.
    codes = {row["code"]: row["redeemed_by"] for row in rows}
    assert codes == {"'" + code: "'" + name for code, name in redeemers.items()}
    if kind == "redemptions":
        assert all(row["reverted_by"] == row["redeemed_by"] for row in rows)


def test_other_merchants_cannot_export(client, shop, app_ctx):
    from tests.flashsale.factories import make_merchant

    merchant_id, _, _ = shop
    _, other_owner = make_merchant(name="别家", username="owner2")
    campaign = make_campaign(merchant_id)
    resp = client.get(f"/api/v1/merchant/campaigns/{campaign.id}/vouchers.csv",
                      headers=bearer(other_owner))  # fmt: skip
    assert resp.status_code == 404


def _table(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    text = resp.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def test_exports_speak_chinese_on_the_portal_and_english_on_request(client, shop, web):
    """The portal's download has Chinese headers and voucher states (a zh-CN page); ``lang=en``
    gives the stable English keys; the API keeps English unless asked, and refuses other
    languages with a problem."""
    merchant_id, owner, _ = shop
    campaign_id = make_campaign(merchant_id).id
    from marketplace.auth.models import Account

    clerk = db.session.scalar(db.select(Account).where(Account.username == "clerk1"))
    bulk_vouchers(campaign_id, 4, redeemed_by=clerk.id)  # issued, redeemed, issued, redeemed
    first, second = db.session.scalars(db.select(Voucher).order_by(Voucher.id).limit(2))
    first.status, first.cancelled_at = "cancelled", utcnow()
    db.session.add(Redemption(voucher_id=second.id, merchant_id=merchant_id,
                              account_id=clerk.id, idempotency_key="zh-1"))  # fmt: skip
    db.session.commit()

    web.login("owner1")
    zh = _table(web.get(f"/merchant/sales/{campaign_id}/vouchers.csv"))
    assert zh[0] == ["券码", "状态", "会员编号", "领取时间", "生效时间", "失效时间", "核销时间",
                     "核销人", "取消时间"]  # fmt: skip
    assert [row[1] for row in zh[1:]] == ["已取消", "已核销", "未使用", "已核销"]
    assert [row[7] for row in zh[1:]] == ["", "clerk1", "", "clerk1"]
    assert zh[1][8] and not zh[2][8]  # the cancel time
    en = _table(web.get(f"/merchant/sales/{campaign_id}/vouchers.csv?lang=en"))
    assert en[0] == VOUCHER_COLUMNS and [r[1] for r in en[1:]] == [
        "cancelled", "redeemed", "issued", "redeemed"]  # fmt: skip
    assert [r[0] for r in en[1:]] == [r[0] for r in zh[1:]]  # the same rows, other words
    zh_red = _table(web.get(f"/merchant/sales/{campaign_id}/redemptions.csv"))
    assert zh_red[0] == ["核销记录编号", "券码", "核销时间", "核销人", "撤销时间", "撤销人"]
    assert len(zh_red) == 2 and zh_red[1][3] == "clerk1"
    assert _table(web.get(f"/merchant/sales/{campaign_id}/redemptions.csv?lang=en"))[0] == (
        REDEMPTION_COLUMNS)  # fmt: skip
    page = web.get(f"/merchant/sales/{campaign_id}").get_data(as_text=True)
    assert f"/merchant/sales/{campaign_id}/vouchers.csv?lang=en" in page

    api = f"/api/v1/merchant/campaigns/{campaign_id}"
    assert _table(client.get(f"{api}/vouchers.csv", headers=bearer(owner)))[0] == VOUCHER_COLUMNS
    assert _table(client.get(f"{api}/vouchers.csv?lang=zh", headers=bearer(owner))) == zh
    bad = client.get(f"{api}/redemptions.csv?lang=fr", headers=bearer(owner))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert bad.get_json()["code"] == "validation_error"
