"""Shihui's application shell (the top layer): the Flask factory that wires the ground
(``marketplace``) and every feature together. Nothing imports this package but its own
entry points (CLI, WSGI, supervisor)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event
from sqlalchemy.engine import Engine

import marketplace
from marketplace import fastlane
from marketplace.config import load_config
from marketplace.errors import register_errorhandlers
from marketplace.extensions import api, babel, csrf, db, migrate
from marketplace.observability import configure_logging, register_request_hooks
from marketplace.proxy import register_proxy
from marketplace.security import register_security_headers
from marketplace.validation import register_input_guard

__all__ = ["create_app"]

GROUND = Path(marketplace.__file__).parent


def create_app(config: Mapping | None = None) -> Flask:
    """Build the app. ``config`` overrides the settings read from the environment (tests use it)."""
    # The shared templates, static files and translations live with the ground layer, which
    # every feature's pages extend; the shell's own pages add theirs through their blueprint.
    app = Flask(__name__, root_path=str(GROUND), instance_relative_config=False)
    settings = load_config()
    if config:
        settings.update(config)
    app.config.update(settings)
    app.instance_path = app.config["INSTANCE_DIR"]
    fastlane.init_app(app)  # before the features, which add their hot routes to it
    register_proxy(app)  # outermost WSGI layer: Flask and the fast lane see the client's address
    app.session_interface = _SessionInterface()
    register_input_guard(app)  # before any blueprint: routes use its bounded <int:> converter
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)  # after Api.init_app so problem+json wins over smorest's JSON
    register_commands(app)
    configure_logging(app)
    register_request_hooks(app)
    register_security_headers(app)
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """Flask builds a new signing serializer for every request; API calls with no cookie pay
    for it on the hot claim path. Build it once per app and secret key."""

    def get_signing_serializer(self, app):
        cached = getattr(app, "_shihui_session_serializer", None)
        if cached is None or cached[0] != app.secret_key:
            cached = (app.secret_key, super().get_signing_serializer(app))
            app._shihui_session_serializer = cached
        return cached[1]

    def open_session(self, app, request):
        # The API authenticates with bearer tokens: a call without a session cookie gets the
        # null session, which Flask neither signs nor saves (and so adds no ``Vary: Cookie``).
        if request.path.startswith("/api/") and self.get_cookie_name(app) not in request.cookies:
            return self.make_null_session(app)
        return super().open_session(app, request)


def register_extensions(app: Flask) -> None:
    from marketplace.redis_setup import init_redis

    from .web import select_locale

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from pathlib import Path

        Path(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///") :]).parent.mkdir(
            parents=True, exist_ok=True
        )
    db.init_app(app)
    import_models()
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True)
    api.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    init_redis(app)
    from marketplace.auth.session import init_login

    init_login(app)
    from marketplace import navigation

    navigation.register(app)

    from flask import request

    from marketplace.errors import Problem

    @app.before_request
    def _api_bodies_are_json():
        # 415 for a body the API cannot read, instead of a confusing field-by-field 422.
        if (
            request.path.startswith("/api/")
            and request.method in {"POST", "PUT", "PATCH"}
            and (request.content_length or 0) > 0
            and request.mimetype not in {"application/json", "multipart/form-data"}
            and not request.mimetype.endswith("+json")
        ):
            raise Problem(
                "Send the request body as application/json.",
                status=415,
                code="unsupported_media_type",
                title="Unsupported media type",
            )

    @app.before_request
    def _csrf_for_pages():
        # The JSON API authenticates with bearer tokens, which browsers never send on their own,
        # so only cookie-authenticated pages need CSRF tokens.
        if request.method not in {"GET", "HEAD", "OPTIONS"} and not request.path.startswith(
            "/api/"
        ):
            csrf.protect()


def import_models() -> None:
    """Import every layer's models so metadata (and Alembic autogenerate) sees all tables."""
    import catalogue.models  # noqa: F401
    import flashsale.models  # noqa: F401
    import marketplace.auth.models  # noqa: F401
    import marketplace.members.models  # noqa: F401
    import marketplace.merchants  # noqa: F401
    import marketplace.models  # noqa: F401
    import marketplace.orgs.models  # noqa: F401
    import merchant_portal.models  # noqa: F401
    import messaging.models  # noqa: F401
    import unionservices.models  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from marketplace import health
    from marketplace.auth import routes as auth_routes
    from marketplace.members import admin_routes as members_admin
    from marketplace.members import pages as members_pages
    from marketplace.members import routes as members_routes
    from marketplace.orgs import routes as orgs_routes

    from . import web

    app.register_blueprint(web.bp)
    app.register_blueprint(health.bp)
    from flashsale import init_app as init_flashsale

    init_flashsale(app)
    from catalogue import init_app as init_catalogue

    init_catalogue(app)
    from merchant_portal import init_app as init_merchant_portal

    init_merchant_portal(app)
    from unionservices import init_app as init_unionservices

    init_unionservices(app)
    from messaging import init_app as init_messaging

    init_messaging(app)
    app.register_blueprint(members_pages.bp)
    from . import member_app

    member_app.init_app(app)  # after the features: the tabs name their pages
    for blp in (auth_routes.bp, members_routes.bp, members_admin.bp, orgs_routes.bp):
        api.register_blueprint(blp)
    auth_routes.init_fast_lane(app)


def register_commands(app: Flask) -> None:
    from .cli import register_cli

    register_cli(app)


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).parent / "migrations")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets the web, worker and scheduler processes share one SQLite file safely."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
