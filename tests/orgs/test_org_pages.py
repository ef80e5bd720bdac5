"""Admin console pages of the organisation tree: who gets which page, the city admin's edits,
and a branch admin's own members only (ID numbers masked)."""

from __future__ import annotations

import pytest

from marketplace import permissions
from marketplace.auth.models import Account
from marketplace.extensions import db
from marketplace.orgs import Org
from tests.merchant_portal.conftest import csrf_of, fresh_g
from tests.orgs.helpers import PASSWORD, build_tree

ROLES = ("anon", "member", "merchant_owner", "admin", "branch_admin")
PAGES = [
    ("GET", "/admin/orgs", None, "org.view", 200),
    ("GET", "/admin/orgs/{A}/members", None, "org.members", 200),
    (
        "POST",
        "/admin/orgs",
        {"parent_id": "{d1}", "kind": "branch", "name": "新"},
        "org.manage",
        302,
    ),
    ("POST", "/admin/orgs/{B}/rename", {"name": "改名"}, "org.manage", 302),
    ("POST", "/admin/orgs/{C}/delete", {}, "org.manage", 302),
    (
        "POST",
        "/admin/branch-admins",
        {"username": "x1", "password": "branch-pass-1", "org_id": "{B}"},
        "org.manage",
        302,
    ),
    ("GET", "/admin/", None, "console.enter", 200),
]


@pytest.fixture
def world(client, app_ctx):
    from marketplace.auth.services import create_account
    from tests.flashsale.factories import make_merchant

    w = build_tree(client)
    make_merchant()
    create_account("root", PASSWORD, "admin")
    create_account("admin-a", PASSWORD, "branch_admin", org_id=w["orgs"]["A"])
    member = db.session.scalar(db.select(Account.username).where(Account.role == "member"))
    owner = db.session.scalar(db.select(Account.username).where(Account.role == "merchant_owner"))
    w["accounts"] = {
        "member": member,
        "merchant_owner": owner,
        "admin": "root",
        "branch_admin": "admin-a",
    }
    return w


def session_for(client, world, role) -> str:
    if role != "anon":
        username = world["accounts"][role]
        account = db.session.scalar(db.select(Account).where(Account.username == username))
        with client.session_transaction() as sess:
            sess["_user_id"] = f"{account.id}:{account.token_version}"
            sess["_fresh"] = True
    fresh_g()
    return csrf_of(client.get("/admin/login").get_data(as_text=True))


def expected(role, action, ok):
    if role == "anon":
        return "login"
    return ok if permissions.allows(role, action) else 403


@pytest.mark.parametrize("role", ROLES)
def test_pages_matrix(client, world, role):
    token = session_for(client, world, role)
    wrong = []
    for method, url, data, action, ok in PAGES:
        url = url.format(**world["orgs"])
        fresh_g()
        if method == "GET":
            resp = client.get(url)
        else:
            body = {k: v.format(**world["orgs"]) for k, v in data.items()}
            resp = client.post(url, data={"csrf_token": token, **body})
        got = resp.status_code
        if got == 302 and "/login" in resp.headers["Location"]:
            got = "login"
        if got != expected(role, action, ok):
            wrong.append((method, url, got, expected(role, action, ok)))
    assert wrong == []


def test_branch_admin_pages_show_its_members_only(client, world):
    session_for(client, world, "branch_admin")
    t, m = world["orgs"], world["members"]
    html = client.get(f"/admin/orgs/{t['A']}/members").get_data(as_text=True)
    assert f'data-testid="member-{m[1]}"' in html and f'data-testid="member-{m[2]}"' not in html
    assert "**************" in html
    fresh_g()
    assert client.get(f"/admin/orgs/{t['B']}/members").status_code == 404
    fresh_g()
    tree = client.get("/admin/orgs").get_data(as_text=True)
    assert "一分会" in tree and "二分会" not in tree and "org-create" not in tree
    fresh_g()
    home = client.get("/admin/").get_data(as_text=True)
    assert "home-orgs" in home and "nav-merchants" not in home


def test_city_admin_edits_through_the_pages(client, world):
    token = session_for(client, world, "admin")
    t = world["orgs"]
    fresh_g()
    client.post(
        "/admin/orgs",
        data={
            "csrf_token": token,
            "parent_id": t["d1"],
            "kind": "branch",
            "name": "<img src=x onerror=alert(1)>",
        },
    )
    fresh_g()
    html = client.get("/admin/orgs").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    fresh_g()
    resp = client.post(
        f"/admin/orgs/{t['A']}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "只能删除空组织" in resp.get_data(as_text=True)
    assert db.session.get(Org, t["A"]) is not None
    fresh_g()
    client.post(
        "/admin/branch-admins",
        data={
            "csrf_token": token,
            "username": "wang",
            "password": "branch-pass-1",
            "org_id": t["C"],
        },
    )
    made = db.session.scalar(db.select(Account).where(Account.username == "wang"))
    assert (made.role, made.org_id) == ("branch_admin", t["C"])


def test_out_of_range_ids_in_forms_are_refused_not_500(client, world):
    token = session_for(client, world, "admin")
    for data in ({"parent_id": str(2**70), "kind": "branch", "name": "x"},
                 {"parent_id": "-1", "kind": "branch", "name": "x"},
                 {"parent_id": "１２", "kind": "branch", "name": "x"}):  # fmt: skip
        fresh_g()
        resp = client.post("/admin/orgs", data={"csrf_token": token, **data})
        assert resp.status_code == 302, data
    fresh_g()
    resp = client.post("/admin/branch-admins", data={"csrf_token": token, "username": "big",
                       "password": "branch-pass-1", "org_id": str(2**64)})  # fmt: skip
    assert resp.status_code == 302
    assert db.session.scalar(db.select(Account).where(Account.username == "big")) is None
