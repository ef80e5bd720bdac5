"""The organisation tree: seeded by roster imports, edited by the city admin, scoped for branch
admins (a branch admin of A never sees B's members; a district admin sees its branches)."""

from __future__ import annotations

import pytest

from marketplace import orgs, permissions
from marketplace.extensions import db
from marketplace.members.models import Member
from tests.members.helpers import bearer
from tests.members.test_import import good, roster, run_jobs, upload
from tests.orgs.helpers import branch_admin, build_tree, city_admin

ROLES = ("anon", "member", "merchant_owner", "merchant_clerk", "admin", "branch_admin")


def test_a_roster_import_builds_the_tree_and_attaches_every_member(client, app_ctx):
    token = city_admin(client)
    rows = [
        good(1, branch="一分会"),
        good(2, branch="二分会"),
        good(3, branch="一分会"),
        good(4, branch="", region="130104"),
    ]
    assert upload(client, token, roster(rows)).status_code == 202
    run_jobs()
    tree = client.get("/api/v1/admin/orgs", headers=bearer(token)).get_json()
    shape = [(o["depth"], o["kind"], o["name"], o["members"]) for o in tree]
    assert shape == [
        (0, "city", "市总工会", 0),
        (1, "district", "长安区", 0),
        (2, "branch", "一分会", 2),
        (2, "branch", "二分会", 1),
        (1, "district", "桥西区", 1),  # no branch named: the member hangs on the district
    ]
    assert db.session.scalar(db.select(db.func.count()).where(Member.org_id.is_(None))) == 0
    # A second import of the same branches adds no nodes.
    upload(client, token, roster([good(5, branch="一分会")]))
    run_jobs()
    assert len(client.get("/api/v1/admin/orgs", headers=bearer(token)).get_json()) == 5


def test_seed_attaches_members_imported_before_the_tree(client, app_ctx, runner):
    build_tree(client)
    db.session.execute(db.update(Member).values(org_id=None))
    db.session.commit()
    result = runner.invoke(args=["orgs", "seed"])
    assert "3 members attached" in result.output, result.output
    a = orgs.ensure_branch("130102", "一分会")
    assert db.session.scalar(db.select(Member.org_id).where(Member.branch == "一分会")) == a
    assert "一分会 (1)" in runner.invoke(args=["orgs", "tree"]).output


