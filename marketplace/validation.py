"""One defence for every request: what no database or header can hold is refused up front.

PostgreSQL cannot store a NUL character, no database can store an unpaired UTF-16 surrogate,
BIGINT stops at 2**63-1, and Python's JSON parser recurses once per nesting level. Instead of
teaching each schema and service about these, ``guard_request`` (a ``before_request`` hook)
checks the query string, form fields, path segments and JSON bodies of every request, and the
``int`` URL converter is replaced app-wide by one bounded to BIGINT (a larger id is a 404).
Field-specific rules (lengths, ranges, patterns) stay in the marshmallow schemas.
"""

from __future__ import annotations

import json

from flask import Flask, request
from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter

from .auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from .errors import NotFound, Problem, ValidationFailed

BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)
MAX_JSON_DEPTH = 32  # the deepest body the API accepts is 3 levels; leave room for clients
TEXT_ERROR = "Text must not contain NUL characters or unpaired surrogates."
RANGE_ERROR = f"Numbers must be between {BIGINT_MIN} and {BIGINT_MAX}."


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` that only matches ids a BIGINT column can hold; larger ones are a 404."""

    regex = r"\d{1,19}"

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, BIGINT_MAX if max is None else max, signed)


def form_id(value) -> int | None:
    """A form field as a database id: None unless a whole number in 1..BIGINT_MAX."""
    value = value.strip() if isinstance(value, str) else ""
    if not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 1 <= number <= BIGINT_MAX else None


def id_field(**kwargs) -> fields.Integer:
    """An integer that refers to a row: positive and within BIGINT (documented in the schema)."""
    return fields.Integer(validate=validate.Range(min=1, max=BIGINT_MAX), **kwargs)


def password_field(**kwargs) -> fields.String:
    """A new password: ``auth.services.check_password_policy`` and the storage limit, stated in
    the schema so the OpenAPI document says what is accepted."""
    return fields.String(
        validate=[
            validate.Length(min=MIN_PASSWORD_LENGTH, error="Use at least {min} characters."),
            validate.Length(max=MAX_PASSWORD_LENGTH),
        ],
        **kwargs,
    )


# What image and photo URLs may look like, stated once for the document and the server (which
# also applies marshmallow's Url): http(s)/ftp(s) on a DNS name, localhost or IPv4, an optional
# port, then RFC 3986 characters only. Url alone would also take IPv6, user:password@, non-ASCII
# and control characters, none of which is a URL a page should show. ASCII classes throughout,
# so ECMA 262 (the document's dialect) and Python read the pattern alike.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = rf"({_LABEL}\.)+([A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})"
_HOST = rf"({_DNS_NAME}|localhost|[0-9]{{1,3}}(\.[0-9]{{1,3}}){{3}})(:[0-9]{{1,5}})?"
_PCHAR = r"([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
_REST = rf"(/({_PCHAR}|/)*)?(\?({_PCHAR}|[/?])+)?(#({_PCHAR}|[/?])+)?"
URL_PATTERN = rf"^(https?|ftps?)://{_HOST}{_REST}$"
URL_ERROR = "Not a valid URL."


def url_field(**kwargs) -> fields.Url:
    """An absolute URL of at most 500 characters matching ``URL_PATTERN``, nullable. The document
    says ``format: uri`` (apispec's own ``format: url`` is no JSON Schema format, so clients
    and generators would take any string)."""
    return fields.Url(
        allow_none=True,
        validate=[validate.Length(max=500), validate.Regexp(URL_PATTERN, error=URL_ERROR)],
        metadata={"format": "uri"},
        **kwargs,
    )


def bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a "\ud800" JSON escape
        return True
    return False


def _json_problems(document) -> dict[str, list[str]]:
    """Field path -> messages for text and numbers no column can hold (iterative: no recursion)."""
    problems: dict[str, list[str]] = {}
    stack = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise Problem(
                f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.",
                code="json_too_deep",
            )
        if isinstance(value, str):
            if bad_text(value):
                problems.setdefault(path or "_schema", []).append(TEXT_ERROR)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not BIGINT_MIN <= value <= BIGINT_MAX:
                problems.setdefault(path or "_schema", []).append(RANGE_ERROR)
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if bad_text(key):
                    problems.setdefault(path or "_schema", []).append(TEXT_ERROR)
                    child = path or "_schema"
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{path}.{index}" if path else str(index), depth + 1))
    return problems


def _check_json_body() -> None:
    data = request.get_data(cache=True)
    if not data:
        return
    try:
        document = json.loads(data)
    except RecursionError:
        raise Problem(
            f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.",
            code="json_too_deep",
        ) from None
    except ValueError:
        return  # malformed JSON: the arguments parser answers 400 with its own message
    problems = _json_problems(document)
    if problems:
        raise ValidationFailed(errors=problems)


def guard_request() -> None:
    """Refuse NUL, unpaired surrogates, over-deep JSON and out-of-range numbers before a view."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and bad_text(value):
            raise NotFound("No such resource.")
    problems: dict[str, list[str]] = {}
    sources = [request.args]
    # API uploads (multipart) raise their own body limit inside the view before reading it;
    # parsing them here would apply the global limit first. Their text is checked by the view.
    api_upload = request.path.startswith("/api/") and request.mimetype == "multipart/form-data"
    # A request without a body (a claim, a cancel) has no form to parse.
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if request.method not in {"GET", "HEAD", "OPTIONS"} and not api_upload and has_body:
        sources.append(request.form)
        for name, upload in request.files.items(multi=True):
            if upload.filename and bad_text(upload.filename):
                problems.setdefault(name, []).append(TEXT_ERROR)
    for source in sources:
        for key, value in source.items(multi=True):
            if bad_text(key) or bad_text(value):
                problems.setdefault("_schema" if bad_text(key) else key, []).append(TEXT_ERROR)
    if problems:
        if not request.path.startswith("/api/"):
            raise Problem(TEXT_ERROR)  # pages: a plain 400 page
        raise ValidationFailed(errors=problems)
    if request.method in {"POST", "PUT", "PATCH", "DELETE"} and request.is_json:
        _check_json_body()


def register_input_guard(app: Flask) -> None:
    """Call before the blueprints are registered: their rules pick up the bounded converter."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(guard_request)
