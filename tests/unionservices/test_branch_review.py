"""Branch admins in union services: the branch check of their subtree's members only.

The tree: district D1 (130102) with branches A and B, district D2 (130104) with a branch also
called ``一分会`` as A is (names are unique under one district only), so scoping by the branch
name would leak D2's applications to A's admin: the scope is the applicant's ``org_id``.
"""

from __future__ import annotations

import pytest

from marketplace import orgs
from marketplace.auth.services import create_account
from marketplace.extensions import db
from marketplace.members.models import Member
from tests.orgs.helpers import PASSWORD, login

from .conftest import apply, bearer, create_service, make_member
from .test_covers import ACCIDENT, report
from .test_seats import COURSE, slot_body

BRANCHES = {"A": ("130102", "一分会"), "B": ("130102", "二分会"), "C": ("130104", "一分会")}


def member_in(node: int, region: str, branch: str):
    member_id, token, card_no = make_member(branch=branch, region=region)
    db.session.get(Member, member_id).org_id = node
    db.session.commit()
    return member_id, token, card_no


@pytest.fixture
def tree(client, admin, aid):
    _fund, service = aid
    nodes = {k: orgs.ensure_branch(r, b) for k, (r, b) in BRANCHES.items()}
    nodes["D1"] = orgs.ensure_branch("130102", "")
    db.session.commit()
    tokens, apps, members = {}, {}, {}
    for key, (region, branch) in BRANCHES.items():
        members[key], tokens[key], _card = member_in(nodes[key], region, branch)
        resp = apply(client, tokens[key], service["id"], amount_cents=1000)
        assert resp.status_code == 201, resp.get_json()
        apps[key] = resp.get_json()
    admins = {}
    for key in ("A", "B", "D1"):
        create_account(f"admin-{key}", PASSWORD, "branch_admin", org_id=nodes[key])
        admins[key] = login(client, f"admin-{key}")
    return {"nodes": nodes, "tokens": tokens, "apps": apps, "members": members,
            "admins": admins, "service": service}  # fmt: skip


def _decide(client, token, app_id, decision, **kw):
    return client.post(f"/api/v1/service-applications/{app_id}/decision", headers=bearer(token),
                       json={"decision": decision, **kw})  # fmt: skip


def _queue(client, token, step=None):
    resp = client.get("/api/v1/service-reviews" + (f"?step={step}" if step else ""),
                      headers=bearer(token))  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    return {a["id"] for a in resp.get_json()}


def test_branch_admin_sees_and_checks_its_branch_only(client, tree):
    a_admin, apps = tree["admins"]["A"], tree["apps"]
    # C's branch has the same name as A's, under another district: not A's.
    assert _queue(client, a_admin) == {apps["A"]["id"]}
    assert _queue(client, a_admin, "city") == set()
    mine = client.get(f"/api/v1/service-applications/{apps['A']['id']}", headers=bearer(a_admin))
    assert mine.status_code == 200
    doc = apps["A"]["documents"][0]["id"]
    url = f"/api/v1/service-applications/{apps['A']['id']}/documents/{doc}"
    assert client.get(url, headers=bearer(a_admin)).status_code == 200
    for other in ("B", "C"):
        app_id, doc = apps[other]["id"], apps[other]["documents"][0]["id"]
        for path in (f"/api/v1/service-applications/{app_id}",
                     f"/api/v1/service-applications/{app_id}/documents/{doc}"):  # fmt: skip
            assert client.get(path, headers=bearer(a_admin)).status_code == 404, path
        resp = _decide(client, a_admin, app_id, "pass")
        assert resp.status_code == 404 and resp.get_json()["code"] == "not_found"
        assert _decide(client, a_admin, app_id, "reject", reason="不符").status_code == 404
    # A's own application: checked by A's admin.
    resp = _decide(client, a_admin, apps["A"]["id"], "pass")
    assert resp.status_code == 200 and resp.get_json()["status"] == "checked"
    assert _queue(client, a_admin) == set()
    # B and C untouched.
    for other in ("B", "C"):
        got = client.get(f"/api/v1/service-applications/{apps[other]['id']}",
                         headers=bearer(tree["tokens"][other]))  # fmt: skip
        assert got.get_json()["status"] == "submitted"


def test_branch_admin_cannot_take_the_city_decision(client, tree, admin):
    a_admin, app_id = tree["admins"]["A"], tree["apps"]["A"]["id"]
    assert _decide(client, a_admin, app_id, "pass").status_code == 200
    for decision, kw in (("approve", {}), ("reject", {"reason": "不符"}),
                         ("request_documents", {"reason": "补材料"})):  # fmt: skip
        resp = _decide(client, a_admin, app_id, decision, **kw)
        assert resp.status_code == 403, (decision, resp.get_json())
        assert resp.get_json()["code"] == "forbidden"
    # Still waiting for the city; the city admin sees it in its queue.
    assert app_id in _queue(client, admin, "city")


def test_branch_admin_can_ask_for_documents_or_reject_at_the_branch_step(client, tree):
    a_admin, app_id = tree["admins"]["A"], tree["apps"]["A"]["id"]
    resp = _decide(client, a_admin, app_id, "request_documents", reason="补充出院小结")
    assert resp.status_code == 200 and resp.get_json()["status"] == "needs_documents"


