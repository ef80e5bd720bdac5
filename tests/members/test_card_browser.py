"""The card face in Chromium on a phone (390x844, zh-CN), issue #18 item 3: the face shows the
federation's mark, the masked number and the branch; the QR loads as an image and changes after
the step (3 s here, ``CARD_CODE_STEP_SECONDS``) without a reload; the counter mode fills the
screen; the code shown verifies at the merchant's counter page and an old one is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from marketplace.extensions import db
from marketplace.members.models import Card
from tests.conftest import gunicorn_server
from tests.flashsale.factories import make_merchant
from tests.members.helpers import PASSWORD, activated_member
from tests.merchant_portal.conftest import PASSWORD as CLERK_PASSWORD


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True)  # fmt: skip
    yield context.new_page()
    context.close()


def loaded(img) -> bool:
    return img.evaluate("i => i.complete && i.naturalWidth > 0")


def test_the_card_qr_changes_every_step_and_verifies_at_the_counter(app, app_config, client,
                                                                    phone, browser):  # fmt: skip
    with app.app_context():
        d, _ = activated_member(client, 1)
        make_merchant(clerk="clerk1")
        card_no = db.session.scalar(db.select(Card.card_no).where(Card.card_no == d["card_no"]))
    with gunicorn_server(app_config, CARD_CODE_STEP_SECONDS="3") as base:
        phone.goto(base + "/m/login")
        phone.get_by_test_id("username").fill(d["card_no"])
        phone.get_by_test_id("password").fill(PASSWORD)
        phone.get_by_test_id("submit").click()
        phone.goto(base + "/m/card")
        face = phone.get_by_test_id("card-face")
        expect(face).to_be_visible()
        expect(phone.get_by_test_id("card-no-masked")).to_have_text(
            f"{card_no[:4]} **** **** {card_no[-4:]}")  # fmt: skip
        expect(phone.get_by_test_id("card-federation")).to_have_text(re.compile(r"\S"))
        expect(phone.get_by_test_id("card-status")).to_have_text("已激活")
        assert phone.get_by_test_id("card-mark").evaluate("m => m.getBBox().width") > 0
        img = phone.get_by_test_id("card-qr")
        expect(img).to_be_visible()
        assert loaded(img)
        first, first_src = phone.get_by_test_id("card-code").inner_text(), img.get_attribute("src")
        first_step = int(phone.get_by_test_id("card-code-box").get_attribute("data-step"))
        phone.evaluate("window.__stay = 'same page'")
        expect(phone.get_by_test_id("card-code")).not_to_have_text(first, timeout=6000)
        assert img.get_attribute("src") != first_src and loaded(img)
        assert phone.evaluate("window.__stay") == "same page"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390

        phone.get_by_test_id("counter-mode").click()
        expect(phone.locator("body")).to_have_class(re.compile("counter-mode"))
        expect(phone.get_by_test_id("card-face")).to_be_hidden()
        box = img.bounding_box()
        assert box["width"] >= 300, box  # as large as the phone allows

        # the clerk logs in first: a code is good for its step and the next (6 s here)
        counter = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        clerk = counter.new_page()
        clerk.goto(base + "/merchant/login")
        clerk.get_by_test_id("username").fill("clerk1")
        clerk.get_by_test_id("password").fill(CLERK_PASSWORD)
        clerk.get_by_test_id("submit").click()
        clerk.goto(base + "/merchant/counter")
        clerk.get_by_test_id("code").fill(phone.get_by_test_id("card-code").inner_text())
        clerk.get_by_test_id("check").click()
        result = clerk.get_by_test_id("result")
        expect(result).to_have_attribute("data-result", "card")
        expect(clerk.get_by_test_id("card-name")).to_have_text(re.compile(r"^\S\*+\S?$"))
        expect(clerk.get_by_test_id("card-masked")).to_contain_text(card_no[-4:])
        assert card_no not in clerk.content()

        # the first code, once two steps have passed: refused as expired
        phone.wait_for_function(
            "s => Number(document.getElementById('cardcode').dataset.step) >= s",
            arg=first_step + 2, timeout=15000,
        )  # fmt: skip
        clerk.goto(base + "/merchant/counter")
        clerk.get_by_test_id("code").fill(first)
        clerk.get_by_test_id("check").click()
        expect(clerk.get_by_test_id("result")).to_have_attribute("data-result", "bad")
        expect(clerk.get_by_test_id("result")).to_contain_text("过期")
        counter.close()
