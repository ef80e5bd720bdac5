"""A sale day: most members browse, a crowd rushes the sale, clerks redeem at counters."""

from loadtests.locustfiles.browse import BrowsingMember
from loadtests.locustfiles.flash_rush import RushingMember


class Browser(BrowsingMember):
    weight = 3


class Rusher(RushingMember):
    weight = 7


__all__ = ["Browser", "Rusher"]
