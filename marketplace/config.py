"""Settings, read from the environment when the app is created (never at import time).

Every setting is documented in the README's table. ``load_config()`` returns a plain dict so
tests can build an app from a mapping without touching ``os.environ``.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from pathlib import Path

from inventory.durability import check_mode

DEFAULT_SECRET = "dev-only-secret-change-me"  # noqa: S105 - a sentinel that production refuses


class ConfigError(RuntimeError):
    """A setting is missing or unsafe."""


MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 88  # estimated from the key's own characters: token_hex(16) scores ~115, and
# none of a million scored under 90 (at 96, 1 in 7,000 random keys was refused)
MIN_DISTINCT = 8
_PLACEHOLDERS = ("change", "secret", "example", "password", "default", "shihui")


def secret_weakness(value: str) -> str | None:
    """Why ``value`` is not fit to sign tokens or key ID hashes in production, or None.

    Random keys (``secrets.token_urlsafe``/``token_hex``) pass; short keys, few distinct
    characters, repeats, runs like ``abcd``/``1234`` and placeholder words do not.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    counts = Counter(value)
    bits = -sum(n * math.log2(n / len(value)) for n in counts.values())
    if len(counts) < MIN_DISTINCT or bits < MIN_SECRET_BITS:
        return "too few different characters (not random enough)"
    steps = [ord(b) - ord(a) for a, b in zip(value, value[1:], strict=False)]
    runs = sum(1 for a, b in zip(steps, steps[1:], strict=False) if a == b and abs(a) <= 2)
    if runs * 4 > len(value):
        return "a pattern (repeats or runs like abcd / 1234), not random"
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDERS):
        return "a placeholder word, not a random value"
    return None


def is_production(env: dict[str, str] | None = None) -> bool:
    """SHIHUI_ENV=production, for code that runs before an app exists (``shihui up``)."""
    return (os.environ if env is None else env).get("SHIHUI_ENV", "").lower() == "production"


def _check_production_secrets(env: dict[str, str]) -> None:
    how = '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
    for name in ("SECRET_KEY", "ID_HASH_KEY"):
        value = env.get(name, "")
        if name == "ID_HASH_KEY" and not value:
            continue  # falls back to SECRET_KEY, checked above
        if value == DEFAULT_SECRET:
            problem = "the development default"
        else:
            problem = secret_weakness(value) if value else "not set"
        if problem:
            raise ConfigError(
                f"{name} must be a random value of at least {MIN_SECRET_LENGTH} characters in "
                f"production; it is {problem} {how}"
            )


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def rq_url_for(redis_url: str) -> str:
    """RQ lives in the next database number of the same server, so app keys and jobs never mix."""
    base, _, tail = redis_url.rpartition("/")
    if base.count("/") >= 2 and tail.split("?")[0].isdigit():
        db, _, query = tail.partition("?")
        return f"{base}/{(int(db) + 1) % 16}" + (f"?{query}" if query else "")
    return redis_url.rstrip("/") + "/1"


