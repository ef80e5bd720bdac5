"""Every main page satisfies the Content-Security-Policy in Chromium: member, merchant and admin
pages and the Swagger UI, with the demo data loaded, and the pages still work under it."""

import re

from playwright.sync_api import expect

from catalogue.models.groupbuys import GroupBuy
from flashsale.models import Campaign
from marketplace.extensions import db
from marketplace.members import importer
from marketplace.members.models import Card
from shihui.demo import load_demo

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""


class Watcher:
    """Console messages and securitypolicyviolation events about the CSP, per page load."""

    def __init__(self, page, base):
        self.page, self.base, self.console = page, base, []
        page.add_init_script(WATCH)
        page.on("console", self._console)

    def _console(self, msg):
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            self.console.append(msg.text)

    def visit(self, path):
        resp = self.page.goto(self.base + path, wait_until="load")
        assert resp.status == 200, (path, resp.status)
        assert "script-src 'self'" in resp.headers["content-security-policy"]
        return self.violations()

    def violations(self):
        self.page.wait_for_timeout(150)  # late events (fetches, timers) get reported too
        events = self.page.evaluate("window.__csp")
        found, self.console = events + self.console, []
        return found


def log_in(page, base, where, username, password):
    page.goto(f"{base}{where}")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("submit").click()
    page.wait_for_load_state("load")


def test_main_pages_raise_no_csp_violation(app_ctx, live_server, page):
    for _ in load_demo():
        pass
    sale = db.session.scalars(db.select(Campaign.id).order_by(Campaign.id)).first()
    deal = db.session.scalars(db.select(GroupBuy.id).order_by(GroupBuy.id)).first()
    card = db.session.scalars(db.select(Card.card_no).order_by(Card.id)).first()
    imp = importer.new_import("roster.csv", b"card_no\n")
    base, seen = live_server, Watcher(page, live_server)

    # the detector itself: an inline script is reported
    seen.visit("/")
    page.evaluate(
        "var s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.head.appendChild(s)"
    )
    assert seen.violations() and page.evaluate("window.__ran") is None

    pages = {
        None: [
            "/", "/m/login", "/m/activate", "/merchant/apply", "/merchant/login", "/admin/login",
        ],
        ("/m/login", "6222000000000017", "demo12345"): [
            "/m/", "/m/me", "/m/card", "/m/sales", f"/m/sales/{sale}", "/m/wallet",
            "/m/directory", "/m/groupbuys", f"/m/groupbuys/{deal}", "/m/my/groupbuys",
        ],
        ("/merchant/login", "owner_cinema", "merchant12345"): [
            "/merchant/", "/merchant/sales", "/merchant/counter", "/merchant/redemptions",
            "/merchant/offers", "/merchant/groupbuys", "/merchant/staff",
        ],
        ("/admin/login", "admin", "admin12345"): [
            "/admin/", "/admin/merchants?status=all", "/admin/sales", "/admin/imports",
            f"/admin/imports/{imp.id}", f"/admin/cards?card_no={card}", "/admin/audit",
        ],
    }  # fmt: skip
    problems = {}
    for login, paths in pages.items():
        if login:
            page.context.clear_cookies()
            log_in(page, base, *login)
        for path in paths:
            if found := seen.visit(path):
                problems[path] = found
    assert problems == {}

    # the countdown (moved out of an inline script) still ticks
    page.context.clear_cookies()
    log_in(page, base, "/m/login", "6222000000000017", "demo12345")
    seen.visit(f"/m/groupbuys/{deal}")
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^(\d+d )?\d\d:\d\d:\d\d$"))

    # data-confirm (it replaced onsubmit="return confirm(...)") still asks, and "no" keeps the card
    page.context.clear_cookies()
    log_in(page, base, "/admin/login", "admin", "admin12345")
    seen.visit(f"/admin/cards?card_no={card}")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_test_id("freeze").click()
    page.wait_for_timeout(300)
    assert asked and page.url.endswith(f"card_no={card}")
    assert seen.violations() == []

    # Swagger UI renders the API under the same policy
    assert seen.visit("/api/docs") == []
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Shihui API", timeout=15000)
    expect(page.locator(".opblock").first).to_be_visible()
    assert seen.violations() == []
