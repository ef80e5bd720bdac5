"""The permission checks themselves, allow and deny for every role (issue #19, mutation testing).

There is no single permission table yet (issue #12); the checks live in ``auth_required`` and
``merchant_portal.access``. These tests call them directly so that a flipped comparison or a
dropped branch fails here, not only somewhere deep in an endpoint test.
"""

from __future__ import annotations

import pytest

from marketplace.auth.decorators import auth_required, bearer_token, current_principal
from marketplace.auth.models import ROLES
from marketplace.auth.tokens import Principal
from marketplace.errors import Forbidden, Unauthorized
from merchant_portal.access import Actor, merchant_of, require_admin, selling_merchant
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


def test_auth_required_refuses_an_unknown_role_when_the_view_is_declared():
    with pytest.raises(ValueError, match="nope"):
        auth_required("admin", "nope")
    auth_required(*ROLES)  # every real role is accepted


def test_auth_required_keeps_the_view_and_documents_bearer_security():
    def view():
        """Docstring."""
        return "ok"

    view._apidoc = {"manual_doc": {"summary": "kept"}}
    wrapped = auth_required("admin")(view)
    assert wrapped.__name__ == "view" and wrapped.__doc__ == "Docstring."
    assert wrapped._apidoc["manual_doc"] == {"summary": "kept", "security": [{"bearerAuth": []}]}
    bare = auth_required()(lambda: "ok")
    assert bare._apidoc == {"manual_doc": {"security": [{"bearerAuth": []}]}}


def test_auth_required_without_a_token_is_401_and_current_principal_too(app):
    calls = []
    view = auth_required()(lambda: calls.append(1) or "ok")
    with app.test_request_context("/"):
        with pytest.raises(Unauthorized):
            view()
        with pytest.raises(Unauthorized):
            current_principal()
    assert calls == []


@pytest.mark.parametrize("role", ROLES)
def test_require_admin_allows_only_admin(role):
    if role == "admin":
        assert require_admin(principal(role)) is None
    else:
        with pytest.raises(Forbidden) as info:
            require_admin(principal(role))
        assert info.value.status == 403 and info.value.code == "forbidden"


@pytest.mark.parametrize("role", ROLES)
def test_merchant_of_lets_staff_of_the_merchant_through(app_ctx, role):
    merchant_id, _ = make_merchant(username=f"owner-{role}")
    if role in ("merchant_owner", "merchant_clerk"):
        assert merchant_of(principal(role, merchant_id)).id == merchant_id
    else:
        with pytest.raises(Forbidden) as info:
            merchant_of(principal(role, merchant_id))
        assert info.value.code == "forbidden"


@pytest.mark.parametrize("role", ROLES)
def test_selling_merchant_is_for_the_owner_only(app_ctx, role):
    merchant_id, _ = make_merchant(username=f"seller-{role}")
    if role == "merchant_owner":
        assert selling_merchant(principal(role, merchant_id)).id == merchant_id
    else:
        with pytest.raises(Forbidden) as info:
            selling_merchant(principal(role, merchant_id))
        assert info.value.code == "forbidden"


@pytest.mark.parametrize("merchant_id", [None, 0, 987654])
def test_staff_without_an_existing_merchant_is_refused(app_ctx, merchant_id):
    for role in ("merchant_owner", "merchant_clerk"):
        with pytest.raises(Forbidden) as info:
            merchant_of(principal(role, merchant_id))
        assert "no merchant" in info.value.detail


@pytest.mark.parametrize(
    ("status", "code"),
    [("suspended", "merchant_suspended"), ("pending", "merchant_not_active"),
     ("rejected", "merchant_not_active")],
)  # fmt: skip
def test_only_an_approved_merchant_may_sell(app_ctx, status, code):
    merchant_id, _ = make_merchant(username=f"owner-{status}", status=status)
    owner = principal("merchant_owner", merchant_id)
    assert merchant_of(owner).id == merchant_id  # still their merchant, for reading
    with pytest.raises(Forbidden) as info:
        selling_merchant(owner)
    assert info.value.status == 403 and info.value.code == code


def test_actor_carries_the_account_and_role():
    actor = Actor(Principal(account_id=42, role="merchant_clerk", merchant_id=3))
    assert (actor.id, actor.role) == (42, "merchant_clerk")
