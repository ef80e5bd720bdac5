"""``auth_required`` (API) and ``page_required`` (pages): log the caller in, then ask the
permission table (:mod:`marketplace.permissions`) whether their role may do the named action."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, redirect, request, url_for
from flask_login import current_user

from .. import permissions
from ..errors import Forbidden, Unauthorized, problem_response
from .tokens import Principal, principal_for, verify_token


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


def auth_required(action: str):
    """A valid, unrevoked bearer token (else 401) whose role may do ``action`` (else 403)."""
    permissions.action(action)  # an unknown action fails when the view is declared

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate_request()
            if not permissions.allows(principal.role, action):
                raise Forbidden("Your role may not use this endpoint.")
            return view(*args, **kwargs)

        wrapper.permission = action
        wrapper._apidoc = getattr(view, "_apidoc", {})  # keep smorest's docs on the view
        doc = wrapper._apidoc.setdefault("manual_doc", {})
        doc.setdefault("security", [{"bearerAuth": []}])
        return wrapper

    return decorator


def page_required(action: str, login: str | None = None):
    """A logged-in session (else the ``login`` page, or Flask-Login's login view) whose role may
    do ``action`` (else 403). Puts the caller's :class:`Principal` on ``g.principal``."""
    permissions.action(action)

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                if login is None:
                    return current_app.login_manager.unauthorized()
                return redirect(url_for(login, next=request.full_path.rstrip("?")))
            if not permissions.allows(current_user.role, action):
                abort(403)
            g.principal = principal_for(current_user.account)
            return view(*args, **kwargs)

        wrapper.permission = action
        return wrapper

    return decorator


def session_required(action: str):
    """For the JSON a page's own script fetches: a logged-in session whose role may do
    ``action``. Refusals are problem+json whatever the request accepts (401 ``unauthorized``
    without a session, 403 ``forbidden``), never a redirect to a login page."""
    permissions.action(action)

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return problem_response(Unauthorized("Log in first.", headers={}))
            if not permissions.allows(current_user.role, action):
                return problem_response(Forbidden("Your role may not use this."))
            g.principal = principal_for(current_user.account)
            return view(*args, **kwargs)

        wrapper.permission = action
        return wrapper

    return decorator


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized("A bearer token is required.")
    return principal
