"""Security headers on every response; private pages never cached; templates need no inline
script or style, so the strict CSP holds (the browser suite checks it in Chromium)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/", "/m/login", "/api/docs", "/healthz", "/nope"])
def test_every_page_has_the_security_headers(client, path):
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in resp.headers  # plain HTTP: HSTS would be ignored


@pytest.mark.parametrize(
    "path", ["/api/v1/openapi.json", "/api/v1/nope", "/api/v1/flashsales", "/api/v1/me"]
)
def test_api_json_answers_get_the_api_headers_and_no_page_policies(client, path):
    """OWASP's REST set: nothing may load, run or frame it, no sniffing; the policies that
    only govern pages (referrer, opener, permissions, the pages' script allow-list) are left
    out. A 200, a 401 and a 404 problem+json alike."""
    resp = client.get(path)
    assert resp.mimetype in ("application/json", "application/problem+json"), resp.mimetype
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for page_only in ("Referrer-Policy", "Cross-Origin-Opener-Policy", "Permissions-Policy"):
        assert page_only not in resp.headers
    secure = client.get(path, base_url="https://shihui.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_when_the_request_is_secure(client):
    resp = client.get("/", base_url="https://shihui.example")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize("path", ["/admin/login", "/merchant/login", "/m/login", "/m/activate"])
def test_admin_merchant_and_member_pages_are_never_cached(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_public_pages_and_static_files_keep_their_caching(client):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    css = client.get("/static/app.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")


def test_token_responses_are_never_cached(client, app_ctx):
    resp = client.post("/api/v1/auth/token", json={"username": "x", "password": "y"})
    assert resp.status_code == 401 and resp.headers["Cache-Control"] == "no-store"


def test_swagger_ui_page_has_no_inline_script(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "swagger-init.js" in html and "swagger-ui-bundle.js" in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in a or 'type="application/json"' in a for a in scripts)
    assert client.get("/static/swagger-init.js").status_code == 200


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>"), "inline <script>"),
    (re.compile(r"\sstyle=\""), "style attribute"),
    (re.compile(r"<style\b"), "<style> element"),
    (re.compile(r"\son[a-z]+=\""), "event-handler attribute"),
    (re.compile(r"javascript:"), "javascript: URL"),
]


def test_templates_have_no_inline_script_or_style():
    templates = [p for p in ROOT.glob("*/**/templates/**/*.html") if ".venv" not in p.parts]
    assert len(templates) > 30
    found = [
        f"{p.relative_to(ROOT)}: {what}"
        for p in templates
        for pattern, what in INLINE
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert found == []
