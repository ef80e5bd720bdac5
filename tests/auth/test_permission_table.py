"""The permission table covers every route, and docs/permissions.md prints it as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Blueprint

from marketplace import permissions
from marketplace.auth.decorators import auth_required, page_required

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def unruled(app) -> list[tuple[str, str]]:
    """(endpoint, method) of every route that names no action and is not listed as public."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in permissions.PUBLIC:
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            handler = getattr(view_class, method.lower()) if view_class else view
            if getattr(handler, "permission", None) not in permissions.ACTIONS:
                missing.append((rule.endpoint, method))
    return missing


def test_every_route_names_an_action_or_is_public(app):
    assert unruled(app) == []


def test_a_route_without_an_action_is_caught(app):
    probe = Blueprint("probe_unruled", __name__)

    @probe.get("/probe/unruled")
    def unruled_view():
        return "ok"

    @probe.get("/probe/ruled")
    @auth_required("account.self")
    def ruled_view():
        return "ok"

    app.register_blueprint(probe)
    assert unruled(app) == [("probe_unruled.unruled_view", "GET")]


def test_public_endpoints_exist(app):
    assert set(permissions.PUBLIC) <= {rule.endpoint for rule in app.url_map.iter_rules()}


def test_every_action_is_used_by_a_route_or_a_service(app):
    on_routes = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            handler = getattr(view_class, method.lower()) if view_class else view
            on_routes.add(getattr(handler, "permission", None))
    # Publishing an offer is a field of the create/edit call, checked in the catalogue service.
    assert set(permissions.ACTIONS) - on_routes == {"offer.publish"}


def test_the_table_names_only_real_roles():
    for name, rule in permissions.ACTIONS.items():
        assert rule.roles and set(rule.roles) <= set(permissions.ROLES), name
        assert rule.scope in (None, "merchant", "org"), name
        if rule.scope == "org":
            assert set(rule.roles) <= {"admin", "branch_admin"}, name
        if rule.scope == "merchant":
            assert set(rule.roles) <= {"merchant_owner", "merchant_clerk"}, name
        if rule.selling:
            assert rule.scope == "merchant", name  # the selling rule is about the caller's merchant


@pytest.mark.parametrize("decorator", [auth_required, page_required])
def test_an_unknown_action_fails_when_the_view_is_declared(decorator):
    with pytest.raises(ValueError, match="sale.steal"):
        decorator("sale.steal")


def test_docs_print_the_table():
    """Regenerate with ``python -m marketplace.permissions > docs/permissions.md``."""
    assert DOC.read_text(encoding="utf-8") == permissions.as_markdown()
