"""RFC 9457 problem details for every error under the API, with a stable machine ``code``.

Domain code raises :class:`Problem` (or a subclass) with data; this module turns it, Werkzeug's
HTTP errors, webargs/marshmallow validation errors and anything unexpected into
``application/problem+json``. HTML pages get an HTML error page with the same status.
"""

from __future__ import annotations

import logging

from flask import Flask, g, json, render_template, request
from marshmallow import INCLUDE, Schema, ValidationError, fields
from werkzeug.exceptions import HTTPException

from .resilience import DATABASE_DOWN, REDIS_DOWN, classify

PROBLEM_MIME = "application/problem+json"
TYPE_BASE = "https://shihui.example/problems/"

log = logging.getLogger(__name__)

# Default codes per status for errors raised without an explicit code.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ProblemSchema(Schema):
    """RFC 9457 problem details as the API sends them (documents every error response).
    Problems may carry extension members (``claimed``, ``limit`` ...), hence ``INCLUDE``."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, metadata={"format": "uri"})
    title = fields.String(required=True)
    status = fields.Integer(required=True, metadata={"minimum": 400, "maximum": 599})
    code = fields.String(required=True, metadata={"description": "Stable machine code"})
    detail = fields.String()
    request_id = fields.String()
    errors = fields.Dict(metadata={"description": "Field name -> messages (422)"})
    retry_after = fields.Integer(metadata={"description": "Seconds (429, 503)"})


class Problem(Exception):
    """An error with an HTTP status, a stable ``code`` and optional extra members."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra,
    ):
        super().__init__(detail or title or self.title)
        self.status = status or self.status
        self.code = code or self.code
        self.title = title or self.title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self) -> dict:
        body = {
            "type": TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body


class NotFound(Problem):
    status, code, title = 404, "not_found", "Not found"


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail=None, **kw):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="shihui"'})
        super().__init__(detail, **kw)


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Forbidden"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class Gone(Problem):
    status, code, title = 410, "gone", "Gone"


class ValidationFailed(Problem):
    status, code, title = 422, "validation_error", "Validation failed"


class RateLimited(Problem):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int, detail=None, **kw):
        retry_after = max(1, int(retry_after))
        kw.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(detail or f"Retry after {retry_after} s", retry_after=retry_after, **kw)


class ServiceUnavailable(Problem):
    status, code, title = 503, "service_unavailable", "Service unavailable"


def _string_keys(value):
    """marshmallow keys list errors by index (``{"regions": {1: [...]}, "_schema": [...]}``);
    JSON object keys are strings, and sorting mixed keys is a TypeError."""
    if isinstance(value, dict):
        return {str(key): _string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_string_keys(item) for item in value]
    return value


def problem_json(problem: Problem, request_id: str | None) -> str:
    """The problem+json document of ``problem`` (with the request id, when there is one)."""
    body = _string_keys(problem.to_dict())
    if request_id:
        body.setdefault("request_id", request_id)
    return json.dumps(body, ensure_ascii=False)


def problem_response(problem: Problem):
    response = Flask.response_class(
        problem_json(problem, getattr(g, "request_id", None)),
        status=problem.status,
        mimetype=PROBLEM_MIME,
    )
    for key, value in problem.headers.items():
        response.headers[key] = value
    return response


def wants_html() -> bool:
    """HTML errors for pages; problem+json under /api and for clients that do not want HTML."""
    if request.path.startswith("/api/") or request.path in {"/readyz", "/healthz", "/metrics"}:
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_MIME])
    return best == "text/html"


