"""Every endpoint: no token -> 401, a role the permission table refuses -> 403; auth_required."""

import pytest
from flask import Blueprint

from marketplace import permissions
from marketplace.auth import auth_required, current_principal
from marketplace.auth.services import create_account
from tests.members.helpers import activated_member, bearer

# (method, path, action of the permission table)
PROTECTED = [
    ("get", "/api/v1/me", "account.self"),
    ("post", "/api/v1/auth/logout", "account.self"),
    ("post", "/api/v1/auth/password", "account.self"),
]
ADMIN_ONLY = [
    ("post", "/api/v1/admin/member-imports", "member.import"),
    ("get", "/api/v1/admin/member-imports/1", "member.import"),
    ("get", "/api/v1/admin/member-imports/1/rejected.csv", "member.import"),
    ("get", "/api/v1/admin/members/1", "member.view"),
    ("post", "/api/v1/admin/cards/4111111111111111/freeze", "card.freeze"),
    ("post", "/api/v1/admin/members/1/reissue", "card.reissue"),
]


@pytest.mark.parametrize("method,url,_", PROTECTED + ADMIN_ONLY)
def test_no_token_is_401(client, method, url, _):
    resp = getattr(client, method)(url)
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "unauthorized"


ROLES = permissions.ROLES


@pytest.fixture
def tokens(app_ctx):
    """One token per role (each test makes one call, so a logout cannot spoil another's)."""
    from marketplace.auth.models import Account
    from marketplace.auth.tokens import publish_versions
    from marketplace.extensions import db
    from tests.flashsale.factories import _hash, make_members, make_merchant, token_for

    ((_, member),) = make_members(1)
    _, owner, clerk = make_merchant(clerk="clerk1")
    from marketplace import orgs

    admin = Account(username="root", role="admin", password_hash=_hash())
    branch = Account(username="branch1", role="branch_admin", password_hash=_hash(),
                     org_id=orgs.ensure_branch("130102", "一分会"))  # fmt: skip
    db.session.add_all([admin, branch])
    db.session.commit()
    publish_versions([(admin.id, 0), (branch.id, 0)])
    return {"member": member, "merchant_owner": owner, "merchant_clerk": clerk,
            "admin": token_for(admin), "branch_admin": token_for(branch)}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,action", PROTECTED + ADMIN_ONLY)
def test_every_role_on_every_endpoint_is_let_through_or_403(client, tokens, method, url, action,
                                                            role):  # fmt: skip
    resp = getattr(client, method)(url, headers=bearer(tokens[role]), json={})
    if permissions.allows(role, action):
        assert resp.status_code not in (401, 403), (role, resp.get_json())
    else:
        assert resp.status_code == 403, (role, resp.get_json())
        assert resp.get_json()["code"] == "forbidden"


def test_auth_required_rejects_unknown_roles():
    with pytest.raises(ValueError):
        auth_required("superuser")


def test_auth_required_sets_the_principal(app, client):
    bp = Blueprint("probe_auth", __name__)

    @bp.get("/api/v1/probe/whoami")
    @auth_required("voucher.own")  # members only
    def whoami():
        p = current_principal()
        return {"role": p.role, "card_active": p.card_active}

    app.register_blueprint(bp)
    with app.app_context():
        _d, token = activated_member(client, 1)
        create_account("boss", "admin-pass-1", "admin")
    assert client.get("/api/v1/probe/whoami", headers=bearer(token)).get_json() == {
        "role": "member",
        "card_active": True,
    }
    admin = client.post(
        "/api/v1/auth/token", json={"username": "boss", "password": "admin-pass-1"}
    ).get_json()
    assert (
        client.get("/api/v1/probe/whoami", headers=bearer(admin["access_token"])).status_code == 403
    )


def test_openapi_documents_bearer_security(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
