"""Who may do what: the one permission table that every API route and page asks.

Each route names an action (``@auth_required("sale.publish")``, ``@page_required("sale.view")``);
the table below says which roles may do it. Two rules are stated here once and nowhere else:

- **Merchant scope.** Actions with ``scope="merchant"`` are done by an owner or clerk for their
  own merchant only. The caller's merchant comes from :func:`merchant_for`; objects are looked up
  through :func:`own`, so another merchant's sale, offer, voucher or clerk answers 404, as if it
  did not exist.
- **Organisation scope.** Actions with ``scope="org"`` are done by the city admin for the whole
  city and by a branch admin for the subtree of the organisation node it is bound to
  (:func:`marketplace.orgs.scope_of`); a node, member or object outside it answers 404.
- **Selling.** Actions with ``selling=True`` need an approved merchant: a suspended merchant gets
  403 ``merchant_suspended``, a pending or rejected one 403 ``merchant_not_active``
  (:func:`check_selling`). A suspended merchant may still read, withdraw its sales and, when the
  admin allowed it, redeem vouchers (:func:`redemption_paused`).

Endpoints that need no login are listed in :data:`PUBLIC`. ``tests/auth/test_permission_table.py``
fails when a route names no action and is not public; ``docs/permissions.md`` is printed from
this module (``python -m marketplace.permissions``) and a test keeps it current.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Forbidden, NotFound

ROLES = ("member", "merchant_owner", "merchant_clerk", "admin", "branch_admin")
ROLE_NAMES = {
    "member": "member",
    "merchant_owner": "merchant owner",
    "merchant_clerk": "merchant clerk",
    "admin": "city union admin",
    "branch_admin": "branch admin",
}

MEMBER = ("member",)
OWNER = ("merchant_owner",)
STAFF = ("merchant_owner", "merchant_clerk")
ADMIN = ("admin",)
UNION = ("admin", "branch_admin")  # the city admin everywhere, a branch admin in its subtree
ANYONE = ROLES  # any logged-in account


@dataclass(frozen=True)
class Action:
    roles: tuple[str, ...]
    summary: str
    scope: str | None = None  # "merchant": the caller's own merchant's objects only (else 404);
    # "org": a branch admin acts in its organisation's subtree only (else 404), the city admin
    # everywhere (see marketplace.orgs.scope_of)
    selling: bool = False  # the merchant must be approved (else 403, see check_selling)


def _merchant(roles, summary, selling=False) -> Action:
    return Action(roles, summary, scope="merchant", selling=selling)


ACTIONS: dict[str, Action] = {
    # Every account
    "account.self": Action(ANYONE, "See one's own account and card, change password, log out"),
    "voucher.qr": Action(ANYONE, "Draw a voucher code's QR picture (the code is in the URL)"),
    # Members
    "sale.browse": Action(MEMBER, "List and open flash sales"),
    "claim.create": Action(MEMBER, "Claim a flash-sale voucher"),
    "queue.join": Action(MEMBER, "Join a sale's waiting room and see one's place"),
    "lottery.enter": Action(MEMBER, "Register for a lottery sale, see and confirm one's entry"),
    "voucher.own": Action(MEMBER, "See and cancel one's own vouchers"),
    "directory.browse": Action(MEMBER, "Browse the merchant directory and discount offers"),
    "offer.favourite": Action(MEMBER, "Save offers as favourites and list them"),
    "groupbuy.browse": Action(MEMBER, "List and open group-buys"),
    "groupbuy.join": Action(MEMBER, "Join and leave group-buys, list one's places and teams"),
    "service.browse": Action(MEMBER, "See union services, who may use them, one's applications"),
    "service.apply": Action(MEMBER, "Apply to a union service with documents, resubmit"),
    "cover.own": Action(MEMBER, "See one's free covers and policy periods, report incidents"),
    "job.browse": Action(MEMBER, "Browse and filter union job listings, say interested"),
    "service.book": Action(MEMBER, "Hold, confirm and cancel course seats and appointments"),
    "message.read": Action(MEMBER, "Read one's inbox of announcements, mark them read"),
    "conversation.own": Action(MEMBER, "Ask one's branch union in a conversation, read replies"),
    "notice.own": Action(MEMBER, "Read one's notices, choose which kinds, ask for sale reminders"),
    # Merchant staff (owners and clerks), for their own merchant
    "portal.enter": _merchant(STAFF, "Log in to the merchant portal, see its home page"),
    "merchant.view_own": _merchant(STAFF, "See the merchant and its status"),
    "voucher.redeem": _merchant(STAFF, "Look a voucher code up and redeem it at the counter"),
    "card.verify": _merchant(
        STAFF,
        "Check a member card's changing QR code at the counter (masked name, status)",
        selling=True,
    ),
    "redemption.revert": _merchant(STAFF, "Undo a mistaken scan within 10 minutes"),
    "redemption.view": _merchant(STAFF, "List the merchant's recent redemptions"),
    "offer.view": _merchant(STAFF, "List and open the merchant's discount offers"),
    "groupbuy.view": _merchant(STAFF, "List and open the merchant's group-buys"),
    # Merchant owners
    "sale.view": _merchant(OWNER, "List and open sales with live stats, dashboard, charts"),
    "sale.create": _merchant(OWNER, "Create a flash sale (a draft)", selling=True),
    "sale.edit": _merchant(OWNER, "Change a sale (once live: only grow its stock)", selling=True),
    "sale.publish": _merchant(OWNER, "Publish a sale (load its stock)", selling=True),
    "sale.top_up": _merchant(OWNER, "Add tickets to a sale, live ones included", selling=True),
    "sale.duplicate": _merchant(OWNER, "Copy a sale as a draft, weeks later", selling=True),
    "sale.cancel": _merchant(OWNER, "Withdraw a sale (allowed while suspended)"),
    "sale.queue_rate": _merchant(OWNER, "Change a waiting room's admission rate, also while live"),
    "sale.draw": _merchant(OWNER, "Run a lottery sale's draw (once, after registration closes)"),
    "sale.handon": _merchant(
        OWNER, "See a lottery sale's winners, mark a winner's voucher unused in time (passes it on)"
    ),
    "sale.export": _merchant(OWNER, "Export a sale's vouchers and redemptions as CSV"),
    "cover.upload": _merchant(OWNER, "Upload a sale's cover picture", selling=True),
    "staff.manage": _merchant(OWNER, "List, add and remove clerks"),
    "audit.view_own": _merchant(OWNER, "Read the merchant's audit log"),
    "profile.edit": _merchant(OWNER, "Edit the directory profile (hours, photo, keywords)"),
    "offer.create": _merchant(OWNER, "Create a discount offer", selling=True),
    "offer.edit": _merchant(OWNER, "Change or withdraw a discount offer"),
    "offer.publish": _merchant(OWNER, "Publish an offer (on create or edit)", selling=True),
    "groupbuy.create": _merchant(OWNER, "Create a group-buy", selling=True),
    "groupbuy.cancel": _merchant(OWNER, "Call an open group-buy off"),
    # City union admins (and branch admins where marked)
    "console.enter": Action(UNION, "Log in to the admin console, see its home page"),
    "merchant.review": Action(ADMIN, "List, approve and reject merchant applications"),
    "merchant.view_any": Action(ADMIN, "List and open any merchant"),
    "merchant.suspend": Action(ADMIN, "Suspend and reinstate merchants"),
    "sale.view_any": Action(ADMIN, "List every merchant's sales"),
    "sale.rules": Action(ADMIN, "Set member quotas and no-show rules across sales, lift bans"),
    "sale.fairness": Action(ADMIN, "Publish a sale's fairness figures after it ended"),
    "audit.view_any": Action(ADMIN, "Read the whole audit log"),
    "member.import": Action(ADMIN, "Import member rosters, follow them, download rejected rows"),
    "member.view": Action(ADMIN, "Look members and cards up"),
    "card.freeze": Action(ADMIN, "Freeze a card"),
    "member.hardship": Action(ADMIN, "Mark a member in hardship (困难职工: lottery weights)"),
    "card.reissue": Action(ADMIN, "Reissue a member's card"),
    "service.manage": Action(ADMIN, "Configure union services and funds"),
    "service.review": Action(
        UNION,
        "Review applications, queue (a branch admin: the branch check of its subtree's members)",
        "org",
    ),
    "fund.view": Action(ADMIN, "See funds: budget, committed, paid, chart, payout batches"),
    "cover.manage": Action(ADMIN, "Export cover enrolments for the insurer"),
    "cover.review": Action(UNION, "Review cover incidents (a branch admin: its subtree's)", "org"),
    "job.manage": Action(ADMIN, "Publish and close job listings, see who is interested"),
    "slot.manage": Action(ADMIN, "Add course sessions and appointment slots"),
    "slot.roster": Action(
        UNION, "See a slot's roster (a branch admin: its subtree's members)", "org"
    ),
    "fund.payout": Action(ADMIN, "Export payout batches for the bank and confirm them paid"),
    # Applicant (own applications only, else 404) and reviewers in scope (unionservices.review)
    "service.document": Action(
        ("member", "admin", "branch_admin"),
        "Open an application or incident and download its documents",
    ),
    "org.manage": Action(ADMIN, "Create, rename, move and delete organisations; add branch admins"),
    "org.view": Action(UNION, "See the organisation tree (a branch admin: its subtree)", "org"),
    "org.members": Action(UNION, "List an organisation's members, ID numbers masked", "org"),
    "member.search": Action(
        UNION, "Find members by card, name, phone or ID number (masked; audit-logged)", "org"
    ),
    "member.reset_code": Action(
        UNION, "Issue a member a one-time password reset code (audit-logged)", "org"
    ),
    "coverage.view": Action(UNION, "Card coverage per district and branch, trend, CSV", "org"),
    "announcement.manage": Action(
        UNION, "Write, list and withdraw announcements to one's subtree; see who read", "org"
    ),
    "conversation.handle": Action(
        UNION, "Answer, assign and close conversations of one's subtree; saved replies", "org"
    ),
}

# Endpoints anyone may call without logging in (Flask endpoint names), and why.
PUBLIC: dict[str, str] = {
    "static": "static files",
    "flashsale_pages.static": "static files",
    "merchant_pages.static": "static files",
    "messaging_pages.static": "static files (the real-time script)",
    "web.index": "landing page",
    "web.set_language": "language switch",
    "web.favicon_ico": "site icon",
    "web.favicon_svg": "site icon",
    "web.swagger_assets": "API docs",
    "api-docs.openapi_json": "API docs",
    "api-docs.openapi_swagger_ui": "API docs",
    "health.healthz": "health",
    "health.readyz": "health",
    "health.metrics": "health (metrics)",
    "auth.Token": "log in (API)",
    "auth.Refresh": "renew tokens with a refresh token, which is the credential (API)",
    "members.Activate": "activate a card (API)",
    "member_app.home": "member home (the landing page when logged out)",
    "members_pages.activate": "activate a card",
    "members_pages.forgot_password": "set a new password with a union-issued reset code",
    "auth.PasswordReset": "set a new password with a union-issued reset code (API)",
    "members_pages.login": "log in",
    "members_pages.logout": "log out (a no-op when logged out)",
    "merchant_portal_api.Applications": "apply to sell (API)",
    "merchant_pages.apply": "apply to sell",
    "merchant_pages.login": "log in",
    "merchant_pages.logout": "log out (a no-op when logged out)",
    "merchant_pages.cover": "sale cover pictures, shown to members",
    "admin_pages.login": "log in",
    "admin_pages.logout": "log out (a no-op when logged out)",
}


def action(name: str) -> Action:
    """The table's row for ``name``; an unknown name is a programming error (ValueError)."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise ValueError(f"unknown action: {name!r} (see marketplace/permissions.py)") from None


