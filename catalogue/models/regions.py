"""Region columns shared by offers and group-buys (flash sales keep their own JSON list).

``regions_key`` holds the region codes wrapped in commas (``",130102,130104,"``; empty = every
region of the item's city) so "open to region R" is ``regions_key LIKE '%,R,%'`` on any database.
``city`` is the city code of the merchant's region, fixed when the item is created.
"""

from __future__ import annotations

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column


class RegionsMixin:
    regions_key: Mapped[str] = mapped_column(String(700), nullable=False, default="")
    alliance: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    city: Mapped[str] = mapped_column(String(6), nullable=False)

    @property
    def regions(self) -> list[str]:
        return [r for r in self.regions_key.split(",") if r]

    @regions.setter
    def regions(self, codes) -> None:
        codes = sorted(set(codes or []))
        self.regions_key = f",{','.join(codes)}," if codes else ""