def test_district_admin_sees_every_branch_under_its_district(client, tree):
    d_admin, apps = tree["admins"]["D1"], tree["apps"]
    assert _queue(client, d_admin) == {apps["A"]["id"], apps["B"]["id"]}
    assert client.get(f"/api/v1/service-applications/{apps['C']['id']}",
                      headers=bearer(d_admin)).status_code == 404  # fmt: skip
    assert _decide(client, d_admin, apps["B"]["id"], "pass").status_code == 200
    assert _decide(client, d_admin, apps["C"]["id"], "pass").status_code == 404


def test_two_step_flow_branch_admin_then_city_admin(client, tree, admin):
    b_admin, app_id = tree["admins"]["B"], tree["apps"]["B"]["id"]
    # The city admin still does both steps everywhere, but here the branch checks first.
    assert app_id in _queue(client, admin, "branch")
    assert _decide(client, b_admin, app_id, "pass").get_json()["status"] == "checked"
    assert app_id not in _queue(client, admin, "branch")
    assert app_id in _queue(client, admin, "city")
    resp = _decide(client, admin, app_id, "approve", amount_cents=800)
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["status"], resp.get_json()["approved_cents"]) == ("approved", 800)
    from unionservices.models import Step

    steps = db.session.scalars(
        db.select(Step).where(Step.application_id == app_id).order_by(Step.id)
    ).all()
    assert [(s.action, s.actor_role) for s in steps][-2:] == [("branch_pass", "branch_admin"),
                                                              ("approve", "admin")]  # fmt: skip
    # The branch admin may still read the decided application of its branch.
    got = client.get(f"/api/v1/service-applications/{app_id}", headers=bearer(b_admin))
    assert got.status_code == 200 and got.get_json()["status"] == "approved"


def test_branch_admin_sees_its_members_on_rosters_and_cover_incidents(client, tree, admin):
    course = create_service(client, admin, COURSE)
    slot = client.post(f"/api/v1/admin/services/{course['id']}/slots", headers=bearer(admin),
                       json=slot_body(capacity=10)).get_json()  # fmt: skip
    for key in ("A", "B", "C"):
        resp = client.post(f"/api/v1/slots/{slot['id']}/bookings",
                           headers=bearer(tree["tokens"][key]))  # fmt: skip
        assert resp.status_code == 201, resp.get_json()
    a_admin = tree["admins"]["A"]
    roster = client.get(f"/api/v1/admin/slots/{slot['id']}/roster", headers=bearer(a_admin))
    assert roster.status_code == 200, roster.get_json()
    body = roster.get_json()
    rows = body["bookings"] if isinstance(body, dict) else body
    assert {r["member_id"] for r in rows} == {tree["members"]["A"]}
    city = client.get(f"/api/v1/admin/slots/{slot['id']}/roster", headers=bearer(admin))
    city_rows = (
        city.get_json()["bookings"] if isinstance(city.get_json(), dict) else city.get_json()
    )
    assert {r["member_id"] for r in city_rows} == set(tree["members"].values())

    create_service(client, admin, ACCIDENT)
    incidents = {}
    for key in ("A", "B"):
        token = tree["tokens"][key]
        (enrolment,) = client.get("/api/v1/covers", headers=bearer(token)).get_json()
        incidents[key] = report(client, token, enrolment["id"]).get_json()
    listed = client.get("/api/v1/admin/cover-incidents", headers=bearer(a_admin)).get_json()
    assert {i["id"] for i in listed} == {incidents["A"]["id"]}
    theirs = incidents["B"]
    assert client.get(f"/api/v1/cover-incidents/{theirs['id']}",
                      headers=bearer(a_admin)).status_code == 404  # fmt: skip
    assert client.get(theirs["documents"][0]["url"], headers=bearer(a_admin)).status_code == 404
    assert client.post(f"/api/v1/cover-incidents/{theirs['id']}/status", headers=bearer(a_admin),
                       json={"status": "reviewing"}).status_code == 404  # fmt: skip
    ours = incidents["A"]
    assert client.get(ours["documents"][0]["url"], headers=bearer(a_admin)).status_code == 200
    moved = client.post(f"/api/v1/cover-incidents/{ours['id']}/status", headers=bearer(a_admin),
                        json={"status": "reviewing"})  # fmt: skip
    assert moved.status_code == 200 and moved.get_json()["status"] == "reviewing"


def test_branch_admin_pages_show_its_branch_only(client, tree):
    from .test_pages import get, login

    apps = tree["apps"]
    login(client, "admin-A")
    queue = get(client, "/admin/services/reviews")
    assert queue.status_code == 200
    html = queue.get_data(as_text=True)
    assert f'data-testid="queue-{apps["A"]["id"]}"' in html
    assert f'data-testid="queue-{apps["C"]["id"]}"' not in html
    assert get(client, f"/admin/services/applications/{apps['A']['id']}").status_code == 200
    assert get(client, f"/admin/services/applications/{apps['C']['id']}").status_code == 404
    doc = apps["C"]["documents"][0]["id"]
    path = f"/admin/services/applications/{apps['C']['id']}/documents/{doc}"
    assert get(client, path).status_code == 404
    # City-only pages stay closed.
    assert get(client, "/admin/services").status_code == 403
    assert get(client, "/admin/funds").status_code == 403
    covers = get(client, "/admin/covers")
    assert covers.status_code == 200 and "enrolments.csv" not in covers.get_data(as_text=True)