def allows(role: str | None, name: str) -> bool:
    return role in action(name).roles


def require(principal, name: str) -> None:
    """403 unless the caller's role may do ``name``."""
    if not allows(principal.role, name):
        raise Forbidden("Your role may not do this.")


def staff_merchant(principal, name: str):
    """The caller's own merchant, for a merchant-scoped action their role may do (else 403)."""
    from .extensions import db
    from .merchants import Merchant

    if action(name).scope != "merchant":
        raise ValueError(f"{name!r} is not done for a merchant")
    require(principal, name)
    merchant = db.session.get(Merchant, principal.merchant_id) if principal.merchant_id else None
    if merchant is None:
        raise Forbidden("This account belongs to no merchant.")
    return merchant


def check_selling(merchant, name: str) -> None:
    """The selling rule: for a ``selling`` action the merchant must be approved (else 403)."""
    if not action(name).selling or (merchant is not None and merchant.status == "approved"):
        return
    if merchant is not None and merchant.status == "suspended":
        raise Forbidden(
            "Your merchant is suspended: sales cannot be created, changed, published or topped up.",
            code="merchant_suspended",
        )
    raise Forbidden("Your merchant is not approved yet.", code="merchant_not_active")


def merchant_for(principal, name: str):
    """The caller's merchant, checked for ``name``: role, own merchant and the selling rule.

    For an action on one object, look the object up with :func:`own` between
    :func:`staff_merchant` and :func:`check_selling`: another merchant's object answers 404
    before a suspended merchant hears 403.
    """
    merchant = staff_merchant(principal, name)
    check_selling(merchant, name)
    return merchant


