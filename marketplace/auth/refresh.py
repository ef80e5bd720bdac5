"""Refresh tokens: a member signed in on a phone renews access tokens without a password.

Login (``POST /api/v1/auth/token``) starts a *family* and returns, beside the access token, a
refresh token; ``POST /api/v1/auth/refresh`` exchanges it for a new access token and a new
refresh token (rotation), and the old one is spent. Presenting a spent refresh token again means
it was copied: the whole family is revoked, the thief's and the owner's tokens alike (401
``refresh_token_reused``), and the owner logs in again.

A refresh token is signed like an access token (salt ``shihui.refresh-token.v1``) and carries
the principal, the account's token version, the family id, its generation and its expiry, so a
renewal costs no password hash and no SQL: a signature check, the revocation check of access
tokens (logout, password change, card freeze and reissue bump the version and so revoke the
family too) and one Redis call, ``lua/rotate_refresh.lua``, which keeps the family's current
generation at ``<ns>:auth:rf:<family>`` for as long as its newest token lives.
Everything that changes a principal (card status, reissue, activation) bumps the token version,
so copying the principal from a valid refresh token can never hand out stale rights.

If Redis loses a family, the next renewal recreates it from the presented token (its signature,
expiry and version were checked): members are not sent back to the login page en masse after a
Redis restore; a copied token that got in first is caught when the owner's newer token arrives.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, replace
from pathlib import Path

from flask import current_app
from itsdangerous import BadSignature

from ..errors import Unauthorized
from ..extensions import get_redis
from .tokens import (
    _FROM_WIRE,
    _WIRE,
    Principal,
    TokenSerializer,
    _sha256,
    is_revoked,
    token_body,
)

SALT = "shihui.refresh-token.v1"
_LUA = Path(__file__).parent / "lua" / "rotate_refresh.lua"


def _state(app=None) -> dict:
    app = app or current_app
    state = app.extensions.get("shihui.refresh")
    if state is None:
        state = {
            "serializer": TokenSerializer(
                app.config["SECRET_KEY"], salt=SALT, signer_kwargs={"digest_method": _sha256()}
            ),
            "script": None,
        }
        app.extensions["shihui.refresh"] = state
    return state


def _script():
    state = _state()
    if state["script"] is None:
        state["script"] = get_redis().register_script(_LUA.read_text())
    return state["script"]


def ttl() -> int:
    return int(current_app.config["REFRESH_TOKEN_TTL_SECONDS"])


def family_key(family: str) -> str:
    return f"{current_app.config.get('REDIS_NAMESPACE', 'shihui')}:auth:rf:{family}"


def _sign(principal: Principal, family: str, generation: int) -> dict:
    lifetime = ttl()
    claims = {_WIRE[k]: v for k, v in asdict(principal).items() if v is not None}
    claims.update(e=int(time.time()) + lifetime, f=family, q=generation)
    token = _state()["serializer"].dumps(claims)
    return {"refresh_token": token, "refresh_expires_in": lifetime}


def start_family(principal: Principal) -> dict:
    """A new family (one per login) at generation 0; returns the refresh fields of a response."""
    family = secrets.token_urlsafe(12)
    generation = int(_script()(keys=[family_key(family)], args=[-1, principal.account_id, ttl()]))
    return _sign(principal, family, generation)


def _decode(token: str) -> tuple[Principal, str, int]:
    try:
        claims = _state()["serializer"].loads(token)
        family, generation = claims.pop("f"), int(claims.pop("q"))
        principal = Principal(**{_FROM_WIRE[k]: v for k, v in claims.items()})
        if not isinstance(family, str) or not family:
            raise ValueError(family)
    except (BadSignature, TypeError, KeyError, ValueError, AttributeError):
        raise Unauthorized("The refresh token is invalid.", code="unauthorized") from None
    if principal.expires_at < time.time():
        raise Unauthorized("The refresh token has expired.", code="refresh_token_expired")
    return principal, family, generation


def renew(token: str) -> dict:
    """Spend ``token``: a new access token and the family's next refresh token (401 else)."""
    principal, family, generation = _decode(token)
    if is_revoked(principal):
        get_redis().hset(family_key(family), "revoked", 1)
        raise Unauthorized("The refresh token has been revoked.", code="token_revoked")
    result = int(_script()(keys=[family_key(family)],
                           args=[generation, principal.account_id, ttl()]))  # fmt: skip
    if result == -2:
        raise Unauthorized(
            "This refresh token was already used: every token of this sign-in is revoked. "
            "Log in again.",
            code="refresh_token_reused",
        )
    if result < 0:
        raise Unauthorized("The refresh token has been revoked.", code="token_revoked")
    principal = replace(principal, expires_at=0)
    return token_body(principal) | _sign(principal, family, result)
