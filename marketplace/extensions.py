"""Extension objects, created unbound; ``create_app`` binds them. Redis, RQ and the stock engine
are attached in ``init_redis`` and reached through the accessors below, never at import time."""

from __future__ import annotations

from flask import current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

from .errors import PROBLEM_MIME, ProblemSchema

# Stable constraint names so Alembic migrations work the same on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

API_RULES = (
    "Rules every operation applies besides those in its schema: text never contains NUL (U+0000)"
    " or unpaired surrogates (422); JSON bodies nest at most 32 levels (400 json_too_deep);"
    " integers are 64-bit signed (422; ids in paths above 2^63-1 are 404). Errors are RFC 9457"
    " problem details (application/problem+json) with a stable `code`."
)


class ProblemApi(Api):
    """flask-smorest documents errors as its own JSON shape; ours are RFC 9457 problem details
    sent as ``application/problem+json`` (see ``errors.py``), so the document says so."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, **options):
        options.setdefault("info", {"description": API_RULES})
        super()._init_spec(**options)

    def _register_responses(self):
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MIME  # for the error responses only
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE


# ``@bp.doc(responses=CSV_RESPONSE)`` on a download: its 200 is text/csv, not JSON.
CSV_RESPONSE = {
    200: {
        "description": "CSV (UTF-8 with BOM)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def file_upload_body(description: str) -> dict:
    """``@bp.doc(requestBody=file_upload_body(...))`` for a view that reads ``request.files``:
    flask-smorest documents no body for it otherwise. What JSON Schema cannot say about the file
    (its kind of content, its size) goes in the description."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": description}
                    },
                }
            }
        },
    }


db = SQLAlchemy(metadata=metadata)
migrate = Migrate()
api = ProblemApi()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()


class RedisNotConfigured(RuntimeError):
    """Raised when code needs Redis but neither REDIS_URL nor a local server is available."""


def _ext(name: str):
    try:
        return current_app.extensions[name]
    except KeyError:
        raise RedisNotConfigured(
            "Redis is not configured: set REDIS_URL or start the platform with `shihui up`"
        ) from None


def get_redis():
    """The app's Redis client (decode_responses=False)."""
    return _ext("shihui.redis")


def get_rq_redis():
    """The Redis client RQ uses (a separate database or server)."""
    return _ext("shihui.rq_redis")


def get_queue(name: str = "default"):
    from rq import Queue

    queues = _ext("shihui.queues")
    if name not in queues:
        queues[name] = Queue(name, connection=get_rq_redis())
    return queues[name]
