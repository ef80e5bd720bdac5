"""Union admin console: member search (masked, audit-logged, a branch admin within its subtree)
and the card coverage dashboard (per district and branch against the target, chart, CSV)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from marketplace import permissions
from marketplace.extensions import db
from marketplace.models import AuditEvent
from merchant_portal import coverage
from tests.members.helpers import details
from tests.merchant_portal.conftest import fresh_g
from tests.orgs.test_org_pages import ROLES, expected, session_for, world  # noqa: F401

PAGES = [
    ("/admin/members/search", "member.search"),
    ("POST /admin/members/search", "member.search"),
    ("/admin/coverage", "coverage.view"),
    ("/admin/coverage.csv", "coverage.view"),
    ("/admin/coverage/trend.svg", "coverage.view"),
]


@pytest.mark.parametrize("role", ROLES)
def test_matrix(client, world, role):  # noqa: F811
    token = session_for(client, world, role)
    wrong = []
    for url, action in PAGES:
        fresh_g()
        if url.startswith("POST "):
            resp = client.post(url[5:], data={"csrf_token": token, "q": "李"})
        else:
            resp = client.get(url)
        got = resp.status_code
        if got == 302 and "/login" in resp.headers["Location"]:
            got = "login"
        if got != expected(role, action, 200):
            wrong.append((url, got))
    assert wrong == []
    assert permissions.allows("branch_admin", "coverage.view")
    assert not permissions.allows("merchant_owner", "member.search")


def _search(client, q):
    """The results part of the page (the form echoes the query, as a search box does)."""
    fresh_g()
    token = session_token(client)
    fresh_g()
    html = client.post("/admin/members/search", data={"csrf_token": token, "q": q})
    html = html.get_data(as_text=True)
    assert 'data-testid="search-kind"' in html
    start = html.find('data-testid="search-kind"')
    return html[start : html.find("</main>")]


def session_token(client) -> str:
    from tests.merchant_portal.conftest import csrf_of

    return csrf_of(client.get("/admin/login").get_data(as_text=True))


def test_search_by_each_kind_is_masked_and_audited(client, world):  # noqa: F811
    session_for(client, world, "admin")
    person, member = details(1), world["members"][1]
    for q, kind in (
        (person["card_no"], "card"),
        (person["id_number"], "id"),
        (person["phone"], "phone"),
        (person["name"], "name"),
    ):
        html = _search(client, q)
        assert f'data-testid="found-{member}"' in html, kind
        assert person["card_no"] not in html and person["id_number"] not in html
        assert person["phone"] not in html and person["name"] not in html
    assert coverage.classify(person["id_number"]) == "id"
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "member.search").order_by(AuditEvent.id)
    ).all()
    assert [e.subject_id for e in events] == ["card", "id", "phone", "name"]
    logged = " ".join(str(e.data) for e in events)
    for clear in (person["card_no"], person["id_number"], person["phone"]):
        assert clear not in logged  # the audit log keeps the search masked too
    assert all(e.actor_role == "admin" and e.data["results"] == 1 for e in events)


def test_branch_admin_finds_only_its_own_members(client, world):  # noqa: F811
    session_for(client, world, "branch_admin")  # bound to branch A: member 1 only
    m = world["members"]
    assert f'data-testid="found-{m[1]}"' in _search(client, details(1)["card_no"])
    html = _search(client, details(2)["card_no"])
    assert f'data-testid="found-{m[2]}"' not in html and "search-kind" in html


def test_coverage_per_district_and_branch_against_the_target(client, app, world):  # noqa: F811
    # Members 1 and 2 (branches A, B of district d1) activated their cards; 3 (branch C, d2) too.
    # Freeze nobody; add one more member to C who never activates.
    from tests.members.helpers import register

    register(4, region="130104", branch="三分会")
    from marketplace import orgs

    orgs.assign_members()
    db.session.commit()
    app.config["COVERAGE_TARGET_FIRST_YEAR"] = 0.6
    session_for(client, world, "admin")
    t = world["orgs"]
    rows = {r.org.id: r for r in coverage.coverage(None)}
    assert (rows[t["A"]].roster, rows[t["A"]].issued, rows[t["A"]].activated) == (1, 1, 1)
    assert (rows[t["C"]].roster, rows[t["C"]].issued, rows[t["C"]].activated) == (2, 2, 1)
    assert (rows[t["d2"]].roster, rows[t["d2"]].activated) == (2, 1)
    assert (rows[t["d1"]].roster, rows[t["d1"]].activated) == (2, 2)
    fresh_g()
    html = client.get("/admin/coverage").get_data(as_text=True)
    assert "60%" in html and 'data-testid="rate-{}">50.0%'.format(t["C"]) in html
    fresh_g()
    body = client.get("/admin/coverage.csv").get_data(as_text=True)
    table = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert table[0] == list(coverage.HEADERS["zh"])
    branch_c = next(r for r in table if r[1] == "三分会")
    assert branch_c[2:] == ["2", "2", "1", "50.0%", "60%", "否"]
    fresh_g()
    english = client.get("/admin/coverage.csv?lang=en").get_data(as_text=True)
    assert english.lstrip("\ufeff").startswith("District,Branch,Roster")
    fresh_g()
    svg = client.get("/admin/coverage/trend.svg")
    assert svg.mimetype == "image/svg+xml" and b"<script" not in svg.data
    # This month's point counts the three activated cards.
    assert coverage.trend(None)[-1][1] == 3


def test_branch_admin_coverage_is_its_subtree(client, world):  # noqa: F811
    session_for(client, world, "branch_admin")
    t = world["orgs"]
    html = client.get("/admin/coverage").get_data(as_text=True)
    assert f'data-testid="coverage-{t["A"]}"' in html
    assert f'data-testid="coverage-{t["B"]}"' not in html
    assert f'data-testid="coverage-{t["d2"]}"' not in html


def test_target_switches_after_the_first_year(app, app_ctx):
    from datetime import date

    app.config["COVERAGE_LAUNCH"] = "2026-01-01"
    try:
        assert coverage.target(date(2026, 6, 1)) == 0.35
        assert coverage.target(date(2027, 1, 2)) == 0.85
    finally:
        app.config.pop("COVERAGE_LAUNCH")


def test_masks():
    assert coverage.mask_name("张三") == "张*" and coverage.mask_name("欧阳娜娜") == "欧**娜"
    assert coverage.mask_card("6217000000000014") == "6217 **** 0014"
    assert coverage.mask_phone("13900000001") == "139****0001"
