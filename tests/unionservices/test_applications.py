"""Union services API: the hub, applying with documents, bad input that changes nothing, the
two review steps, fund accounting and payout batches (SQLite by default, PostgreSQL in CI)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import AuditEvent
from unionservices import notify
from unionservices.models import Application, Document, Fund, Step

from .conftest import AWARD, PDF, PNG, apply, bearer, create_fund, create_service, make_member


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _stored_files(app) -> list[Path]:
    folder = Path(app.instance_path) / "service-documents"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_hub_says_who_is_eligible_and_why_not(client, admin, aid):
    _fund, service = aid
    _m, ok, _c = make_member()
    _m, new, _c = make_member(months=2)
    _m, inactive, _c = make_member(active=False)
    _m, far, _c = make_member(region="310101")
    rows = {}
    for name, token in (("ok", ok), ("new", new), ("inactive", inactive), ("far", far)):
        resp = client.get("/api/v1/services", headers=bearer(token))
        assert resp.status_code == 200
        (row,) = [s for s in resp.get_json() if s["id"] == service["id"]]
        rows[name] = (row["eligible"], row["not_eligible_because"])
    assert rows == {
        "ok": (True, []),
        "new": (False, ["membership_too_short"]),
        "inactive": (False, ["card_not_active"]),
        "far": (False, ["region_not_covered"]),
    }
    detail = client.get(f"/api/v1/services/{service['id']}", headers=bearer(ok)).get_json()
    assert (
        detail["prepare"] == ["住院发票", "出院小结"] and detail["fields"][0]["name"] == "hospital"
    )


def test_apply_stores_documents_outside_the_web_root_for_applicant_and_reviewers(
    app, client, admin, aid
):
    _fund, service = aid
    _m, token, _c = make_member()
    _m, other, _c = make_member()
    resp = apply(client, token, service["id"], amount_cents=150_000,
                 docs=((PDF, "诊断书_张三.pdf"), (PNG, "invoice.png")))  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "submitted" and body["branch"] == "长安区总工会"
    assert [d["content_type"] for d in body["documents"]] == ["application/pdf", "image/png"]
    files = _stored_files(app)
    assert len(files) == 2 and Path(app.instance_path) in files[0].parents
    assert sorted(f.read_bytes() for f in files) == sorted([PDF, PNG])
    assert all("张三" not in f.name for f in files)  # the member's file name is not kept
    url = body["documents"][0]["url"]
    own = client.get(url, headers=bearer(token))
    assert own.status_code == 200 and own.data == PDF and own.mimetype == "application/pdf"
    assert client.get(url, headers=bearer(other)).status_code == 404
    assert client.get(url, headers=bearer(admin)).status_code == 200
    downloads = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_document.download")
    ).all()
    assert len(downloads) == 2 and "张三" not in str([d.data for d in downloads])
    assert client.get(f"/api/v1/service-applications/{body['id']}", headers=bearer(other)
                      ).status_code == 404  # fmt: skip


def test_bad_input_gets_a_problem_and_changes_nothing(app, client, admin, aid):
    _fund, service = aid
    _m, token, _c = make_member()
    _m, newbie, _c = make_member(months=1)
    award = create_service(client, admin, AWARD, aid[0]["id"])
    assert apply(client, token, award["id"], level="technician", answers={}).status_code == 201
    before = (_count(Application), _count(Document), len(_stored_files(app)))
    app.config["SERVICE_DOC_MAX_BYTES"] = 1024
    cases = {
        "forged": (apply(client, token, service["id"], amount_cents=100,
                         docs=((b"MZ\x90\x00 not a pdf", "scan.pdf"),)), 415, "document_type"),
        "oversized": (apply(client, token, service["id"], amount_cents=100,
                            docs=((PDF + b"0" * 2048, "big.pdf"),)), 413, "document_too_large"),
        "above_max": (apply(client, token, service["id"], amount_cents=2_000_001),
                      422, "amount_above_maximum"),
        "ineligible": (apply(client, newbie, service["id"], amount_cents=100), 403,
                       "not_eligible"),
        "second_award": (apply(client, token, award["id"], level="technician", answers={}),
                         409, "award_already_claimed"),
        "missing_field": (apply(client, token, service["id"], amount_cents=100, answers={}),
                          422, "validation_error"),
    }  # fmt: skip
    for name, (resp, status, code) in cases.items():
        assert resp.status_code == status, (name, resp.get_json())
        assert resp.mimetype == "application/problem+json"
        assert resp.get_json()["code"] == code, name
    assert (_count(Application), _count(Document), len(_stored_files(app))) == before
    # The other level is still open to the same member.
    assert apply(client, token, award["id"], level="senior_technician", answers={}
                 ).status_code == 201  # fmt: skip


def _decide(client, token, app_id, decision, **body):
    return client.post(f"/api/v1/service-applications/{app_id}/decision", headers=bearer(token),
                       json={"decision": decision, **body})  # fmt: skip


def test_two_step_review_with_more_documents_records_every_step(client, admin, aid):
    fund, service = aid
    member_id, token, _c = make_member()
    heard = []
    stop = notify.listen(lambda m, kind, payload: heard.append((m, kind, payload["status"])))
    try:
        app_id = apply(client, token, service["id"], amount_cents=300_000).get_json()["id"]
        queue = client.get("/api/v1/service-reviews?step=branch", headers=bearer(admin))
        assert [a["id"] for a in queue.get_json()] == [app_id]
        assert queue.get_json()[0]["waiting_hours"] >= 0
        # The city cannot approve before the branch check.
        assert _decide(client, admin, app_id, "approve").get_json()["code"] == "invalid_transition"
        no_reason = _decide(client, admin, app_id, "request_documents")
        assert no_reason.status_code == 422
        asked = _decide(client, admin, app_id, "request_documents", reason="缺少出院小结")
        assert asked.get_json()["status"] == "needs_documents"
        resub = client.post(f"/api/v1/service-applications/{app_id}/resubmit",
                            headers=bearer(token), content_type="multipart/form-data",
                            data={"documents": [(io.BytesIO(PNG), "summary.png")]})  # fmt: skip
        assert resub.status_code == 200 and resub.get_json()["status"] == "submitted"
        assert len(resub.get_json()["documents"]) == 2
        assert _decide(client, admin, app_id, "pass").get_json()["status"] == "checked"
        over = _decide(client, admin, app_id, "approve", amount_cents=300_001)
        assert over.get_json()["code"] == "amount_above_request"
        done = _decide(client, admin, app_id, "approve", amount_cents=250_000)
        assert done.status_code == 200 and done.get_json()["status"] == "approved"
        again = _decide(client, admin, app_id, "approve")
        assert again.status_code == 409
    finally:
        stop()
    assert db.session.get(Fund, fund["id"]).committed_cents == 250_000
    steps = [(s.action, s.status) for s in db.session.scalars(
        select(Step).where(Step.application_id == app_id).order_by(Step.id))]  # fmt: skip
    assert steps == [("submit", "submitted"), ("request_documents", "needs_documents"),
                     ("resubmit", "submitted"), ("branch_pass", "checked"),
                     ("approve", "approved")]  # fmt: skip
    audited = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.subject_type == "service_application")
        .order_by(AuditEvent.id)
    ).all()
    assert audited == ["service_application.submit", "service_application.request_documents",
                       "service_application.resubmit", "service_application.branch_pass",
                       "service_application.approve"]  # fmt: skip
    assert [k for _m, k, _s in heard] == [
        "application.submitted", "application.needs_documents", "application.resubmitted",
        "application.checked", "application.approved"]  # fmt: skip
    assert {m for m, _k, _s in heard} == {member_id}


def test_an_approval_the_budget_cannot_cover_changes_nothing(client, admin):
    fund = create_fund(client, admin, budget_cents=100_000)
    from .conftest import AID

    service = create_service(client, admin, AID, fund["id"])
    _m, token, _c = make_member()
    ids = [apply(client, token, service["id"], amount_cents=60_000).get_json()["id"]
           for _ in range(2)]  # fmt: skip
    for app_id in ids:
        assert _decide(client, admin, app_id, "pass").status_code == 200
    assert _decide(client, admin, ids[0], "approve").status_code == 200
    refused = _decide(client, admin, ids[1], "approve")
    assert refused.status_code == 409 and refused.get_json()["code"] == "fund_exhausted"
    db.session.expire_all()
    assert db.session.get(Application, ids[1]).status == "checked"
    assert db.session.get(Fund, fund["id"]).committed_cents == 60_000
    rejected = _decide(client, admin, ids[1], "reject", reason="预算用完")
    assert rejected.get_json()["status"] == "rejected"
    assert rejected.get_json()["reason"] == "预算用完"


def test_payouts_export_once_excel_safe_and_confirm_once(client, admin, aid):
    fund, service = aid
    member_id, token, card_no = make_member()
    db.session.get(Member, member_id).name = "=HYPERLINK(1)"
    db.session.commit()
    ids = [apply(client, token, service["id"], amount_cents=a).get_json()["id"]
           for a in (10_000, 20_050)]  # fmt: skip
    for app_id in ids:
        _decide(client, admin, app_id, "pass")
        _decide(client, admin, app_id, "approve")
    batch = client.post(f"/api/v1/funds/{fund['id']}/payout-batches", headers=bearer(admin))
    assert batch.status_code == 201
    batch = batch.get_json()
    assert (batch["count"], batch["total_cents"]) == (2, 30_050)
    again = client.post(f"/api/v1/funds/{fund['id']}/payout-batches", headers=bearer(admin))
    assert again.status_code == 409 and again.get_json()["code"] == "nothing_to_export"
    text = client.get(batch["csv_url"], headers=bearer(admin)).data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["card_no", "name", "amount_yuan", "reference"]
    assert rows[1] == [card_no, "'=HYPERLINK(1)", "100.00", f"SH{batch['id']:06d}-{ids[0]:08d}"]
    assert rows[2][2] == "200.50"
    confirm = f"/api/v1/payout-batches/{batch['id']}/confirm"
    assert client.post(confirm, headers=bearer(admin)).get_json()["status"] == "confirmed"
    assert client.post(confirm, headers=bearer(admin)).get_json()["code"] == "batch_confirmed"
    got = client.get(f"/api/v1/funds/{fund['id']}", headers=bearer(admin)).get_json()
    assert (got["committed_cents"], got["paid_cents"]) == (30_050, 30_050)
    mine = client.get("/api/v1/service-applications", headers=bearer(token)).get_json()
    assert {a["status"] for a in mine} == {"paid"}


def test_admins_configure_services_as_data(client, admin):
    bad = client.post("/api/v1/admin/services", headers=bearer(admin),
                      json={"kind": "aid", "title": "x",
                            "rules": {"one_award_per_level": True}})  # fmt: skip
    assert bad.status_code == 422
    missing_fund = client.post("/api/v1/admin/services", headers=bearer(admin),
                               json={"kind": "aid", "title": "x", "fund_id": 999})  # fmt: skip
    assert missing_fund.status_code == 404
    made = create_service(client, admin, AWARD)
    closed = client.patch(f"/api/v1/admin/services/{made['id']}", headers=bearer(admin),
                          json={"status": "closed"})  # fmt: skip
    assert closed.get_json()["status"] == "closed"
    # A PATCH is partial at the top level only: a field spec still needs its name.
    nameless = client.patch(f"/api/v1/admin/services/{made['id']}", headers=bearer(admin),
                            json={"fields": [{"label": "0", "required": False}]})  # fmt: skip
    assert nameless.status_code == 422 and "fields" in nameless.get_json()["errors"]
    _m, token, _c = make_member()
    assert client.get(f"/api/v1/services/{made['id']}", headers=bearer(token)).status_code == 404
    assert apply(client, token, made["id"], level="technician").get_json()["code"] == (
        "not_eligible"
    )


def test_documents_and_their_names_never_reach_the_logs(client, admin, aid, caplog):
    import logging

    _fund, service = aid
    _m, token, _c = make_member()
    secret = b"%PDF-1.4 DIAGNOSIS-CONFIDENTIAL-7731"
    caplog.set_level(logging.DEBUG)
    ok = apply(client, token, service["id"], amount_cents=100,
               docs=((secret, "诊断书_王五.pdf"),))  # fmt: skip
    bad = apply(client, token, service["id"], amount_cents=100,
                docs=((b"DIAGNOSIS-CONFIDENTIAL-7731", "病历_王五.pdf"),))  # fmt: skip
    assert (ok.status_code, bad.status_code) == (201, 415)
    client.get(ok.get_json()["documents"][0]["url"], headers=bearer(token))
    text = caplog.text + str([r.__dict__ for r in caplog.records])
    assert "CONFIDENTIAL" not in text and "王五" not in text
    audit = str(db.session.scalars(select(AuditEvent.data)).all())
    assert "CONFIDENTIAL" not in audit and "王五" not in audit
