"""Catalogue tables: merchant profiles, offers, favourites, group-buys and everything they own.

The application shell (``shihui.import_models``) imports this package; importing it registers
every table with the shared metadata (and so with Alembic autogenerate).
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
