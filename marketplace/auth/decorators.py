"""``auth_required``: bearer-token authentication and role checks for API views."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from ..errors import Forbidden, Unauthorized
from .models import ROLES
from .tokens import Principal, verify_token


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate_request() -> Principal:
    token = bearer_token()
    if token is None:
        raise Unauthorized("A bearer token is required.")
    principal = verify_token(token)
    g.principal = principal
    return principal


def auth_required(*roles: str):
    """Require a valid, unrevoked bearer token; with ``roles``, one of them (else 403)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate_request()
            if roles and principal.role not in roles:
                raise Forbidden("Your role may not use this endpoint.")
            return view(*args, **kwargs)

        wrapper._apidoc = getattr(view, "_apidoc", {})  # keep smorest's docs on the view
        doc = wrapper._apidoc.setdefault("manual_doc", {})
        doc.setdefault("security", [{"bearerAuth": []}])
        return wrapper

    return decorator


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized("A bearer token is required.")
    return principal
