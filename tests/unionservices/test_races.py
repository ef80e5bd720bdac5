"""Races over HTTP against gunicorn (2 workers x 8 threads) on PostgreSQL: a fund never goes
past its budget under concurrent approvals, one application is approved once however many
reviewers press at once, and one award per certificate level holds under concurrent
submissions (the unique index decides, not a check-then-insert)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from marketplace.extensions import db
from unionservices.models import Application, Document, Fund

from .conftest import (
    AID,
    AWARD,
    PDF,
    admin_token,
    apply,
    bearer,
    create_fund,
    create_service,
    make_member,
)

RACERS = 20


@pytest.fixture
def pg(database_url):
    from tests.conftest import skip_or_fail

    if not database_url.startswith("postgresql"):
        skip_or_fail("postgres", "the HTTP races need PostgreSQL (TEST_DATABASE_URL)")


def race(calls):
    """Run every zero-argument call at once (a barrier releases them together)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_concurrent_approvals_never_take_a_fund_past_its_budget(pg, app_ctx, live_server, client):
    admin = admin_token()
    fund = create_fund(client, admin, budget_cents=7 * 10_000 + 5_000)  # covers 7 of 20
    service = create_service(client, admin, AID, fund["id"])
    ids = []
    for _ in range(RACERS):
        _m, token, _c = make_member()
        app_id = apply(client, token, service["id"], amount_cents=10_000).get_json()["id"]
        assert (
            client.post(
                f"/api/v1/service-applications/{app_id}/decision",
                headers=bearer(admin),
                json={"decision": "pass"},
            ).status_code
            == 200
        )
        ids.append(app_id)
    reviewers = [admin_token(f"reviewer{i}") for i in range(RACERS)]

    def approve(app_id, token):
        return lambda: requests.post(
            f"{live_server}/api/v1/service-applications/{app_id}/decision",
            json={"decision": "approve"}, headers=bearer(token), timeout=60)  # fmt: skip

    answers = race([approve(a, t) for a, t in zip(ids, reviewers, strict=True)])
    codes = sorted((r.status_code, r.json().get("code")) for r in answers)
    assert codes == [(200, None)] * 7 + [(409, "fund_exhausted")] * 13
    db.session.expire_all()
    row = db.session.get(Fund, fund["id"])
    assert row.committed_cents == 70_000 <= row.budget_cents
    approved = db.session.execute(
        select(func.count(), func.sum(Application.approved_cents))
        .where(Application.status == "approved")).one()  # fmt: skip
    assert tuple(approved) == (7, 70_000)
    assert db.session.scalar(select(func.count()).select_from(Application).where(
        Application.status == "checked")) == 13  # fmt: skip


def test_many_reviewers_approving_one_application_commit_it_once(pg, app_ctx, live_server, client):
    admin = admin_token()
    fund = create_fund(client, admin, budget_cents=1_000_000)
    service = create_service(client, admin, AID, fund["id"])
    _m, token, _c = make_member()
    app_id = apply(client, token, service["id"], amount_cents=10_000).get_json()["id"]
    client.post(f"/api/v1/service-applications/{app_id}/decision", headers=bearer(admin),
                json={"decision": "pass"})  # fmt: skip
    url = f"{live_server}/api/v1/service-applications/{app_id}/decision"
    answers = race([lambda: requests.post(url, json={"decision": "approve"},
                                          headers=bearer(admin), timeout=60)] * 10)  # fmt: skip
    assert sorted(r.status_code for r in answers) == [200] + [409] * 9
    db.session.expire_all()
    assert db.session.get(Fund, fund["id"]).committed_cents == 10_000


def test_one_award_per_level_holds_under_concurrent_submissions(
    pg, app_ctx, live_server, client, app
):
    admin = admin_token()
    fund = create_fund(client, admin)
    service = create_service(client, admin, AWARD, fund["id"])
    _m, token, _c = make_member()
    url = f"{live_server}/api/v1/services/{service['id']}/applications"
    folder = Path(app.instance_path) / "service-documents"
    before = set(folder.iterdir()) if folder.exists() else set()

    def submit():
        return requests.post(
            url,
            headers=bearer(token),
            timeout=60,
            data={"level": "technician", "answers": "{}"},
            files=[("documents", ("cert.pdf", PDF, "application/pdf"))],
        )

    answers = race([submit] * RACERS)
    codes = sorted((r.status_code, r.json().get("code")) for r in answers)
    assert codes == [(201, None)] + [(409, "award_already_claimed")] * (RACERS - 1)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1
    assert db.session.scalar(select(func.count()).select_from(Document)) == 1
    stored = set(folder.iterdir()) - before
    winner = db.session.scalars(select(Document)).one()
    assert [p.name for p in stored] == [winner.storage_name]  # the losers' files are gone
