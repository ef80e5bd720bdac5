"""Fuzz the OpenAPI document against a running gunicorn as anonymous, member, owner and admin.

Fails on any 5xx, a dropped connection (requests raises), a response that breaks its documented
schema, an undocumented status or content type, or a request the document calls valid that is
refused with 400/422 for a reason the document does not state. Bounded (``FUZZ_MAX_EXAMPLES``
per operation and role) and reproducible (derandomized Hypothesis, no example database).
"""

from __future__ import annotations

import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.validation import TEXT_ERROR

from .conftest import POSITIVE, ROLES, STATS, max_examples

pytestmark = pytest.mark.fuzz

# A schema-valid request may still be refused for what the request alone cannot show: 401/403
# (who is asking), 404 (an id that does not exist), 409 (a name or card already taken), 429 (a
# rate limit the run itself tripped). 5xx is not_a_server_error's business. Everything else,
# notably 400 and 422, means the document is missing a rule.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# 422s that depend on stored records or keys, not on the request's form: card details that
# match no card, a wrong current password, a card code of the right form that the server's key
# did not sign, a password reset code nobody issued.
STATEFUL_CODES = {
    "activation_failed",
    "invalid_credentials",
    "card_code_invalid",
    "invalid_reset_code",
}
# Uploads whose multipart body is not in the document yet (the views read request.files
# themselves), so no generated request can be valid.
# Uploads: their multipart body is documented, but what makes a file acceptable (a picture's
# bytes, a roster's CSV) is stated in words only; JSON Schema cannot say it.
FILE_CONTENT_RULES = {
    ("POST", "/api/v1/merchant/covers"),
    ("POST", "/api/v1/admin/member-imports"),
}


def _request_properties(case) -> dict:
    """Field name -> its JSON schema in the document's JSON request body for ``case``."""
    body = DOCUMENT["paths"][case.path][case.method.lower()].get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema.get("properties", {})


def _stated(case, field: str, message: str) -> bool:
    """Whether the document states the rule behind ``message``: rules across fields (one date
    after another, a price under another) are written word for word in the field's description;
    the NUL rule for all text is in the document's info."""
    if message == TEXT_ERROR:
        sent = json.dumps([case.body, case.query, case.path_parameters], default=str)
        return "\\u0000" in sent
    return message in _request_properties(case).get(field.split(".")[0], {}).get("description", "")


def positive_data_acceptance_as_documented(ctx, response, case):
    """schemathesis' positive_data_acceptance, less the refusals the document states in words."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if (case.method.upper(), case.path) in FILE_CONTENT_RULES:
            return None
        problem = response.json()  # a 400/422 of this API is always problem+json
        if problem.get("code") in STATEFUL_CODES:
            return None
        errors = problem.get("errors") or {}
        if errors and all(_stated(case, f, m) for f, ms in errors.items() for m in ms):
            return None
        raise


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance_as_documented,
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
    config = SchemathesisConfig.from_dict(
        {
            "phases": {"coverage": {"enabled": coverage}},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        }
    )
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


# Each signed-in role gets the full treatment on the operations it may use (elsewhere it only
# meets a uniform 403); anonymous callers get every operation, without the coverage phase
# except on the public ones (auth, activation, merchant applications).
PUBLIC = (
    r"^/api/v1/(auth/token|auth/refresh|auth/password-reset|members/activate"
    r"|merchant-applications)$"
)
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
        if case.meta is not None and case.meta.generation.mode.is_positive:
            POSITIVE[response.status_code] += 1

    return test


# One test per role and schema (pytest parametrization does not reach through schemathesis).
for _role in ROLES:
    for _index, _role_schema in enumerate(_schema_for(_role)):
        globals()[f"test_openapi_as_{_role}" + ("_public" if _index else "")] = _fuzz_as(
            _role, _role_schema
        )
