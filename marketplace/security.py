"""Security headers on every response.

A few explicit lines rather than flask-talisman: we need six headers, one policy for every page
(no per-view exceptions: no page runs inline script or inline style), three headers for the
API's JSON answers (``API_HEADERS``), and no HTTPS redirect
(TLS ends at the proxy in front of gunicorn). That is less code to read than the library's
configuration, and one dependency fewer.
"""

from __future__ import annotations

from flask import Flask, request

# Every page satisfies this: scripts and styles come from our own static files only; bars are
# SVG attributes, confirmations are data-confirm (marketplace/static/app.js), and the Swagger UI
# page is our own template with its start-up code in a file.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "X-Content-Type-Options": "nosniff",
    # URLs can carry card numbers (/admin/cards?card_no=...): never send them to other sites.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"
_HEADER_ITEMS = tuple(HEADERS.items())

# A JSON answer of the API is no page: nothing in it runs, loads or links. It gets the headers
# OWASP's REST Security Cheat Sheet names for API responses (with HSTS and Cache-Control as
# below): a policy that allows nothing and no framing, and no MIME sniffing. Referrer, opener
# and permissions policies govern documents that load or run something, and the page CSP's
# allow-list is for our pages' own scripts. Three headers and 200 bytes fewer on every claim,
# poll and refusal: gunicorn writes and checks each header in Python (issue #13's profile).
API_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
_API_ITEMS = tuple(API_HEADERS.items())
JSON_TYPES = ("application/json", "application/problem+json")


def _api_json(path: str, content_type: str | None) -> bool:
    """An API answer in JSON (not the API's HTML page, /api/docs)."""
    mimetype = (content_type or "").partition(";")[0].strip().lower()
    return path.startswith("/api/") and mimetype in JSON_TYPES


# Pages and API answers with personal or staff data: never kept by a browser or proxy cache.
PRIVATE_PREFIXES = (
    "/admin",
    "/merchant",
    "/m",
    "/api/v1/admin",
    "/api/v1/merchant",
    "/api/v1/auth",
)


def _private(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PRIVATE_PREFIXES)


def finish_headers(app: Flask, headers: list[tuple[str, str]], path: str, scheme: str) -> None:
    """What the after-request hook below adds, for an answer built outside Flask (a header
    list of the fast lane, marketplace/fastlane.py)."""
    present = {name.lower() for name, _ in headers}
    content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
    items = _API_ITEMS if _api_json(path, content_type) else app.extensions["security.headers"]
    headers.extend([(n, v) for n, v in items if n.lower() not in present])
    if scheme == "https":
        headers.append(("Strict-Transport-Security", HSTS))
    if _private(path) and "cache-control" not in present:
        headers.append(("Cache-Control", "no-store"))


def _with_realtime(csp: str, url: str | None) -> str:
    """Pages may also connect to the real-time process's origin (messaging/realtime.py)."""
    if not url:
        return csp
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return csp.replace("connect-src 'self'", f"connect-src 'self' {parts.scheme}://{parts.netloc}")


def register_security_headers(app: Flask) -> None:
    items = tuple(
        (n, _with_realtime(v, app.config.get("REALTIME_URL")) if n == "Content-Security-Policy"
         else v) for n, v in _HEADER_ITEMS
    )  # fmt: skip
    app.extensions["security.headers"] = items  # the fast lane's answers get the same

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        api = _api_json(request.path, response.mimetype)
        # One extend instead of six setdefault scans of the header list.
        headers.extend(
            [(n, v) for n, v in (_API_ITEMS if api else items) if n.lower() not in present]
        )
        if request.is_secure:  # behind a proxy, ProxyFix makes X-Forwarded-Proto count
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        endpoint = request.endpoint or ""
        static = endpoint == "static" or endpoint.endswith(".static")
        if _private(request.path) and not static and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response
