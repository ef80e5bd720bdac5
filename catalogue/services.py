"""The catalogue's public face for other features (the merchant portal's pages and counter).

Other features import this module and ``catalogue.models`` only; the import contracts in
``pyproject.toml`` fail CI on any other edge into the catalogue's internals.
"""

from __future__ import annotations

from .directory import create_offer, merchant_offers, own_offer, update_offer, update_profile
from .groupbuy_admin import (
    create_groupbuy,
    merchant_groupbuys,
    merchant_voucher,
    own_groupbuy,
    participants,
    redeem_voucher,
)
from .states import cancel_deal

__all__ = [
    "cancel_deal",
    "create_groupbuy",
    "create_offer",
    "merchant_groupbuys",
    "merchant_offers",
    "merchant_voucher",
    "own_groupbuy",
    "own_offer",
    "participants",
    "redeem_voucher",
    "update_offer",
    "update_profile",
]
