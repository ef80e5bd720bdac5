"""Password reset through the union (issue #18): no SMS provider is reachable, so the member's
branch (or the city) admin issues a one-time code, and the member sets a new password with the
card number and that code.

- **Issued in scope.** A branch admin issues codes for the members of its subtree only (another
  branch's member answers 404, as if it did not exist); the city admin for everyone. Each issue is
  audit-logged (``account.reset_code_issued``: who, for whom, until when; never the code).
- **Short-lived, single use, stored hashed.** 8 digits, valid ``PASSWORD_RESET_CODE_TTL`` seconds
  (15 minutes); only an HMAC-SHA256 keyed with ``SECRET_KEY`` and the account id is stored. A
  newer code retires the older one; a code dies after ``MAX_CODE_FAILURES`` wrong tries; the
  consuming UPDATE is conditional, so two racing resets cannot both use it.
- **Rate-limited.** Tries per card and client address, per card, and per address
  (``ratelimit.RESET``, the login throttle's shape). Every refusal reads the same
  (``invalid_reset_code``): an unknown card, a wrong, expired or used code are not told apart.
- A successful reset bumps the account's token version: every session and token is logged out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..errors import Conflict, NotFound, Problem
from ..extensions import db
from ..models import record_audit, utcnow
from . import ratelimit
from .models import Account, PasswordResetCode
from .passwords import hash_password
from .services import check_password_policy, find_account
from .tokens import bump_token_version

DEFAULT_TTL_SECONDS = 900
MAX_CODE_FAILURES = 5
CODE_DIGITS = 8


class InvalidResetCode(Problem):
    def __init__(self):
        super().__init__(
            "The card number or reset code is wrong, or the code has expired or been used.",
            status=400,
            code="invalid_reset_code",
            title="Invalid reset code",
        )


def _ttl() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("PASSWORD_RESET_CODE_TTL") or
                                 DEFAULT_TTL_SECONDS))  # fmt: skip


def _digest(account_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{account_id}:{code}".encode(), hashlib.sha256).hexdigest()


def issue(member_id: int, scope, actor) -> tuple[str, PasswordResetCode]:
    """A new code for ``member_id``'s login, issued by ``actor`` managing ``scope`` (an Org, or
    None for the whole city). Returns the code in clear (shown once) and its row."""
    from ..members.models import Member
    from ..orgs.tree import subtree_ids

    stmt = select(Member).where(Member.id == member_id)
    if scope is not None:
        stmt = stmt.where(Member.org_id.in_(subtree_ids(scope)))
    member = db.session.scalar(stmt)
    if member is None:
        raise NotFound("No such member.")
    account = db.session.scalar(select(Account).where(Account.member_id == member.id))
    if account is None:
        raise Conflict(
            "This card has not been activated: the member activates it, no reset needed.",
            code="not_activated",
        )
    now = utcnow()
    # A newer code retires every older one still open.
    db.session.execute(
        update(PasswordResetCode)
        .where(PasswordResetCode.account_id == account.id, PasswordResetCode.used_at.is_(None),
               PasswordResetCode.expires_at > now)
        .values(expires_at=now)
    )  # fmt: skip
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = PasswordResetCode(account_id=account.id, code_hash=_digest(account.id, code),
                            issued_by=getattr(actor, "id", None), created_at=now,
                            expires_at=now + _ttl())  # fmt: skip
    db.session.add(row)
    db.session.flush()
    record_audit("account.reset_code_issued", "member", member.id, actor=actor,
                 data={"account_id": account.id, "expires_at": row.expires_at.isoformat(),
                       "scope_org_id": scope.id if scope is not None else None})  # fmt: skip
    db.session.commit()
    return code, row


def reset(card_no: str, code: str, new_password: str, client_ip: str | None) -> Account:
    """Set a new password with a card number and a reset code (400 ``invalid_reset_code``,
    422 for a weak password, 429 past the limits)."""
    card_no, code = (card_no or "").strip(), (code or "").strip().replace(" ", "")
    ratelimit.hit_or_raise("RESET_IP_LIMIT", client_ip or "unknown")
    ratelimit.RESET.before(card_no, client_ip)
    check_password_policy(new_password)
    account = find_account(card_no) if card_no else None
    now = utcnow()
    row = None
    if account is not None and account.role == "member" and account.is_active:
        row = db.session.scalar(
            select(PasswordResetCode)
            .where(PasswordResetCode.account_id == account.id,
                   PasswordResetCode.used_at.is_(None), PasswordResetCode.expires_at > now)
            .order_by(PasswordResetCode.id.desc())
            .limit(1)
        )  # fmt: skip
    expected = row.code_hash if row is not None else _digest(0, "-")
    matches = hmac.compare_digest(expected, _digest(account.id if account else 0, code))
    if row is None or not matches:
        ratelimit.RESET.failed(card_no, client_ip)
        if row is not None:
            row.failed_attempts += 1
            if row.failed_attempts >= MAX_CODE_FAILURES:
                row.expires_at = now  # guessed at too often: the admin issues a new one
            db.session.commit()
        raise InvalidResetCode()
    used = db.session.execute(
        update(PasswordResetCode)
        .where(PasswordResetCode.id == row.id, PasswordResetCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if not used:  # a racing reset took it first
        db.session.rollback()
        raise InvalidResetCode()
    account.password_hash = hash_password(new_password)
    record_audit("account.password_reset", "account", account.id, actor=account,
                 data={"reset_code_id": row.id})  # fmt: skip
    ratelimit.RESET.succeeded(card_no, client_ip)
    bump_token_version(account)  # commits; every older session and token is revoked
    return account
