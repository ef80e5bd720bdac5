"""Fixtures shared with the flash-sale tests (a claimed, drained voucher needs them)."""

from tests.flashsale.conftest import claim, drain  # noqa: F401
