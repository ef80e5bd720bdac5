"""The permission checks themselves, allow and deny for every role (issue #19, mutation testing).

The checks live in :mod:`marketplace.permissions` (the table and its two rules) and
``auth_required``. These tests call them directly so that a flipped comparison or a dropped
branch fails here, not only somewhere deep in an endpoint test. Who is allowed comes from the
table's data; the functions must agree with it.
"""

from __future__ import annotations

import pytest

from marketplace import permissions
from marketplace.auth.decorators import auth_required, bearer_token, current_principal
from marketplace.auth.models import ROLES
from marketplace.auth.tokens import Principal
from marketplace.errors import Forbidden, NotFound, Unauthorized
from marketplace.permissions import Actor, merchant_for, require, staff_merchant
from tests.flashsale.factories import make_merchant


def principal(role: str, merchant_id: int | None = None) -> Principal:
    return Principal(account_id=7, role=role, merchant_id=merchant_id)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def", "abc.def"),
        ("bearer abc.def", "abc.def"),
        ("BEARER abc.def", "abc.def"),
        ("Bearer   abc.def  ", "abc.def"),
        ("Bearer ", None),
        ("Bearer    ", None),
        ("Basic abc.def", None),
        ("Bearerabc.def", None),
        ("abc.def", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_is_read_only_from_a_bearer_header(app, header, token):
    headers = {} if header is None else {"Authorization": header}
    with app.test_request_context("/", headers=headers):
        assert bearer_token() == token


def test_auth_required_refuses_an_unknown_action_when_the_view_is_declared():
    with pytest.raises(ValueError, match="nope"):
        auth_required("nope")
    with pytest.raises(ValueError, match="admin"):
        auth_required("admin")  # a role is not an action
    for name in permissions.ACTIONS:  # every action of the table is accepted
        auth_required(name)


def test_auth_required_keeps_the_view_and_documents_bearer_security():
    def view():
        """Docstring."""
        return "ok"

    view._apidoc = {"manual_doc": {"summary": "kept"}}
    wrapped = auth_required("member.import")(view)
    assert wrapped.__name__ == "view" and wrapped.__doc__ == "Docstring."
    assert wrapped._apidoc["manual_doc"] == {"summary": "kept", "security": [{"bearerAuth": []}]}
    bare = auth_required("account.self")(lambda: "ok")
    assert bare._apidoc == {"manual_doc": {"security": [{"bearerAuth": []}]}}


def test_auth_required_without_a_token_is_401_and_current_principal_too(app):
    calls = []
    view = auth_required("account.self")(lambda: calls.append(1) or "ok")
    with app.test_request_context("/"):
        with pytest.raises(Unauthorized):
            view()
        with pytest.raises(Unauthorized):
            current_principal()
    assert calls == []


@pytest.mark.parametrize("role", ROLES)
def test_allows_reads_the_table(role):
    for name, rule in permissions.ACTIONS.items():
        assert permissions.allows(role, name) is (role in rule.roles), (role, name)
    assert not permissions.allows(None, "account.self")
    with pytest.raises(ValueError):
        permissions.allows(role, "no.such.action")


@pytest.mark.parametrize("role", ROLES)
def test_require_allows_only_the_roles_of_the_action(role):
    if role in permissions.ACTIONS["merchant.suspend"].roles:
        assert require(principal(role), "merchant.suspend") is None
    else:
        with pytest.raises(Forbidden) as info:
            require(principal(role), "merchant.suspend")
        assert info.value.status == 403 and info.value.code == "forbidden"


@pytest.mark.parametrize("role", ROLES)
def test_staff_merchant_lets_staff_of_the_merchant_through(app_ctx, role):
    merchant_id, _ = make_merchant(username=f"owner-{role}")
    if role in permissions.ACTIONS["voucher.redeem"].roles:
        assert staff_merchant(principal(role, merchant_id), "voucher.redeem").id == merchant_id
    else:
        with pytest.raises(Forbidden) as info:
            staff_merchant(principal(role, merchant_id), "voucher.redeem")
        assert info.value.code == "forbidden"


@pytest.mark.parametrize("role", ROLES)
def test_merchant_for_a_selling_action_follows_its_roles(app_ctx, role):
    merchant_id, _ = make_merchant(username=f"seller-{role}")
    if role in permissions.ACTIONS["sale.publish"].roles:
        assert merchant_for(principal(role, merchant_id), "sale.publish").id == merchant_id
    else:
        with pytest.raises(Forbidden) as info:
            merchant_for(principal(role, merchant_id), "sale.publish")
        assert info.value.code == "forbidden"


@pytest.mark.parametrize("merchant_id", [None, 0, 987654])
def test_staff_without_an_existing_merchant_is_refused(app_ctx, merchant_id):
    for role in ("merchant_owner", "merchant_clerk"):
        with pytest.raises(Forbidden) as info:
            staff_merchant(principal(role, merchant_id), "voucher.redeem")
        assert "no merchant" in info.value.detail


@pytest.mark.parametrize(
    ("status", "code"),
    [("suspended", "merchant_suspended"), ("pending", "merchant_not_active"),
     ("rejected", "merchant_not_active")],
)  # fmt: skip
def test_only_an_approved_merchant_may_sell(app_ctx, status, code):
    merchant_id, _ = make_merchant(username=f"owner-{status}", status=status)
    owner = principal("merchant_owner", merchant_id)
    assert merchant_for(owner, "sale.view").id == merchant_id  # still their merchant, for reading
    with pytest.raises(Forbidden) as info:
        merchant_for(owner, "sale.publish")
    assert info.value.status == 403 and info.value.code == code
    with pytest.raises(Forbidden) as info:
        permissions.check_selling(None, "sale.publish")
    assert info.value.code == "merchant_not_active"


def test_own_is_the_merchant_scope_rule():
    class Thing:
        merchant_id = 5

    thing = Thing()
    assert permissions.own(thing, 5, "thing") is thing
    for merchant_id in (6, None):
        with pytest.raises(NotFound) as info:
            permissions.own(thing, merchant_id, "thing")
        assert info.value.status == 404 and info.value.detail == "No such thing."
    with pytest.raises(NotFound):
        permissions.own(None, 5, "thing")


def test_actor_carries_the_account_and_role():
    actor = Actor(Principal(account_id=42, role="merchant_clerk", merchant_id=3))
    assert (actor.id, actor.role) == (42, "merchant_clerk")
