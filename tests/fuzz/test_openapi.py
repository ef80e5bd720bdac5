"""Fuzz the OpenAPI document against a running gunicorn as anonymous, member, owner and admin.

Fails on any 5xx, a dropped connection (requests raises), a response that breaks its documented
schema, or an undocumented status or content type. Bounded (``FUZZ_MAX_EXAMPLES`` per operation
and role) and reproducible (derandomized Hypothesis, no example database).
"""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import ROLES, STATS, max_examples

pytestmark = pytest.mark.fuzz

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Calls that end the role's session for the rest of the run (revoke every token); they are
# fuzzed as anonymous only.
SESSION_ENDERS = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}


def _document() -> dict:
    """The OpenAPI document as the app serves it (built offline: no database or Redis needed;
    the live server serves the same document, which ``test_live_document_is_the_fuzzed_one``
    checks)."""
    from shihui import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "fuzz-" * 10, "ID_HASH_KEY": "fuzz-" * 10,
                      "SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": "redis://127.0.0.1:1/0",
                      "RQ_REDIS_URL": "redis://127.0.0.1:1/1"})  # fmt: skip
    return app.test_client().get("/api/v1/openapi.json").get_json()


DOCUMENT = _document()


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


def _schema(coverage: bool):
    """The coverage phase (boundary values, NUL, huge numbers ... for every parameter) is where
    most bugs showed up; it sends ~50 requests per operation whatever ``max_examples`` says."""
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": coverage}}})
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


# Each signed-in role gets the full treatment on the operations it may use (elsewhere it only
# meets a uniform 403); anonymous callers get every operation, without the coverage phase
# except on the public ones (auth, activation, merchant applications).
PUBLIC = r"^/api/v1/(auth/token|members/activate|merchant-applications)$"
OWN_PATHS = {
    "member": r"^/api/v1/(flashsales|me|offers|groupbuys|merchants)\b",
    "owner": r"^/api/v1/(merchant/|me$)",
    "admin": r"^/api/v1/(admin/|me$)",
}


def _schema_for(role: str):
    thorough = _schema(coverage=os.environ.get("FUZZ_COVERAGE", "") == "1")
    if role == "anonymous":
        return _schema(coverage=False).exclude(path_regex=PUBLIC), thorough.include(
            path_regex=PUBLIC
        )
    return (thorough.include(path_regex=OWN_PATHS[role]),)


def test_live_document_is_the_fuzzed_one(fuzz_server, http):
    base, _tokens = fuzz_server
    assert http.get(base + "/api/v1/openapi.json", timeout=10).json() == DOCUMENT


def _fuzz_as(role: str, schema):
    @schema.parametrize()
    @settings(
        max_examples=max_examples(),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def test(case, fuzz_server, http):
        base, tokens = fuzz_server
        if role != "anonymous" and (case.method.upper(), case.path) in SESSION_ENDERS:
            pytest.skip("would revoke the role's token for the rest of the run")
        headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
        try:
            response = case.call_and_validate(
                base_url=base, session=http, headers=headers, checks=CHECKS
            )
        except requests.ConnectionError:
            STATS[role, "dropped"] += 1
            raise
        STATS[role, response.status_code] += 1

    return test


# One test per role and schema (pytest parametrization does not reach through schemathesis).
for _role in ROLES:
    for _index, _role_schema in enumerate(_schema_for(_role)):
        globals()[f"test_openapi_as_{_role}" + ("_public" if _index else "")] = _fuzz_as(
            _role, _role_schema
        )