def test_city_admin_edits_the_tree(client, app_ctx):
    t = build_tree(client)["orgs"]
    token = city_admin(client)
    h = bearer(token)
    made = client.post(
        "/api/v1/admin/orgs",
        headers=h,
        json={"parent_id": t["d1"], "kind": "branch", "name": "新分会"},
    )
    assert made.status_code == 201, made.get_json()
    new = made.get_json()
    assert new["path"] == f"/{t['city']}/{t['d1']}/{new['id']}/"
    # a sibling with the same name, a branch under the city, a district under a district
    clash = client.post(
        "/api/v1/admin/orgs",
        headers=h,
        json={"parent_id": t["d1"], "kind": "branch", "name": "新分会"},
    )
    assert (clash.status_code, clash.get_json()["code"]) == (409, "org_name_taken")
    for parent, kind in ((t["city"], "branch"), (t["d1"], "district"), (t["A"], "branch")):
        bad = client.post(
            "/api/v1/admin/orgs", headers=h, json={"parent_id": parent, "kind": kind, "name": "x"}
        )
        assert (bad.status_code, bad.get_json()["code"]) == (422, "bad_parent")
    # rename, then move to the other district: its path follows
    moved = client.patch(
        f"/api/v1/admin/orgs/{new['id']}", headers=h, json={"name": "新分会2", "parent_id": t["d2"]}
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["path"] == f"/{t['city']}/{t['d2']}/{new['id']}/"
    assert moved.get_json()["name"] == "新分会2"
    # a branch with members cannot be deleted; an empty one can
    busy = client.delete(f"/api/v1/admin/orgs/{t['A']}", headers=h)
    assert (busy.status_code, busy.get_json()["code"]) == (409, "org_not_empty")
    assert client.delete(f"/api/v1/admin/orgs/{new['id']}", headers=h).status_code == 204
    assert client.delete(f"/api/v1/admin/orgs/{new['id']}", headers=h).status_code == 404
    # HTML in a name is kept as text (rendered escaped by pages)
    odd = client.post(
        "/api/v1/admin/orgs",
        headers=h,
        json={"parent_id": t["d1"], "kind": "branch", "name": "<b>x</b>"},
    )
    assert odd.status_code == 201 and odd.get_json()["name"] == "<b>x</b>"
    ctrl = client.post(
        "/api/v1/admin/orgs",
        headers=h,
        json={"parent_id": t["d1"], "kind": "branch", "name": "a\x07b"},
    )
    assert ctrl.status_code == 422


def test_moving_a_district_moves_its_subtree_paths(app_ctx, client):
    t = build_tree(client)["orgs"]
    d1 = db.session.get(orgs.Org, t["d1"])
    a = db.session.get(orgs.Org, t["A"])
    assert orgs.is_within(d1, a) and not orgs.is_within(db.session.get(orgs.Org, t["d2"]), a)
    assert orgs.ancestor_ids(a) == [t["city"], t["d1"], t["A"]]
    # a branch moved to the other district is within it afterwards
    orgs.move_org(a, t["d2"])
    assert orgs.is_within(db.session.get(orgs.Org, t["d2"]), db.session.get(orgs.Org, t["A"]))
    member = db.session.get(
        Member, db.session.scalar(db.select(Member.id).where(Member.org_id == t["A"]))
    )
    assert orgs.org_of(member).id == t["A"]


def test_branch_admin_sees_its_own_members_only_masked(client, app_ctx):
    w = build_tree(client)
    t, m = w["orgs"], w["members"]
    a_admin = branch_admin(client, "admin-a", t["A"])
    d1_admin = branch_admin(client, "admin-d1", t["d1"])

    def members_of(token, org_id):
        resp = client.get(f"/api/v1/admin/orgs/{org_id}/members", headers=bearer(token))
        return resp.status_code, [x["id"] for x in resp.get_json().get("items", [])], resp

    status, ids, resp = members_of(a_admin, t["A"])
    assert (status, ids) == (200, [m[1]])
    item = resp.get_json()["items"][0]
    assert item["id_number_masked"].startswith("*" * 14) and "id_hash" not in item
    assert "130102" not in item["id_number_masked"]
    # branch A's admin: branch B, the district, the city and another district are invisible
    for other in ("B", "d1", "city", "C", "d2"):
        status, _ids, resp = members_of(a_admin, t[other])
        assert (status, resp.get_json()["code"]) == (404, "not_found"), other
    # the district admin sees both its branches, not the other district
    assert members_of(d1_admin, t["d1"])[:2] == (200, [m[1], m[2]])
    assert members_of(d1_admin, t["B"])[:2] == (200, [m[2]])
    assert members_of(d1_admin, t["C"])[0] == 404
    # the tree shows each admin its own subtree
    names = [o["name"] for o in client.get("/api/v1/admin/orgs", headers=bearer(a_admin)).json]
    assert names == ["一分会"]
    names = [o["name"] for o in client.get("/api/v1/admin/orgs", headers=bearer(d1_admin)).json]
    assert names == ["长安区", "一分会", "二分会"]
    # the city admin sees everyone
    assert members_of(city_admin(client), t["city"])[:2] == (200, [m[1], m[2], m[3]])


def test_branch_admin_accounts_via_api_and_cli(client, app_ctx, runner):
    t = build_tree(client)["orgs"]
    h = bearer(city_admin(client))
    made = client.post(
        "/api/v1/admin/branch-admins",
        headers=h,
        json={"username": "li", "password": "branch-pass-1", "org_id": t["B"]},
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["role"] == "branch_admin" and made.get_json()["org_id"] == t["B"]
    missing = client.post(
        "/api/v1/admin/branch-admins",
        headers=h,
        json={"username": "zz", "password": "branch-pass-1", "org_id": 99999},
    )
    assert missing.status_code == 404
    token = client.post(
        "/api/v1/auth/token", json={"username": "li", "password": "branch-pass-1"}
    ).get_json()
    assert token["role"] == "branch_admin"
    result = runner.invoke(
        args=[
            "admin",
            "create-branch-admin",
            "wang",
            "--org",
            str(t["C"]),
            "--password",
            "branch-pass-2",
        ]
    )
    assert result.exit_code == 0 and "branch admin 'wang' created" in result.output
    bad = runner.invoke(
        args=[
            "admin",
            "create-branch-admin",
            "zhao",
            "--org",
            "99999",
            "--password",
            "branch-pass-2",
        ]
    )
    assert bad.exit_code != 0


ENDPOINTS = [
    ("get", "/api/v1/admin/orgs", "org.view", None),
    ("post", "/api/v1/admin/orgs", "org.manage", {"parent_id": 0, "kind": "branch", "name": "x"}),
    ("patch", "/api/v1/admin/orgs/{A}", "org.manage", {"name": "renamed"}),
    ("delete", "/api/v1/admin/orgs/{A}", "org.manage", None),
    ("get", "/api/v1/admin/orgs/{A}/members", "org.members", None),
    (
        "post",
        "/api/v1/admin/branch-admins",
        "org.manage",
        {"username": "new-admin", "password": "branch-pass-1", "org_id": 0},
    ),
]


@pytest.fixture
def callers(client, app_ctx):
    from tests.flashsale.factories import make_merchant, token_for

    w = build_tree(client)
    _, owner, clerk = make_merchant(clerk="clerk1")
    tokens = {
        "member": w["tokens"][1],
        "merchant_owner": owner,
        "merchant_clerk": clerk,
        "admin": city_admin(client),
        "branch_admin": branch_admin(client, "admin-a", w["orgs"]["A"]),
    }
    assert token_for  # the factories' tokens are already strings
    return w["orgs"], tokens


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,action,body", ENDPOINTS)
def test_authorization_matrix(client, callers, role, method, url, action, body):
    t, tokens = callers
    headers = bearer(tokens[role]) if role != "anon" else {}
    resp = getattr(client, method)(url.format(**t), headers=headers, json=body)
    if role == "anon":
        assert resp.status_code == 401
    elif permissions.allows(role, action):
        assert resp.status_code not in (401, 403), (role, resp.get_json())
    else:
        assert (resp.status_code, resp.get_json()["code"]) == (403, "forbidden"), role
