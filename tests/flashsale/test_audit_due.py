"""Which sales the scheduler audits, and the audit's repair of a cancel the drainer never persisted.

Added while killing mutation survivors (docs/mutation.md): these paths had no fast test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from flashsale import audit
from flashsale.audit import run_audit
from flashsale.hotpath import get_engine
from flashsale.jobs import audit_due
from flashsale.models import Campaign, CampaignAudit, Voucher
from marketplace.extensions import db
from marketplace.models import utcnow

from .factories import create_sale, make_members, make_merchant


def _end(campaign_id: int, ago: timedelta) -> None:
    campaign = db.session.get(Campaign, campaign_id)
    campaign.ends_at = utcnow() - ago
    db.session.commit()


def test_audit_due_audits_each_ended_sale_once_after_the_grace(app_ctx, client, claim, drain):
    _mid, owner = make_merchant()
    members = make_members(2)
    ended = create_sale(client, owner, title="ended")
    recent = create_sale(client, owner, title="recent")
    running = create_sale(client, owner, title="running")
    draft = create_sale(client, owner, publish=False, title="draft")
    for _member, token in members:
        assert claim(ended, token).status_code == 201
    assert drain() == 2
    _end(ended, timedelta(minutes=5))
    _end(recent, timedelta(seconds=5))  # inside the 30 s grace: the drainer may still be busy
    _end(draft, timedelta(minutes=5))  # never published: nothing to audit

    assert audit_due() == [ended]
    audits = db.session.scalars(select(CampaignAudit)).all()
    assert [(a.campaign_id, a.ok, a.sql_vouchers) for a in audits] == [(ended, True, 2)]
    assert audit_due() == []  # audited sales are not audited again
    assert running not in audit_due()


def test_audit_persists_a_cancel_the_drainer_never_wrote(app_ctx, client, claim, drain):
    _mid, owner = make_merchant()
    (_m1, t1), (_m2, t2) = make_members(2)
    sale = create_sale(client, owner)
    assert claim(sale, t1).status_code == 201 and claim(sale, t2).status_code == 201
    assert drain() == 2
    vouchers = db.session.scalars(select(Voucher).order_by(Voucher.id)).all()
    # The engine cancels (as the cancel endpoint does); its outbox record is never drained.
    pool = db.session.get(Campaign, sale).pool_id
    assert get_engine().cancel(pool, vouchers[0].claim_id).changed

    result = run_audit(sale, store=False)
    assert result.ok, result.problems
    assert (result.engine_claimed, result.outbox_claims, result.sql_vouchers) == (1, 1, 1)
    db.session.expire_all()
    statuses = {v.claim_id: v.status for v in db.session.scalars(select(Voucher))}
    assert statuses == {vouchers[0].claim_id: "cancelled", vouchers[1].claim_id: "issued"}


@pytest.mark.parametrize("page", [5000, 1])
def test_audit_of_a_claim_and_its_cancel_both_undrained(app_ctx, client, claim, monkeypatch, page):
    """The drainer was down for the whole sale: the audit writes the voucher, then its cancel.
    With one entry per page the cancel sits on the third page of the outbox (mutation testing
    found that only the first page was ever read by a test)."""
    monkeypatch.setattr(audit, "OUTBOX_PAGE", page)
    _mid, owner = make_merchant()
    (_m1, t1), (_m2, t2) = make_members(2)
    sale = create_sale(client, owner)
    first = claim(sale, t1).get_json()
    assert claim(sale, t2).status_code == 201
    pool = db.session.get(Campaign, sale).pool_id
    assert get_engine().cancel(pool, first["claim_id"]).changed

    result = run_audit(sale)
    assert result.ok, result.problems
    assert (result.campaign_id, result.repersisted) == (sale, 2)
    assert (result.engine_claimed, result.outbox_claims, result.sql_vouchers) == (1, 1, 1)
    statuses = sorted(v.status for v in db.session.scalars(select(Voucher)))
    assert statuses == ["cancelled", "issued"]
    stored = db.session.scalars(select(CampaignAudit)).one()
    assert (stored.campaign_id, stored.ok, stored.sql_vouchers) == (sale, True, 1)


def test_audit_of_a_draft_is_stored_as_nothing_to_audit(app_ctx, client):
    _mid, owner = make_merchant()
    draft = create_sale(client, owner, publish=False)
    result = run_audit(draft)
    assert not result.ok and "draft" in result.problems[0]
    stored = db.session.scalars(select(CampaignAudit)).one()
    assert (stored.campaign_id, stored.ok) == (draft, False)


def test_audit_gives_back_a_ticket_sql_cancelled_that_the_engine_still_counts(
    app_ctx, client, claim, drain
):
    """Redis came back from data older than a cancellation: SQL has the voucher cancelled, the
    engine still counts the claim. The audit cancels it in the engine, so the ticket is on sale
    again (found by mutation testing: run_audit mutants 110 and 120 survived)."""
    _mid, owner = make_merchant()
    (_m1, t1), (_m2, t2) = make_members(2)
    sale = create_sale(client, owner, total_stock=2)
    assert claim(sale, t1).status_code == 201 and claim(sale, t2).status_code == 201
    assert drain() == 2
    first = db.session.scalars(select(Voucher).order_by(Voucher.id)).first()
    first.status, first.cancelled_at = "cancelled", utcnow()
    db.session.commit()
    pool = db.session.get(Campaign, sale).pool_id
    assert (get_engine().stats(pool).claimed, get_engine().stats(pool).remaining) == (2, 0)

    result = run_audit(sale, store=False)
    assert result.recancelled == 1
    assert result.ok, result.problems
    assert (result.engine_claimed, result.outbox_claims, result.sql_vouchers) == (1, 1, 1)
    assert get_engine().stats(pool).remaining == 1
    assert run_audit(sale, store=False).recancelled == 0  # once


def test_audit_names_a_live_voucher_the_engine_gave_back(app_ctx, client, claim, drain):
    """The engine cancelled a claim and the outbox lost the cancel: SQL still has the voucher
    issued. Nothing to repair it from, so the audit names it."""
    _mid, owner = make_merchant()
    (_m1, t1), (_m2, t2) = make_members(2)
    sale = create_sale(client, owner)
    first = claim(sale, t1).get_json()["claim_id"]
    assert claim(sale, t2).status_code == 201
    assert drain() == 2
    pool = db.session.get(Campaign, sale).pool_id
    assert get_engine().cancel(pool, first).changed
    client_ = get_engine().client
    client_.delete(*get_engine().outbox_streams(pool))

    result = run_audit(sale, store=False)
    assert result.problems == [f"extra in SQL: 1 live vouchers the engine gave back ({first})"]
