"""Problem+json errors, request ids, size limits and the OpenAPI document."""

import re

import pytest
from flask import abort
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from marketplace.errors import PROBLEM_MIME, Problem, RateLimited


class EchoSchema(Schema):
    name = fields.String(required=True)
    count = fields.Integer(required=True)


@pytest.fixture
def app(app):
    """Add throwaway endpoints that exercise each error path."""
    from marketplace.extensions import api

    blp = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    @blp.route("/echo")
    class Echo(MethodView):
        @blp.arguments(EchoSchema)
        @blp.response(200, EchoSchema)
        def post(self, data):
            return data

    @blp.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    @blp.route("/slow-down")
    def slow_down():
        raise RateLimited(7)

    @blp.route("/domain")
    def domain():
        raise Problem(
            "No tickets left.", status=409, code="sold_out", title="Sold out", remaining=0
        )

    @blp.route("/forbidden")
    def forbidden():
        abort(403)

    api.register_blueprint(blp)
    return app


def assert_problem(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM_MIME
    body = resp.get_json(force=True)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert "title" in body
    return body


def test_unknown_route_is_problem_404(client):
    assert_problem(client.post("/api/v1/does-not-exist"), 404, "not_found")


def test_malformed_json_is_400(client):
    resp = client.post("/api/v1/probe/echo", data="{not json", content_type="application/json")
    body = assert_problem(resp, 400, "bad_request")
    assert body["detail"] == "The request body is not valid JSON."


def test_field_validation_is_422_with_errors(client):
    body = assert_problem(client.post("/api/v1/probe/echo", json={"count": "x"}), 422,
                          "validation_error")  # fmt: skip
    assert set(body["errors"]) == {"name", "count"}


def test_valid_request_passes(client):
    resp = client.post("/api/v1/probe/echo", json={"name": "张三 😀", "count": 2})
    assert resp.status_code == 200
    assert resp.get_json() == {"name": "张三 😀", "count": 2}


def test_wrong_method_is_405_with_allow(client):
    resp = client.delete("/api/v1/probe/echo")
    assert_problem(resp, 405, "method_not_allowed")
    allowed = {m.strip() for m in resp.headers["Allow"].split(",")}
    assert "POST" in allowed and "DELETE" not in allowed


def test_unsupported_media_type_is_415(client):
    resp = client.post("/api/v1/probe/echo", data="name=x", content_type="text/plain")
    assert_problem(resp, 415, "unsupported_media_type")


def test_body_over_limit_is_413(client, app):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    resp = client.post("/api/v1/probe/echo", data=big, content_type="application/json")
    assert_problem(resp, 413, "payload_too_large")


def test_rate_limited_has_retry_after(client):
    resp = client.get("/api/v1/probe/slow-down")
    body = assert_problem(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"] == "7"
    assert body["retry_after"] == 7


def test_domain_problem_keeps_extra_members(client):
    body = assert_problem(client.get("/api/v1/probe/domain"), 409, "sold_out")
    assert body["remaining"] == 0
    assert body["detail"] == "No tickets left."


def test_forbidden_is_403(client):
    assert_problem(client.get("/api/v1/probe/forbidden"), 403, "forbidden")


def test_unexpected_error_is_500_without_internals(client):
    resp = client.get("/api/v1/probe/boom")
    body = assert_problem(resp, 500, "internal_error")
    text = resp.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert body["request_id"] == resp.headers["X-Request-ID"]


def test_request_id_is_accepted_or_generated(client):
    resp = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    longest = "a" * 64
    assert client.get("/healthz", headers={"X-Request-ID": longest}).headers["X-Request-ID"] == (
        longest
    )
    for refused in ("a" * 65, "x" * 500 + " <script>", "bad id", "é"):
        got = client.get("/healthz", headers={"X-Request-ID": refused}).headers["X-Request-ID"]
        assert got != refused and re.fullmatch(r"[0-9a-f]{32}", got), refused


def test_request_id_in_log_lines(client, caplog):
    with caplog.at_level("ERROR"):
        client.get("/api/v1/probe/boom", headers={"X-Request-ID": "trace-me"})
    assert any(getattr(r, "request_id", None) == "trace-me" for r in caplog.records)


def test_openapi_document_and_docs_page(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    doc = spec.get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/probe/echo" in doc["paths"]
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"swagger-ui" in page.data
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_html_pages_get_html_errors(client):
    resp = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
