"""Logging in, changing passwords, revoking, and creating staff accounts."""

from __future__ import annotations

from ..errors import Conflict, Problem, Unauthorized, ValidationFailed
from ..extensions import db
from ..models import record_audit, utcnow
from . import ratelimit
from .models import ROLES, Account
from .passwords import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password
from .tokens import bump_token_version, publish_version

INVALID_CREDENTIALS = "The username or password is incorrect."


def find_account(username: str) -> Account | None:
    return db.session.execute(
        db.select(Account).where(Account.username == username.strip())
    ).scalar_one_or_none()


def authenticate(username: str, password: str, client_ip: str | None) -> Account:
    """Check credentials under the per-address and per-account limits (429 when exceeded)."""
    username = username.strip()
    ratelimit.hit_or_raise("LOGIN_IP_LIMIT", client_ip or "unknown")
    ratelimit.LOGIN.before(username, client_ip)
    account = find_account(username)
    ok = verify_password(account.password_hash if account else None, password)
    if not ok or account is None or not account.is_active:
        ratelimit.LOGIN.failed(username, client_ip)
        raise Unauthorized(
            INVALID_CREDENTIALS, code="invalid_credentials", title="Invalid credentials"
        )
    ratelimit.LOGIN.succeeded(username, client_ip)
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = utcnow()
    db.session.commit()
    publish_version(account.id, account.token_version)  # Redis may have been flushed
    return account


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            errors={"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters."]}
        )


def change_password(account: Account, current: str, new: str) -> Account:
    if not verify_password(account.password_hash, current):
        raise Problem(
            "The current password is incorrect.",
            status=422,
            code="invalid_credentials",
            title="Invalid credentials",
        )
    check_password_policy(new)
    account.password_hash = hash_password(new)
    record_audit("account.password_changed", "account", account.id, actor=account)
    bump_token_version(account)  # commits; every older token and session is now revoked
    return account


def logout(account: Account) -> None:
    bump_token_version(account)


def create_account(
    username: str,
    password: str,
    role: str,
    *,
    merchant_id: int | None = None,
    member_id: int | None = None,
    org_id: int | None = None,
    actor=None,
) -> Account:
    if role not in ROLES:
        raise ValidationFailed(errors={"role": [f"One of {', '.join(ROLES)}."]})
    username = username.strip()
    if not username or len(username) > 64 or username.isdigit():
        # All-digit names are card numbers, which belong to members.
        raise ValidationFailed(errors={"username": ["1 to 64 characters, not only digits."]})
    if (role == "branch_admin") != (org_id is not None):
        raise ValidationFailed(
            errors={"org_id": ["A branch admin, and only one, is bound to an org."]}
        )
    check_password_policy(password)
    if find_account(username) is not None:
        raise Conflict(f"The username {username!r} is taken.", code="username_taken")
    account = Account(
        username=username,
        role=role,
        password_hash=hash_password(password),
        merchant_id=merchant_id,
        member_id=member_id,
        org_id=org_id,
    )
    db.session.add(account)
    db.session.flush()
    record_audit(
        "account.created", "account", account.id, actor=actor, data={"role": role, "org_id": org_id}
    )
    db.session.commit()
    publish_version(account.id, account.token_version)
    return account
