"""The owner's clerks: add (the owner hands over a first password), list, remove.

A removed clerk's login is disabled and its token version bumped, so its tokens and sessions end
at once (within the 1 s version cache in other processes).
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace import permissions
from marketplace.auth.models import Account
from marketplace.auth.services import create_account
from marketplace.auth.tokens import bump_token_version
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.models import record_audit
from marketplace.permissions import Actor


def list_staff(principal) -> list[Account]:
    merchant = permissions.staff_merchant(principal, "staff.manage")
    return list(
        db.session.scalars(
            select(Account)
            .where(Account.merchant_id == merchant.id, Account.role == "merchant_clerk")
            .order_by(Account.is_active.desc(), Account.username)
        )
    )


def add_clerk(principal, username: str, password: str) -> Account:
    merchant = permissions.staff_merchant(principal, "staff.manage")
    account = create_account(username, password, "merchant_clerk", merchant_id=merchant.id,
                             actor=Actor(principal))  # fmt: skip
    record_audit("staff.add", "account", account.id, actor=Actor(principal),
                 merchant_id=merchant.id, data={"username": account.username})  # fmt: skip
    db.session.commit()
    return account


def remove_clerk(principal, account_id: int) -> Account:
    merchant = permissions.staff_merchant(principal, "staff.manage")
    account = permissions.own(db.session.get(Account, account_id), merchant.id, "clerk")
    if account.role != "merchant_clerk":
        raise NotFound("No such clerk.")  # the owner's own login is not a clerk to remove
    if not account.is_active:
        return account
    account.is_active = False
    record_audit("staff.remove", "account", account.id, actor=Actor(principal),
                 merchant_id=merchant.id, data={"username": account.username})  # fmt: skip
    bump_token_version(account)  # commits
    return account
