"""The web shell: the member home page that gathers every feature, the language switch and the
offline Swagger UI assets."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from flask_babel import get_locale

from marketplace import favicon
from marketplace.redirects import safe_path

bp = Blueprint("web", __name__, template_folder="templates")

LANG_COOKIE = "lang"


def select_locale() -> str:
    """Explicit choice (``?lang=`` or the cookie) first, then the browser, then zh-CN."""
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best and best.startswith("en"):
        return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/favicon.ico")
def favicon_ico():
    return current_app.response_class(
        favicon.ico(), mimetype="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
    )


@bp.get("/favicon.svg")
def favicon_svg():
    return current_app.response_class(
        favicon.SVG, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    response = redirect(safe_path(request.args.get("next"), "/"))
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


@bp.get("/api/docs/assets/<path:filename>")
def swagger_assets(filename: str):
    import swagger_ui_bundle

    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)


@bp.app_context_processor
def inject_locale():
    locale = get_locale()
    return {"current_locale": str(locale) if locale else "zh_CN"}
