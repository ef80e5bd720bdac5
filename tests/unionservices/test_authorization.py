"""Authorization matrix of every union-services route: no login, the applicant, another member,
a reviewer (admin), a merchant owner and two branch admins: the applicant's branch (BA) and
another branch (BB). Another member's application answers 404; so does an application, incident
or document of a member outside a branch admin's subtree; the city-only actions answer 403."""

from __future__ import annotations

import pytest

from tests.authz import allowed_roles
from tests.catalogue import factories as f

from .conftest import apply, bearer, create_service, make_member

A, M, OTHER, R, X = "anon", "applicant", "other", "reviewer", "merchant"
BA, BB = "branch_admin", "other_branch_admin"


@pytest.fixture
def world(client, admin, aid):
    fund, service = aid
    from marketplace import orgs
    from marketplace.auth.services import create_account
    from marketplace.extensions import db
    from marketplace.members.models import Member
    from tests.orgs.helpers import PASSWORD, login

    applicant_id, applicant, _c = make_member()
    _m, other, other_card = make_member()
    branch_a = orgs.ensure_branch("130102", "一分会")
    branch_b = orgs.ensure_branch("130102", "二分会")
    db.session.get(Member, applicant_id).org_id = branch_a
    db.session.commit()
    create_account("admin-a", PASSWORD, "branch_admin", org_id=branch_a)
    create_account("admin-b", PASSWORD, "branch_admin", org_id=branch_b)
    _shop, owner, _clerk = f.merchant()
    app = apply(client, applicant, service["id"], amount_cents=1000).get_json()
    from .test_seats import COURSE, slot_body

    course = create_service(client, admin, COURSE)
    slot = client.post(
        f"/api/v1/admin/services/{course['id']}/slots",
        headers=bearer(admin),
        json=slot_body(capacity=50),
    ).get_json()
    booking = client.post(
        f"/api/v1/slots/{slot['id']}/bookings", headers=bearer(applicant)
    ).get_json()
    from .test_covers import ACCIDENT, report

    cover = create_service(client, admin, ACCIDENT)
    (enrolment,) = client.get("/api/v1/covers", headers=bearer(applicant)).get_json()
    incident = report(client, applicant, enrolment["id"]).get_json()
    job = client.post("/api/v1/admin/jobs", headers=bearer(admin), json={
        "employer": "厂", "position": "车工", "district": "130102", "salary_min": 1,
        "salary_max": 2, "contact": "王"}).get_json()  # fmt: skip
    tokens = {A: None, M: applicant, OTHER: other, R: admin, X: owner,
              BA: login(client, "admin-a"), BB: login(client, "admin-b")}  # fmt: skip
    return {"fund": fund, "service": service, "app": app, "doc": app["documents"][0]["id"],
            "course": course, "slot": slot, "booking": booking, "cover": cover,
            "enrolment": enrolment, "incident": incident, "job": job,
            "tokens": tokens, "other_card": other_card}  # fmt: skip


