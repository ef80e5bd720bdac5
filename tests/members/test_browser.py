"""Member pages in Chromium against gunicorn: activate, card with QR, English, log out."""

import re

import pytest
from playwright.sync_api import expect

from tests.members.helpers import PASSWORD, details, register


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN"}


def test_member_journey(page, live_server, app):
    with app.app_context():
        register(1)
    d = details(1)
    page.goto(live_server + "/m/")
    page.get_by_test_id("go-activate").click()
    for field in ("card_no", "name", "id_number", "phone"):
        page.get_by_test_id(field).fill(d[field])
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("confirm").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(re.compile(r"/m/card$"))
    expect(page.get_by_test_id("card-no")).to_have_text(d["card_no"])
    expect(page.get_by_test_id("card-status")).to_have_text("已激活")
    expect(page.get_by_test_id("card-qr")).to_be_visible()  # the changing code, an <img>
    assert page.get_by_test_id("card-qr").evaluate("i => i.complete && i.naturalWidth > 0")

    page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("card-status")).to_have_text("Active")
    expect(page.locator("h1")).to_have_text("My card")

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/m/$"))
    page.goto(live_server + "/m/card")
    expect(page).to_have_url(re.compile(r"/m/login"))

    page.get_by_test_id("username").fill(d["card_no"])
    page.get_by_test_id("password").fill("wrong-password")
    page.get_by_test_id("submit").click()
    expect(page.locator(".flash-error")).to_be_visible()
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(re.compile(r"/m/card$"))
    expect(page.get_by_test_id("card-no")).to_have_text(d["card_no"])
