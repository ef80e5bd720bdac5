"""A small tree with members, and logged-in callers of every role (shared with messaging)."""

from __future__ import annotations

from marketplace.auth.services import create_account
from tests.members.helpers import activated_member, bearer, register

PASSWORD = "admin-pass-1"
# region 130102 (长安区): branches A and B; region 130104 (桥西区): branch C
PEOPLE = {1: ("130102", "一分会"), 2: ("130102", "二分会"), 3: ("130104", "三分会")}


def build_tree(client, activate=(1, 2, 3)):
    """Members 1-3 in branches A, B (district 130102) and C (district 130104); returns
    {"orgs": {"city", "d1", "d2", "A", "B", "C"}: Org id, "members": {n: member id},
    "tokens": {n: member token}}."""
    from marketplace import orgs
    from marketplace.members.models import Member

    tokens, members = {}, {}
    for n, (region, branch) in PEOPLE.items():
        if n in activate:
            _d, tokens[n] = activated_member_in(client, n, region, branch)
        else:
            register(n, region=region, branch=branch)
    from marketplace.extensions import db

    for n in PEOPLE:
        members[n] = db.session.scalar(db.select(Member.id).where(Member.phone.like(f"%{n:08d}")))
    ids = {
        "A": orgs.ensure_branch("130102", "一分会"),
        "B": orgs.ensure_branch("130102", "二分会"),
        "C": orgs.ensure_branch("130104", "三分会"),
        "d1": orgs.ensure_branch("130102", ""),
        "d2": orgs.ensure_branch("130104", ""),
        "city": orgs.root().id,
    }
    db.session.commit()
    return {"orgs": ids, "members": members, "tokens": tokens}


def activated_member_in(client, n, region, branch):
    from tests.members.helpers import activation_body, details

    register(n, region=region, branch=branch)
    resp = client.post("/api/v1/members/activate", json=activation_body(n))
    assert resp.status_code == 200, resp.get_json()
    return details(n), resp.get_json()["access_token"]


def login(client, username, password=PASSWORD) -> str:
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]


def branch_admin(client, username, org_id) -> str:
    create_account(username, PASSWORD, "branch_admin", org_id=org_id)
    return login(client, username)


def city_admin(client, username="root") -> str:
    create_account(username, PASSWORD, "admin")
    return login(client, username)


__all__ = ["activated_member", "bearer"]
