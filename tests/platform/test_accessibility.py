"""Accessibility and screenshots of the main pages (issue #18 item 6).

With the demo data loaded and gunicorn serving it, Chromium opens the main member, merchant and
admin pages in zh-CN at a phone's 390x844 and at 1280x800 and runs axe-core (the engine bundled
in the ``axe-playwright-python`` wheel) on each: no violation of impact serious or critical may
remain. The same pass saves a PNG of each page at both sizes under ``SCREENSHOT_DIR``
(default ``build/screenshots``; CI keeps ``.ci/artifacts/screenshots``), named
``<role>-<page>-<phone|desktop>.png``. One browser context per role and size.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path
from statistics import median

import pytest
from axe_playwright_python.sync_playwright import Axe

from shihui.demo import load_demo
from tests.platform.demo_helpers import MEMBER, finished_import, member_holds_a_voucher

pytestmark = pytest.mark.browser  # it drives the browser fixture, not ``page``

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "is_mobile": True,
         "has_touch": True}  # fmt: skip
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
BLOCKING = ("serious", "critical")
# WCAG 2.1 A and AA plus axe's best practices (landmarks, heading order, …).
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },  # fmt: skip
}
LOGINS = {
    "member": ("/m/login", MEMBER, "demo12345"),
    "merchant": ("/merchant/login", "owner_cinema", "merchant12345"),
    "admin": ("/admin/login", "admin", "admin12345"),
}


def screenshot_dir() -> Path:
    where = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "build" / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def _pages(sale: int, code: str, imp: int) -> dict[str, list[tuple[str, str]]]:
    return {
        "member": [
            ("home", "/m/"), ("sales", "/m/sales"), ("sale", f"/m/sales/{sale}"),
            ("wallet", "/m/wallet"), ("voucher", f"/m/wallet/{code}"),
            ("voucher-counter", f"/m/wallet/{code}/counter"), ("card", "/m/card"),
            ("messages", "/m/messages"), ("me", "/m/me"),
        ],
        "merchant": [
            ("dashboard", "/merchant/"), ("sales", "/merchant/sales"),
            ("sale-form", "/merchant/sales/new"), ("counter", "/merchant/counter"),
            ("profile", "/merchant/profile"),
        ],
        "admin": [
            ("home", "/admin/"), ("merchants", "/admin/merchants?status=all"),
            ("imports", "/admin/imports"), ("import", f"/admin/imports/{imp}"),
            ("coverage", "/admin/coverage"), ("sale-rules", "/admin/sale-rules"),
            ("audit", "/admin/audit"),
        ],
    }  # fmt: skip


def _log_in(page, base: str, where: str, username: str, password: str) -> None:
    page.goto(base + where)
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("submit").click()
    page.wait_for_url(lambda url: not url.endswith(where))


def _open(page, url: str) -> None:
    resp = page.goto(url, wait_until="load")
    assert resp is not None and resp.status == 200, (url, resp and resp.status)


def blocking_violations(results: dict) -> list[str]:
    """One line per serious or critical violation: rule id, impact, the nodes' selectors."""
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}): "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:8])
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


def is_png(path: Path, width: int) -> bool:
    """A PNG of the given width and some content (not a blank few hundred bytes)."""
    if not path.is_file():
        return False
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return False
    w, h = struct.unpack(">II", head[16:24])
    return w == width and h >= 200 and path.stat().st_size > 5_000


def test_main_pages_have_no_serious_axe_violations_and_are_photographed(
    app_ctx, client, live_server, browser
):
    list(load_demo())
    sale, code = member_holds_a_voucher(client)
    shots, axe = screenshot_dir(), Axe()
    problems: dict[str, list[str]] = {}
    saved: list[tuple[Path, int]] = []
    timings: list[float] = []
    for role, paths in _pages(sale, code, finished_import()).items():
        phone = browser.new_context(**PHONE)
        # The desktop context takes the phone's cookies: one login per role.
        contexts = [("phone", phone)]
        try:
            _log_in(phone.new_page(), live_server, *LOGINS[role])
            desktop = browser.new_context(**DESKTOP, storage_state=phone.storage_state())
            contexts.append(("desktop", desktop))
            for size, context in contexts:
                page = context.pages[0] if context.pages else context.new_page()
                for name, path in paths:
                    started = time.monotonic()
                    _open(page, live_server + path)
                    found = blocking_violations(axe.run(page, options=AXE_OPTIONS).response)
                    if found:
                        problems[f"{role} {path} ({size})"] = found
                    target = shots / f"{role}-{name}-{size}.png"
                    page.screenshot(path=target, full_page=True)
                    saved.append((target, context_width(size)))
                    timings.append(time.monotonic() - started)
        finally:
            for _, context in contexts:
                context.close()
    print(f"\naxe and a screenshot on {len(timings)} pages: median {median(timings):.2f} s, "
          f"slowest {max(timings):.2f} s; {len(saved)} screenshots in {shots}")  # fmt: skip
    assert problems == {}, "serious or critical accessibility violations:\n" + "\n".join(
        f"{page}\n  " + "\n  ".join(lines) for page, lines in problems.items()
    )
    bad = [str(path) for path, width in saved if not is_png(path, width)]
    assert not bad, f"missing, blank or mis-sized screenshots: {bad}"


def context_width(size: str) -> int:
    return (PHONE if size == "phone" else DESKTOP)["viewport"]["width"]
