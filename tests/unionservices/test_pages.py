"""Member and admin pages with the test client: the hub, applying with documents (and a forged
one refused), the reviewer's queue and decision, the fund page with its chart, payouts."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from marketplace.auth.models import Account
from marketplace.extensions import db
from unionservices.models import Application, Fund, PayoutBatch, Service

from .conftest import PDF, apply, make_member


def fresh_g() -> None:
    from flask import g

    for name in ("_login_user", "csrf_token", "principal", "_flask_babel"):
        g.pop(name, None)


def login(client, username: str) -> None:
    fresh_g()
    account = db.session.execute(select(Account).where(Account.username == username)).scalar_one()
    with client.session_transaction() as session:
        session["_user_id"] = f"{account.id}:{account.token_version}"
        session["_fresh"] = True


def get(client, path, **kw):
    fresh_g()
    return client.get(path, **kw)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def post(client, page, path, data, **kw):
    token = csrf(get(client, page).get_data(as_text=True))
    fresh_g()
    return client.post(path, data={"csrf_token": token, **data}, **kw)


def test_member_applies_through_the_pages(client, admin, aid):
    _fund, service = aid
    _m, _token, card = make_member()
    login(client, card)
    home = get(client, "/m/messages").get_data(as_text=True)  # any member page's navigation
    assert re.search(r'href="/m/services/?"[^>]*data-testid="nav-services"', home)
    hub = get(client, "/m/services").get_data(as_text=True)
    assert "医保二次救助" in hub and 'data-testid="eligible"' in hub and "住院发票" in hub
    page = f"/m/services/{service['id']}"
    forged = post(client, page, f"{page}/apply", {
        "amount": "1200.50", "a_hospital": "省二院",
        "documents": (io.BytesIO(b"<html>not a scan</html>"), "scan.pdf", "application/pdf")},
        content_type="multipart/form-data")  # fmt: skip
    assert forged.status_code == 415
    assert 'data-code="document_type"' in forged.get_data(as_text=True)
    assert 'value="省二院"' not in forged.get_data(as_text=True)  # a textarea keeps it instead
    assert "省二院" in forged.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Application)) == 0
    done = post(
        client,
        page,
        f"{page}/apply",
        {
            "amount": "1200.50",
            "a_hospital": "省二院",
            "documents": (io.BytesIO(PDF), "invoice.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    app = db.session.scalars(select(Application)).one()
    assert app.amount_cents == 120_050 and app.answers == {"hospital": "省二院"}
    html = get(client, done.headers["Location"]).get_data(as_text=True)
    assert 'data-status="submitted"' in html and "application/pdf" in html
    hub = get(client, "/m/services").get_data(as_text=True)
    assert f'data-testid="application-{app.id}"' in hub


def test_reviewer_decides_and_pays_through_the_admin_pages(client, admin, aid):
    fund, service = aid
    _m, token, _card = make_member()
    app_id = apply(client, token, service["id"], amount_cents=50_000).get_json()["id"]
    login(client, "cityadmin")
    queue = get(client, "/admin/services/reviews").get_data(as_text=True)
    assert f'data-testid="queue-{app_id}"' in queue
    detail = f"/admin/services/applications/{app_id}"
    decision = f"{detail}/decision"
    assert post(client, detail, decision, {"decision": "reject"}).status_code == 422
    assert post(client, detail, decision, {"decision": "pass"}).status_code == 302
    assert post(client, detail, decision, {"decision": "approve", "amount": "400"}
                ).status_code == 302  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Application, app_id).approved_cents == 40_000
    fund_page = f"/admin/funds/{fund['id']}"
    html = get(client, fund_page).get_data(as_text=True)
    assert "¥400.00" in html and 'data-testid="chart"' in html
    svg = get(client, f"{fund_page}/chart.svg")
    assert svg.mimetype == "image/svg+xml" and b"<script" not in svg.data and b"<svg" in svg.data
    assert post(client, fund_page, f"{fund_page}/payout-batches", {}).status_code == 302
    batch = db.session.scalars(select(PayoutBatch)).one()
    assert get(client, f"/admin/payout-batches/{batch.id}.csv").data.startswith(b"\xef\xbb\xbf")
    assert post(client, fund_page, f"/admin/payout-batches/{batch.id}/confirm", {}
                ).status_code == 302  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Fund, fund["id"]).paid_cents == 40_000


def test_admin_configures_a_service_and_a_fund_through_the_pages(client, admin):
    login(client, "cityadmin")
    made = post(client, "/admin/funds", "/admin/funds",
                {"name": "困难帮扶", "year": "2026", "budget": "100000"})  # fmt: skip
    assert made.status_code == 302
    fund = db.session.scalars(select(Fund)).one()
    assert fund.budget_cents == 10_000_000
    bad = post(client, "/admin/services", "/admin/services",
               {"kind": "aid", "title": "", "levels": "technician=800"})  # fmt: skip
    assert bad.status_code == 422 and 'data-testid="form-errors"' in bad.get_data(as_text=True)
    ok = post(client, "/admin/services", "/admin/services", {
        "kind": "aid", "title": "技能晋级奖励", "fund_id": str(fund.id), "active_card": "y",
        "min_months": "3", "regions": "13，1301", "one_award_per_level": "y",
        "levels": "technician=800\nsenior_technician=1000", "fields": "employer|工作单位|required",
        "prepare": "职业资格证书\n身份证"})  # fmt: skip
    assert ok.status_code == 302
    service = db.session.scalars(select(Service)).one()
    assert service.rules == {"active_card": True, "min_months": 3, "regions": ["13", "1301"],
                             "levels": {"technician": 80_000, "senior_technician": 100_000},
                             "one_award_per_level": True}  # fmt: skip
    assert service.fields == [{"name": "employer", "label": "工作单位", "required": True}]
