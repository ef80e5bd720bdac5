"""Who may do what in the portal: one set of checks for the JSON API and the pages.

Every check takes a :class:`~marketplace.auth.Principal` (from the bearer token, or built from the
session's account by the pages) and raises a Problem, which the API answers as problem+json and
the pages as an HTML error page.
"""

from __future__ import annotations

from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.merchants import Merchant

OWNER = ("merchant_owner",)
STAFF = ("merchant_owner", "merchant_clerk")


class Actor:
    """What ``record_audit`` needs from a principal."""

    def __init__(self, principal):
        self.id, self.role = principal.account_id, principal.role


def merchant_of(principal, roles=STAFF) -> Merchant:
    """The caller's merchant if the caller has one of ``roles`` there (else 403)."""
    if principal.role not in roles:
        raise Forbidden("Your role may not do this.")
    merchant = db.session.get(Merchant, principal.merchant_id) if principal.merchant_id else None
    if merchant is None:
        raise Forbidden("This account belongs to no merchant.")
    return merchant


def selling_merchant(principal) -> Merchant:
    """The owner's merchant, which must be approved: suspended merchants cannot publish or sell."""
    merchant = merchant_of(principal, OWNER)
    if merchant.status != "approved":
        raise Forbidden(
            "Your merchant is suspended: sales cannot be created, published or topped up.",
            code="merchant_suspended" if merchant.status == "suspended" else "merchant_not_active",
        )
    return merchant


def require_admin(principal) -> None:
    if principal.role != "admin":
        raise Forbidden("Union admins only.")
