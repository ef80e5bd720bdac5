"""Fixtures shared by the messages tests: the flash-sale ones a claimed, drained voucher needs,
and the two browser pages the journeys use (a phone for members, a desktop for branch admins)."""

import pytest

from tests.flashsale.conftest import claim, drain  # noqa: F401


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True)  # fmt: skip
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    yield context.new_page()
    context.close()