def routes(w):
    s, a, d, fund = w["service"]["id"], w["app"]["id"], w["doc"], w["fund"]["id"]
    doc = f"/api/v1/service-applications/{a}/documents/{d}"
    no_branch = {BA: 403, BB: 403}
    member_only = {A: 401, M: 200, OTHER: 200, R: 403, X: 403} | no_branch
    admin_only = {A: 401, M: 403, OTHER: 403, R: 200, X: 403} | no_branch
    # the applicant's branch admin too; another branch's admin: 404, as another member
    owner_or_reviewer = {A: 401, M: 200, OTHER: 404, R: 200, X: 403, BA: 200, BB: 404}
    # branch admins in, each seeing its own subtree only (the lists are filtered)
    union = admin_only | {BA: 200, BB: 200}
    # (a bad body is refused before the lookup, whoever asks; another branch's admin gets 404
    # for a valid decision or status: tests/unionservices/test_branch_review.py)
    return [
        ("GET", "/api/v1/services", None, "service.browse", member_only),
        ("GET", f"/api/v1/services/{s}", None, "service.browse", member_only),
        ("GET", "/api/v1/service-applications", None, "service.browse", member_only),
        ("GET", f"/api/v1/service-applications/{a}", None, "service.document", owner_or_reviewer),
        ("GET", doc, None, "service.document", owner_or_reviewer),
        # no documents: 422 for the applicant; another member's application: 404
        ("POST", f"/api/v1/service-applications/{a}/resubmit", "multipart", "service.apply",
         {A: 401, M: 409, OTHER: 404, R: 403, X: 403} | no_branch),
        ("POST", f"/api/v1/services/{s}/applications", "multipart", "service.apply",
         {A: 401, M: 422, OTHER: 422, R: 403, X: 403} | no_branch),
        ("GET", "/api/v1/service-reviews", None, "service.review", union),
        ("POST", f"/api/v1/service-applications/{a}/decision", {"decision": "nonsense"},
         "service.review", admin_only | {R: 422, BA: 422, BB: 422}),
        ("GET", "/api/v1/admin/services", None, "service.manage", admin_only),
        ("POST", "/api/v1/admin/services", {}, "service.manage", admin_only | {R: 422}),
        ("PATCH", f"/api/v1/admin/services/{s}", {"title": "新名"}, "service.manage",
         admin_only),
        ("GET", "/api/v1/funds", None, "fund.view", admin_only),
        ("POST", "/api/v1/funds", {}, "service.manage", admin_only | {R: 422}),
        ("GET", f"/api/v1/funds/{fund}", None, "fund.view", admin_only),
        ("GET", f"/api/v1/funds/{fund}/payout-batches", None, "fund.view", admin_only),
        ("POST", f"/api/v1/funds/{fund}/payout-batches", None, "fund.payout",
         admin_only | {R: 409}),
        ("GET", "/api/v1/payout-batches/999.csv", None, "fund.payout", admin_only | {R: 404}),
        ("POST", "/api/v1/payout-batches/999/confirm", None, "fund.payout",
         admin_only | {R: 404}),
        ("GET", f"/api/v1/services/{w['course']['id']}/slots", None, "service.browse",
         member_only),
        ("POST", f"/api/v1/admin/services/{w['course']['id']}/slots", {}, "slot.manage",
         admin_only | {R: 422}),
        ("GET", f"/api/v1/admin/slots/{w['slot']['id']}/roster", None, "slot.roster", union),
        ("GET", "/api/v1/service-bookings", None, "service.book", member_only),
        # the applicant's held booking is confirmed; another member's answers 404
        ("POST", f"/api/v1/service-bookings/{w['booking']['id']}/confirm", None,
         "service.book", {A: 401, M: 200, OTHER: 404, R: 403, X: 403} | no_branch),
        ("POST", f"/api/v1/service-bookings/{w['booking']['id']}/cancel", None,
         "service.book", {A: 401, M: 200, OTHER: 404, R: 403, X: 403} | no_branch),
        ("GET", "/api/v1/covers", None, "cover.own", member_only),
        ("POST", f"/api/v1/covers/{w['enrolment']['id']}/incidents", "multipart", "cover.own",
         {A: 401, M: 422, OTHER: 404, R: 403, X: 403} | no_branch),
        ("GET", "/api/v1/cover-incidents", None, "cover.own", member_only),
        ("GET", f"/api/v1/cover-incidents/{w['incident']['id']}", None, "service.document",
         owner_or_reviewer),
        ("GET", w["incident"]["documents"][0]["url"], None, "service.document",
         owner_or_reviewer),
        ("GET", "/api/v1/admin/cover-incidents", None, "cover.review", union),
        ("POST", f"/api/v1/cover-incidents/{w['incident']['id']}/status", {"status": "x"},
         "cover.review", admin_only | {R: 422, BA: 422, BB: 422}),
        ("GET", f"/api/v1/admin/services/{w['cover']['id']}/enrolments.csv", None,
         "cover.manage", admin_only),
        ("GET", "/api/v1/jobs", None, "job.browse", member_only),
        ("POST", f"/api/v1/jobs/{w['job']['id']}/interest", None, "job.browse",
         member_only | {M: 201, OTHER: 201}),
        ("DELETE", f"/api/v1/jobs/{w['job']['id']}/interest", None, "job.browse",
         member_only | {M: 204, OTHER: 204}),
        ("GET", "/api/v1/admin/jobs", None, "job.manage", admin_only),
        ("POST", "/api/v1/admin/jobs", {}, "job.manage", admin_only | {R: 422}),
        ("PATCH", f"/api/v1/admin/jobs/{w['job']['id']}", {"status": "open"}, "job.manage",
         admin_only),
        ("GET", f"/api/v1/admin/jobs/{w['job']['id']}/interested", None, "job.manage",
         admin_only),
        # booking last: the applicant already holds a seat, the other member gets one
        ("POST", f"/api/v1/slots/{w['slot']['id']}/bookings", None, "service.book",
         {A: 401, M: 201, OTHER: 201, R: 403, X: 403} | no_branch),
    ]  # fmt: skip


