"""The organisation tree's table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import BigId, UTCDateTime, utcnow

KINDS = ("city", "district", "branch")


class Org(db.Model):
    """One node: the city federation (the root), a district/county union or a grassroots branch.

    ``path`` is the ids from the root down to this node, ``/1/5/23/``: the subtree of a node is
    every row whose path starts with its path, and its ancestors are the ids in its own path.
    """

    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orgs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    region: Mapped[str | None] = mapped_column(String(6))  # a district's region code
    path: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('city', 'district', 'branch')", name="kind"),
        UniqueConstraint("parent_id", "name", name="uq_orgs_parent_name"),
        Index("ix_orgs_path", "path"),
        Index("ix_orgs_region", "region"),
        # One city federation: the root.
        Index(
            "uq_orgs_one_city",
            "kind",
            unique=True,
            sqlite_where=text("kind = 'city'"),
            postgresql_where=text("kind = 'city'"),
        ),
    )

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def __repr__(self) -> str:
        return f"<Org {self.id} {self.kind} {self.name!r}>"
