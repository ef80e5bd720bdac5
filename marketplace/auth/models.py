"""Accounts: who can log in, with which role, and the version that revokes their tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import BigId, UTCDateTime, utcnow
from ..permissions import ROLES

__all__ = ["ROLES", "Account"]


class Account(db.Model):
    """A login. Members log in with their current card number (``username`` follows reissues)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    member_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("members.id"), unique=True, nullable=True
    )
    # Staff of a merchant (owners, clerks); the foreign key came in migration 0006.
    merchant_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("merchants.id"), index=True)
    # Branch admins: the union organisation whose subtree they manage (marketplace.orgs).
    org_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orgs.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    token_version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member | None] = relationship(lazy="select")  # noqa: F821

    __table_args__ = (
        CheckConstraint(
            "role IN ('member', 'merchant_owner', 'merchant_clerk', 'admin', 'branch_admin')",
            name="role",
        ),
        CheckConstraint("role <> 'branch_admin' OR org_id IS NOT NULL", name="branch_admin_org"),
    )

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.role} {self.username!r}>"


class PasswordResetCode(db.Model):
    """A one-time code a union admin issued so a member can set a new password (no SMS).

    Only an HMAC of the code is kept (``marketplace.auth.reset``); a code is used once, dies at
    ``expires_at`` or after too many wrong tries, and a newer code for the account retires it."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("accounts.id"), nullable=False, index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    issued_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
