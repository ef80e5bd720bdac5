"""Accounts, roles, tokens and sessions: the identity every other feature trusts.

Hot paths call :func:`verify_token` (through :func:`auth_required`) which checks a signed token
and one Redis key, never SQL. See docs/members.md for the token format and revocation window.
"""

from .decorators import auth_required, current_principal
from .models import ROLES, Account
from .tokens import Principal, bump_token_version, issue_token, verify_token

__all__ = [
    "ROLES",
    "Account",
    "Principal",
    "auth_required",
    "bump_token_version",
    "current_principal",
    "issue_token",
    "verify_token",
]