# Feature tunables passed through from the environment as strings when set; each feature reads
# and converts its own (defaults live next to the code that uses them).
PASSTHROUGH = (
    "LOGIN_PAIR_LIMIT",
    "LOGIN_ACCOUNT_LIMIT",
    "LOGIN_SLOW_LIMIT",
    "LOGIN_IP_LIMIT",
    "ACTIVATION_PAIR_LIMIT",
    "ACTIVATION_CARD_LIMIT",
    "ACTIVATION_SLOW_LIMIT",
    "ACTIVATION_IP_LIMIT",
    "RESET_PAIR_LIMIT",
    "RESET_CARD_LIMIT",
    "RESET_SLOW_LIMIT",
    "RESET_IP_LIMIT",
    "PASSWORD_RESET_CODE_TTL",
    "MESSAGE_SEND_LIMIT",
    # Messages (docs/messages.md): the browsers' Server-Sent Events URL, the polling interval
    # without it, and the outbound channel (file, smtp, sms, wechat, none) with its SMTP server.
    "REALTIME_URL",
    "REALTIME_POLL_SECONDS",
    "OUTBOUND_BACKEND",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_FROM",
    "SMTP_RCPT",
    "SMTP_STARTTLS",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "ORG_ROOT_NAME",
    "TOKEN_VERSION_CACHE_SECONDS",
    "FLASHSALE_CLAIM_RATE",
    "FLASHSALE_QUEUE_STATUS_BUDGET",
    "LOTTERY_BEACON",
    "FLASHSALE_CLAIM_BURST",
    "FLASHSALE_META_TTL",
    "FLASHSALE_POLL_TTL",
    "FLASHSALE_SOLDOUT_CACHE_SECONDS",
    "FLASHSALE_RECOVER_IDLE_MS",
    "FLASHSALE_RETIRE_AFTER_SECONDS",
    "CATALOGUE_CACHE_TTL",
    "COVER_MAX_BYTES",
    "COVERAGE_LAUNCH",
    "COVERAGE_TARGET_FIRST_YEAR",
    "COVERAGE_TARGET_LATER",
    # The card page's changing QR (marketplace/members/cardcode.py): seconds per code.
    "CARD_CODE_STEP_SECONDS",
)


def load_config(env: dict[str, str] | None = None, instance_path: str | None = None) -> dict:
    env = dict(os.environ if env is None else env)
    instance = Path(instance_path or env.get("SHIHUI_INSTANCE", "instance")).resolve()
    mode = env.get("SHIHUI_ENV", "development").lower()
    production = is_production(env)
    secret = env.get("SECRET_KEY", "")
    if production:
        _check_production_secrets(env)
    redis_url = env.get("REDIS_URL") or None
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'shihui.db'}"
    passthrough = {name: env[name] for name in PASSTHROUGH if env.get(name)}
    return passthrough | {
        "ENV_NAME": mode,
        "PRODUCTION": production,
        "TESTING": _bool(env.get("SHIHUI_TESTING")),
        "SECRET_KEY": secret or DEFAULT_SECRET,
        "ID_HASH_KEY": env.get("ID_HASH_KEY") or secret or DEFAULT_SECRET,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        # hide_parameters: a failing statement's log line and exception text never carry the
        # bound names, phones or card numbers.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "REDIS_URL": redis_url,
        "RQ_REDIS_URL": env.get("RQ_REDIS_URL") or (rq_url_for(redis_url) if redis_url else None),
        "REDIS_NAMESPACE": env.get("REDIS_NAMESPACE", "shihui"),
        # How durable a claim is before its 201 (inventory/durability.py, docs/inventory.md).
        "CLAIM_DURABILITY": check_mode(env.get("CLAIM_DURABILITY", "local")),
        "CLAIM_DURABILITY_TIMEOUT_MS": int(env.get("CLAIM_DURABILITY_TIMEOUT_MS", 250)),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto entries are trusted.
        "PROXY_TRUSTED_HOPS": int(env.get("PROXY_TRUSTED_HOPS", 0)),
        "INSTANCE_DIR": str(instance),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", 1024 * 1024)),
        "UPLOAD_MAX_BYTES": int(env.get("UPLOAD_MAX_BYTES", 64 * 1024 * 1024)),
        "LOG_FORMAT": env.get("LOG_FORMAT", "json" if production else "text"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # The hot API routes answered in front of Flask (marketplace/fastlane.py).
        "FASTLANE": _bool(env.get("FASTLANE"), default=True),
        "TOKEN_TTL_SECONDS": int(env.get("TOKEN_TTL_SECONDS", 12 * 3600)),
        "REFRESH_TOKEN_TTL_SECONDS": int(env.get("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_CHECK_DEFAULT": False,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh_CN", "en"],
        "DISPLAY_TIMEZONE": "Asia/Shanghai",
        # flask-smorest / OpenAPI
        "API_TITLE": "Shihui API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                }
            },
        },
        "JSON_SORT_KEYS": False,
    }


def generate_secret() -> str:
    return secrets.token_urlsafe(48)
