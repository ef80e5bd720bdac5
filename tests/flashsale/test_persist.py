"""The drain's write step (flashsale.persist) fed outbox entries directly: which entries become
voucher rows with which fields, what is skipped, how cancels apply, and what a conflict records."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import REGISTRY
from sqlalchemy import select

from flashsale.models import Campaign, Voucher, VoucherConflict
from flashsale.persist import persist_entries
from inventory import OutboxEntry
from marketplace.extensions import db

from .factories import create_sale, make_members, make_merchant

TS = 1_767_225_600_123  # 2026-01-01 00:00:00.123 UTC, in ms as the outbox writes it
AT = datetime(2026, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)


def claim_entry(pool, claim_id, member, code, request_id="key-00000001", ts=TS, **extra):
    fields = {
        "type": "claim", "claim_id": claim_id, "pool_id": str(pool), "member_id": str(member),
        "qty": "1", "request_id": request_id, "ts": str(ts), "code": code, **extra,
    }  # fmt: skip
    return OutboxEntry(str(pool), 0, "1-0", fields)


def cancel_entry(pool, claim_id, member=None, ts=TS + 60_000):
    fields = {"type": "cancel", "claim_id": claim_id, "pool_id": str(pool), "ts": str(ts)}
    if member is not None:
        fields["member_id"] = str(member)
    return OutboxEntry(str(pool), 0, "2-0", fields)


def vouchers() -> dict[str, Voucher]:
    db.session.rollback()
    return {v.claim_id: v for v in db.session.scalars(select(Voucher))}


def test_claims_become_vouchers_with_the_entrys_fields_and_the_campaigns_validity(app_ctx, client):
    _, owner = make_merchant()
    (a, _), (b, _) = make_members(2)
    sale = create_sale(client, owner)
    campaign = db.session.get(Campaign, sale)
    entries = [
        claim_entry(sale, f"{sale}-1", a, "AAAAAAAAAAAAAAAA"),
        claim_entry(sale, f"{sale}-2", b, "BBBBBBBBBBBBBBBB", request_id="", ts=TS + 1),
        claim_entry(99_999, "99999-1", a, "CCCCCCCCCCCCCCCC"),  # no such campaign
        claim_entry("legacy", "legacy-1", a, "DDDDDDDDDDDDDDDD"),  # not a campaign pool
        OutboxEntry(
            str(sale),
            0,
            "1-1",
            {  # no code: not a flash-sale claim
                "type": "claim",
                "claim_id": f"{sale}-3",
                "member_id": str(a),
                "ts": str(TS),
            },
        ),  # fmt: skip
        OutboxEntry(str(sale), 0, "1-2", {"type": "note", "claim_id": f"{sale}-4"}),
    ]
    counts = persist_entries(entries)
    assert counts == {"claims": 2, "inserted": 2, "cancelled": 0, "skipped": 3, "conflicts": 0}
    stored = vouchers()
    assert sorted(stored) == [f"{sale}-1", f"{sale}-2"]
    first, second = stored[f"{sale}-1"], stored[f"{sale}-2"]
    assert (first.code, first.member_id, first.campaign_id) == ("AAAAAAAAAAAAAAAA", a, sale)
    assert (first.status, first.request_id) == ("issued", "key-00000001")
    assert first.claimed_at == AT and second.claimed_at == AT.replace(microsecond=124_000)
    assert second.request_id is None  # an empty request id is stored as unknown
    assert (first.valid_from, first.valid_until) == (campaign.valid_from, campaign.valid_until)

    # A redelivery of the same batch is a silent no-op.
    again = persist_entries(entries)
    assert again == {"claims": 2, "inserted": 0, "cancelled": 0, "skipped": 3, "conflicts": 0}
    assert len(vouchers()) == 2 and db.session.scalars(select(VoucherConflict)).all() == []


def test_cancels_apply_once_and_only_to_their_members_issued_voucher(app_ctx, client):
    _, owner = make_merchant()
    (a, _), (b, _) = make_members(2)
    sale = create_sale(client, owner)
    # A claim and its cancel in one batch: the claim is written first, then cancelled.
    counts = persist_entries(
        [
            claim_entry(sale, f"{sale}-1", a, "AAAAAAAAAAAAAAAA"),
            claim_entry(sale, f"{sale}-2", b, "BBBBBBBBBBBBBBBB"),
            cancel_entry(sale, f"{sale}-1", member=a),
        ]
    )
    assert (counts["inserted"], counts["cancelled"]) == (2, 1)
    stored = vouchers()
    assert stored[f"{sale}-1"].status == "cancelled"
    assert stored[f"{sale}-1"].cancelled_at == AT.replace(minute=1)
    assert (stored[f"{sale}-2"].status, stored[f"{sale}-2"].cancelled_at) == ("issued", None)

    counts = persist_entries([cancel_entry(sale, f"{sale}-1", member=a)])  # already cancelled
    assert counts == {"claims": 0, "inserted": 0, "cancelled": 0, "skipped": 0, "conflicts": 0}
    # A cancel naming another member never touches this member's voucher.
    assert persist_entries([cancel_entry(sale, f"{sale}-2", member=a)])["cancelled"] == 0
    assert vouchers()[f"{sale}-2"].status == "issued"
    # Entries written before cancels carried the member: the claim id alone decides.
    assert persist_entries([cancel_entry(sale, f"{sale}-2")])["cancelled"] == 1
    assert vouchers()[f"{sale}-2"].status == "cancelled"
    persist_entries([claim_entry(sale, f"{sale}-{n}", a, f"{n}" * 16) for n in (3, 4)])
    cancels = [cancel_entry(sale, f"{sale}-{n}", member=a) for n in (3, 4)]
    assert persist_entries(cancels)["cancelled"] == 2


def test_redeemed_vouchers_are_not_cancelled_by_a_late_entry(app_ctx, client):
    _, owner = make_merchant()
    ((a, _),) = make_members(1)
    sale = create_sale(client, owner)
    persist_entries([claim_entry(sale, f"{sale}-1", a, "AAAAAAAAAAAAAAAA")])
    voucher = vouchers()[f"{sale}-1"]
    voucher.status, voucher.redeemed_at = "redeemed", AT
    db.session.commit()
    assert persist_entries([cancel_entry(sale, f"{sale}-1", member=a)])["cancelled"] == 0
    assert vouchers()[f"{sale}-1"].status == "redeemed"


def _conflicts(kind: str) -> float:
    return REGISTRY.get_sample_value("shihui_voucher_conflicts_total", {"kind": kind}) or 0.0


def test_a_conflict_records_the_entry_and_the_voucher_it_clashes_with(app_ctx, client, caplog):
    _, owner = make_merchant()
    (a, _), (b, _) = make_members(2)
    sale = create_sale(client, owner)
    persist_entries([claim_entry(sale, f"{sale}-1", a, "AAAAAAAAAAAAAAAA")])
    existing = vouchers()[f"{sale}-1"].id
    before = _conflicts("claim_id"), _conflicts("code")
    # One clash per delivery, as a drainer meets them: each found by its own key.
    reused = claim_entry(sale, f"{sale}-1", b, "EEEEEEEEEEEEEEEE", request_id="key-reused")
    with caplog.at_level(logging.ERROR, logger="flashsale.persist"):
        assert persist_entries([reused])["conflicts"] == 1
    # The ERROR line operators are alerted by names both sides of the clash.
    [record] = [r for r in caplog.records if r.name == "flashsale.persist"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"voucher conflict (claim_id): outbox claim {sale}-1 code EEEEEEEEEEEEEEEE of member {b} "
        f"clashes with voucher {existing}; kept in voucher_conflicts for review"
    )
    assert persist_entries([claim_entry(sale, f"{sale}-9", b, "AAAAAAAAAAAAAAAA", ts=TS + 5)]) == {
        "claims": 1, "inserted": 0, "cancelled": 0, "skipped": 0, "conflicts": 1,
    }  # fmt: skip
    assert persist_entries([reused])["conflicts"] == 0  # recorded once
    counts = persist_entries(
        [
            claim_entry(sale, f"{sale}-1", a, "AAAAAAAAAAAAAAAA"),  # a redelivery, then
            claim_entry(sale, f"{sale}-1", a, "FFFFFFFFFFFFFFFF"),  # same member, other code
        ]
    )
    assert (counts["inserted"], counts["conflicts"]) == (0, 1)
    assert (_conflicts("claim_id"), _conflicts("code")) == (before[0] + 2, before[1] + 1)
    kept = {(c.claim_id, c.code): c for c in db.session.scalars(select(VoucherConflict)).all()}
    by_id = kept[(f"{sale}-1", "EEEEEEEEEEEEEEEE")]
    assert (by_id.kind, by_id.member_id, by_id.request_id) == ("claim_id", b, "key-reused")
    assert (by_id.campaign_id, by_id.existing_voucher_id, by_id.claimed_at) == (sale, existing, AT)
    assert by_id.detected_at is not None
    assert kept[(f"{sale}-1", "FFFFFFFFFFFFFFFF")].kind == "claim_id"
    by_code = kept[(f"{sale}-9", "AAAAAAAAAAAAAAAA")]
    assert (by_code.kind, by_code.existing_voucher_id) == ("code", existing)
    assert by_code.claimed_at == AT.replace(microsecond=128_000)
    # The voucher that was there first is untouched.
    assert {(v.claim_id, v.member_id, v.code) for v in vouchers().values()} == {
        (f"{sale}-1", a, "AAAAAAAAAAAAAAAA")
    }