def test_api_matrix(client, world):
    got, want = {}, {}
    for method, path, body, action, expected in routes(world):
        roles = allowed_roles(action)
        assert ("member" in roles) == (expected[M] not in (401, 403)), path
        assert ("admin" in roles) == (expected[R] not in (401, 403)), path
        assert ("branch_admin" in roles) == (expected[BA] not in (401, 403)), path
        for persona, token in world["tokens"].items():
            headers = bearer(token) if token else {}
            if body == "multipart":
                resp = client.open(path, method=method, headers=headers, data={"answers": "{}"},
                                   content_type="multipart/form-data")  # fmt: skip
            else:
                resp = client.open(path, method=method, headers=headers, json=body)
            got[(method, path, persona)] = resp.status_code
            want[(method, path, persona)] = expected[persona]
    assert got == want


def test_pages_matrix(client, world, admin):
    """Member pages: another member's application and document are 404; admin pages refuse
    members (403); no login goes to a login page (302)."""
    a, d = world["app"]["id"], world["doc"]
    member_pages = ["/m/services", f"/m/services/{world['service']['id']}",
                    f"/m/services/applications/{a}",
                    f"/m/services/applications/{a}/documents/{d}", "/m/services/covers",
                    world["incident"]["documents"][0]["url"].replace(
                        f"/api/v1/cover-incidents/{world['incident']['id']}",
                        f"/m/services/covers/incidents/{world['incident']['id']}"),
                    "/m/services/jobs"]  # fmt: skip
    admin_pages = ["/admin/services", "/admin/services/reviews",
                   f"/admin/services/applications/{a}",
                   f"/admin/services/applications/{a}/documents/{d}", "/admin/funds",
                   f"/admin/funds/{world['fund']['id']}",
                   f"/admin/funds/{world['fund']['id']}/chart.svg",
                   f"/admin/services/{world['course']['id']}/slots",
                   f"/admin/slots/{world['slot']['id']}/roster", "/admin/covers",
                   f"/admin/services/{world['cover']['id']}/enrolments.csv", "/admin/jobs",
                   f"/admin/jobs/{world['job']['id']}"]  # fmt: skip
    for path in member_pages + admin_pages:
        assert client.get(path).status_code == 302, path
    from .test_pages import get, login

    login(client, world["other_card"])
    assert [get(client, p).status_code for p in member_pages] == [200, 200, 404, 404, 200, 404, 200]
    # The admin download asks the same rule as the member one: not theirs, so 404.
    assert [get(client, p).status_code for p in admin_pages] == [403, 403, 403, 404] + [403] * 9
    from .test_pages import post

    booking = world["booking"]["id"]
    for action in ("confirm", "cancel"):  # another member's booking: 404
        url = f"/m/services/bookings/{booking}/{action}"
        assert post(client, "/m/services", url, {}).status_code == 404
    login(client, "cityadmin")
    assert {get(client, p).status_code for p in admin_pages} == {200}
    assert [get(client, p).status_code for p in member_pages] == [403, 403, 403, 200, 403, 200, 403]
    # Branch admins: the review queue, rosters and incidents of their subtree; documents of
    # their members only (another branch's: 404); the city's configuration, funds, slots,
    # insurer export and jobs: 403.
    login(client, "admin-a")
    assert [get(client, p).status_code for p in admin_pages] == [
        403, 200, 200, 200, 403, 403, 403, 403, 200, 200, 403, 403, 403]  # fmt: skip
    assert [get(client, p).status_code for p in member_pages] == [403, 403, 403, 200, 403, 200, 403]
    login(client, "admin-b")
    assert [get(client, p).status_code for p in admin_pages] == [
        403, 200, 404, 404, 403, 403, 403, 403, 200, 200, 403, 403, 403]  # fmt: skip
    assert [get(client, p).status_code for p in member_pages] == [403, 403, 403, 404, 403, 404, 403]
