"""Expected answers of the authorization tests, read from the permission table.

The matrix tests keep their concrete callers and objects; what each caller should get comes from
:mod:`marketplace.permissions`, in the order the routes check: no login, then the role, then the
merchant scope (another merchant's object: 404), then the selling rule (403).
"""

from __future__ import annotations

from marketplace import permissions

# The callers of the matrix tests: (role, status of their merchant, do they belong to the
# merchant whose objects the test uses?)
PERSONAS = {
    "member": ("member", None, False),
    "clerk": ("merchant_clerk", "approved", True),
    "other": ("merchant_owner", "approved", False),
    "suspended": ("merchant_owner", "suspended", False),
    "owner": ("merchant_owner", "approved", True),
    "admin": ("admin", None, False),
}
ROLE_OF = {persona: role for persona, (role, _status, _same) in PERSONAS.items()}


def outcome(action: str | None, persona: str, *, target: str = "none", ok=200, anon=401):
    """What ``persona`` gets for ``action``; ``target`` is "none" (no object), "theirs" (an
    object of the test's merchant) or "own" (an object of the caller's own merchant)."""
    if action is None:  # a public endpoint
        return ok
    if persona == "anon":
        return anon
    role, status, same = PERSONAS[persona]
    rule = permissions.ACTIONS[action]
    if role not in rule.roles:
        return 403
    if target == "theirs" and rule.scope == "merchant" and not same:
        return 404
    if rule.selling and status != "approved":
        return 403
    return ok


def expected(action, personas, **kwargs) -> dict:
    """``outcome`` for every persona (``personas`` may include "anon")."""
    return {p: outcome(action, p, **kwargs) for p in personas}


def allowed_roles(action: str) -> set[str]:
    return set(permissions.ACTIONS[action].roles)