def own(obj, merchant_id: int | None, what: str):
    """The merchant-scope rule: ``obj`` if it belongs to ``merchant_id``; else 404, never a hint."""
    if obj is None or merchant_id is None or obj.merchant_id != merchant_id:
        raise NotFound(f"No such {what}.")
    return obj


def redemption_paused(merchant) -> bool:
    """A suspended merchant's vouchers cannot be redeemed unless the admin kept them valid."""
    return merchant.status == "suspended" and not merchant.vouchers_valid_when_suspended


class Actor:
    """Who did it, for ``record_audit``: the account and its role."""

    def __init__(self, principal):
        self.id, self.role = principal.account_id, principal.role


def as_markdown() -> str:
    """The table as docs/permissions.md prints it."""
    lines = [
        "# Permissions",
        "",
        "Generated from `marketplace/permissions.py` by `python -m marketplace.permissions`;",
        "`tests/auth/test_permission_table.py` fails when this file and the table disagree.",
        "",
        "Every API route and page names one action; the roles marked ✓ may do it. No token: 401",
        "(pages: redirect to the login page). A role not marked: 403 `forbidden`.",
        "",
        "- **scope = merchant**: owners and clerks act for their own merchant only; another",
        "  merchant's objects answer 404, as if they did not exist.",
        "- **scope = org**: the city admin acts everywhere; a branch admin in the subtree of the",
        "  organisation it is bound to (a district admin: all branches under the district);",
        "  nodes and members outside it answer 404.",
        "- **selling**: the merchant must be approved; suspended: 403 `merchant_suspended`,",
        "  pending or rejected: 403 `merchant_not_active`. A suspended merchant may still read,",
        "  withdraw its sales and, when the admin kept its vouchers valid, redeem them.",
        "",
        "| action | " + " | ".join(ROLE_NAMES[r] for r in ROLES) + " | scope | selling | what |",
        "|---|" + "---|" * len(ROLES) + "---|---|---|",
    ]
    for name, rule in ACTIONS.items():
        marks = " | ".join("✓" if role in rule.roles else "" for role in ROLES)
        selling = "approved only" if rule.selling else ""
        lines.append(f"| `{name}` | {marks} | {rule.scope or ''} | {selling} | {rule.summary} |")
    lines += ["", "## Public endpoints (no login)", "", "| endpoint | why |", "|---|---|"]
    lines += [f"| `{endpoint}` | {why} |" for endpoint, why in sorted(PUBLIC.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(as_markdown(), end="")