def _validation_errors(exc: HTTPException) -> dict | None:
    """webargs (via flask-smorest) puts marshmallow messages on ``exc.data['messages']``."""
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if not messages:
        return None
    # Flatten {"json": {...}} / {"query": {...}} locations: clients care about field names.
    if isinstance(messages, dict) and set(messages) <= {
        "json",
        "query",
        "form",
        "files",
        "headers",
    }:
        flat: dict = {}
        for location_messages in messages.values():
            if isinstance(location_messages, dict):
                flat.update(location_messages)
        return flat
    return messages


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    code = STATUS_CODES.get(status, "error")
    errors = _validation_errors(exc)
    if wants_html():
        return error_page(status, exc.name)
    problem = Problem(
        None if errors else _public_description(exc),
        status=status,
        code=code,
        title=exc.name,
        **({"errors": errors} if errors else {}),
    )
    if status == 405 and getattr(exc, "valid_methods", None):
        problem.headers["Allow"] = ", ".join(exc.valid_methods)
    return problem_response(problem)


def _public_description(exc: HTTPException) -> str | None:
    if exc.code == 400 and (
        "Failed to decode JSON" in (exc.description or "") or _unparsable_json_body()
    ):
        return "The request body is not valid JSON."
    if exc.code == 413:
        limit = request.max_content_length
        return f"The request body is larger than the limit of {limit} bytes." if limit else None
    return exc.description


def _unparsable_json_body() -> bool:
    """webargs reports a malformed JSON body with Werkzeug's generic 400 text; say what it is."""
    if not request.is_json or not request.get_data(cache=True):
        return False
    return request.get_json(silent=True, cache=True) is None


def handle_problem(exc: Problem):
    if wants_html():
        return error_page(exc.status, exc.title)
    return problem_response(exc)


def handle_validation_error(exc: ValidationError):
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return problem_response(ValidationFailed(errors=messages))


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    if wants_html():
        return error_page(500, "Internal error")
    return problem_response(
        Problem(
            "Something went wrong on our side; the request id identifies it in our logs.",
            status=500,
            code="internal_error",
            title="Internal server error",
        )  # fmt: skip
    )


# --- a store that does not answer: 503 + Retry-After, never 500 (issue #11) -----------------

STORE_RETRY_AFTER = 2  # seconds: a Redis restart from its AOF or a database failover
UNAVAILABLE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>503 · 石惠 Shihui</title></head>
<body>
<h1>503</h1>
<p>服务暂时不可用，请几秒后重试。</p>
<p lang="en">The service is briefly unavailable; please try again in a few seconds.</p>
</body></html>
"""


def handle_store_unavailable(exc: Exception):
    """Redis or the database is unreachable: the request may well succeed in a moment."""
    store = classify(exc)
    log.warning(
        "%s unavailable on %s %s: %s", store, request.method, request.path, type(exc).__name__
    )
    if wants_html():
        # Not error.html: rendering any template loads the user, which may need the very store
        # that is down. Both languages, since choosing one may need it too.
        headers = {"Retry-After": str(STORE_RETRY_AFTER)}
        return UNAVAILABLE_PAGE, 503, {**headers, "Content-Type": "text/html; charset=utf-8"}
    return problem_response(store_unavailable(store))


def store_unavailable(store: str) -> ServiceUnavailable:
    """The API's answer while ``store`` (``redis`` or ``database``) does not answer."""
    return ServiceUnavailable(
        "A data store is briefly unavailable; retry after the indicated delay.",
        code="store_unavailable" if store == "redis" else "database_unavailable",
        headers={"Retry-After": str(STORE_RETRY_AFTER)},
        retry_after=STORE_RETRY_AFTER,
    )


def error_page(status: int, title: str):
    """The HTML error page; the static 503 page if rendering needs a store that is down (any
    template loads the user: a 404 during a database outage must not become a 500)."""
    try:
        return render_template("error.html", status=status, title=title), status
    except (*REDIS_DOWN, *DATABASE_DOWN) as exc:
        return handle_store_unavailable(exc)


def register_store_handlers(app: Flask) -> None:
    for exc_class in (*REDIS_DOWN, *DATABASE_DOWN):
        app.register_error_handler(exc_class, handle_store_unavailable)


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ValidationError, handle_validation_error)
    register_store_handlers(app)
    app.register_error_handler(Exception, handle_unexpected)
