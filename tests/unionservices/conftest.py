"""Union services fixtures: an admin token, members, a fund and configured services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.auth.models import Account
from marketplace.auth.tokens import issue_token, publish_versions
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import utcnow
from tests.catalogue import factories as f

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def make_member(branch="长安区总工会", months=24, active=True, region=f.HOME, password=False):
    """(member_id, token, card_no) of a member who joined ``months`` ago."""
    member_id, token, card_no = f.member(region=region, active=active, password=password)
    member = db.session.get(Member, member_id)
    member.branch = branch
    member.created_at = utcnow() - timedelta(days=31 * months)
    db.session.commit()
    return member_id, token, card_no


def admin_token(name="cityadmin"):
    account = Account(username=name, role="admin", password_hash=f.password_hash())
    db.session.add(account)
    db.session.commit()
    publish_versions([(account.id, 0)])
    return issue_token(account)["access_token"]


@pytest.fixture(autouse=True)
def _no_documents_left(instance_dir):
    """The instance folder lives for the whole session: start each test without documents."""
    import shutil

    shutil.rmtree(instance_dir / "service-documents", ignore_errors=True)


@pytest.fixture
def admin(app_ctx):
    return admin_token()


@pytest.fixture
def member(app_ctx):
    return make_member()


def create_fund(client, admin, budget_cents=500_000_00, name="二次救助", year=None):
    year = year or utcnow().year
    resp = client.post(
        "/api/v1/funds",
        headers=bearer(admin),
        json={"name": name, "year": year, "budget_cents": budget_cents},
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


AID = {
    "kind": "aid", "title": "医保二次救助", "title_en": "Secondary medical aid",
    "description": "住院自付部分的二次救助", "max_amount_cents": 2_000_000,
    "rules": {"active_card": True, "min_months": 6, "regions": ["13"]},
    "fields": [{"name": "hospital", "label": "医院", "required": True}],
    "prepare": ["住院发票", "出院小结"],
}  # fmt: skip
AWARD = {
    "kind": "aid", "title": "技能晋级奖励", "title_en": "Promotion award",
    "rules": {"levels": {"technician": 80_000, "senior_technician": 100_000},
              "one_award_per_level": True},
    "prepare": ["职业资格证书"],
}  # fmt: skip


def create_service(client, admin, body=None, fund_id=None):
    resp = client.post(
        "/api/v1/admin/services", headers=bearer(admin), json=(body or AID) | {"fund_id": fund_id}
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def apply(client, token, service_id, amount_cents=None, level=None, answers=None,
          docs=((PDF, "invoice.pdf"),)):  # fmt: skip
    import io
    import json

    data = {"answers": json.dumps(answers if answers is not None else {"hospital": "省二院"})}
    if amount_cents is not None:
        data["amount_cents"] = str(amount_cents)
    if level:
        data["level"] = level
    data["documents"] = [(io.BytesIO(b), name) for b, name in docs]
    return client.post(
        f"/api/v1/services/{service_id}/applications",
        headers=bearer(token),
        data=data,
        content_type="multipart/form-data",
    )


@pytest.fixture
def aid(client, admin):
    """(fund, service): a fund of 5,000 yuan and the medical aid service paid from it."""
    fund = create_fund(client, admin)
    return fund, create_service(client, admin, AID, fund["id"])
