"""Catalogue tables: merchant profiles, offers, favourites, group-buys and everything they own.

``marketplace/__init__.py`` lists this package in ``MODEL_MODULES``; importing it registers every
table with the shared metadata (and so with Alembic autogenerate).
"""

from .directory import Favourite, MerchantProfile, Offer
from .groupbuys import (
    GroupBuy,
    GroupBuyNotice,
    GroupBuyParticipant,
    GroupBuyTeam,
    GroupBuyVoucher,
)

__all__ = [
    "Favourite",
    "GroupBuy",
    "GroupBuyNotice",
    "GroupBuyParticipant",
    "GroupBuyTeam",
    "GroupBuyVoucher",
    "MerchantProfile",
    "Offer",
]
