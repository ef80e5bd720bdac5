"""Codes on the admin and portal pages read as words (issue #18 item 4): every audit action the
code records has a label, and the audit log, the merchant page and a zh-CN render show them."""

from __future__ import annotations

import re
from pathlib import Path

from merchant_portal.labels import AUDIT_ACTIONS, SUBJECTS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("marketplace", "shihui", "catalogue", "flashsale", "merchant_portal", "unionservices",
            "messaging")  # fmt: skip
CALL = re.compile(
    r"\b(?:record_audit|audit)\(\s*(f?)\"([a-z_]+\.[a-z_.{}]+)\",\s*(f?)\"([a-z_]+)\""
)
# The f-string families: what their placeholder takes (from the code that fills it).
FAMILIES = {
    "service_application.{action}": ("submit", "resubmit", "branch_pass", "approve", "reject",
                                     "request_documents"),
    "cover_incident.{status}": ("reported", "reviewing", "settled", "declined"),
    "groupbuy.{target}": ("closed", "succeeded", "failed"),
}  # fmt: skip


def recorded_actions() -> tuple[set[str], set[str]]:
    actions, subjects = set(), set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for is_f, action, _f2, subject in CALL.findall(path.read_text(encoding="utf-8")):
                subjects.add(subject)
                if is_f:
                    assert action in FAMILIES, f"{path}: unknown family {action}"
                    prefix = action.split("{")[0]
                    actions.update(prefix + value for value in FAMILIES[action])
                else:
                    actions.add(action)
    return actions, subjects


def test_every_recorded_audit_action_and_subject_has_a_label():
    actions, subjects = recorded_actions()
    assert len(actions) > 50  # the scan finds the calls (it fails if the pattern stops matching)
    assert sorted(actions - set(AUDIT_ACTIONS)) == []
    assert sorted(subjects - set(SUBJECTS)) == []


def test_admin_pages_name_actions_roles_categories_and_regions_in_chinese(web, admin):
    from marketplace.extensions import db
    from marketplace.merchants import Merchant
    from tests.flashsale.factories import make_merchant
    from tests.merchant_portal.conftest import fresh_g

    merchant_id, _owner = make_merchant(name="裕华洗车", username="wash", status="pending")
    merchant = db.session.get(Merchant, merchant_id)
    merchant.category, merchant.region, merchant.address = "services", "130108", ""
    db.session.commit()
    approved = web.client.post(f"/api/v1/admin/merchant-applications/{merchant_id}/approve",
                               headers={"Authorization": f"Bearer {admin[1]}"})  # fmt: skip
    assert approved.status_code == 200, approved.get_json()
    web.login("root", where="/admin/login")
    fresh_g()
    page = web.get(f"/admin/merchants/{merchant_id}").get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    assert "<dd>生活服务</dd>" in page and "<dd>裕华区</dd>" in page and "<dd>—</dd>" in page
    assert ">services<" not in page and ">130108<" not in page
    assert "None" not in page  # nor in attributes (autocomplete="None")
    assert "商户审核通过" in page and "工会管理员" in page
    fresh_g()
    audit = web.get("/admin/audit").get_data(as_text=True)
    assert "商户审核通过" in audit and 'data-action="merchant.approve"' in audit
    assert ">merchant.approve<" not in audit and "merchant_owner" not in audit.split("<tbody>")[1]
    assert "地址: " in audit  # the client's address under its label, not "client=127.0.0.1"
    assert "client=" not in audit
