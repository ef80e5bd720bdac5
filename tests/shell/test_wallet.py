"""券包 through the test client: one list of every kind by state, the old URL, the detail and
counter pages, cancel (and who may not)."""

import re

from flashsale.models import Voucher
from marketplace.extensions import db
from tests.catalogue.factories import login

from .data import wallet


def _html(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True)


def test_every_voucher_is_in_one_wallet_by_state(client, app_ctx):
    w = wallet(client)
    login(client, w.card_no)
    unused = _html(client, "/m/wallet")
    assert f'data-testid="voucher-{w.unused}"' in unused
    assert f'data-testid="voucher-{w.groupbuy}"' in unused  # group-buy vouchers live here too
    assert f'src="/m/qr/{w.groupbuy}.svg"' in unused  # ... with a QR
    assert w.used not in unused and w.expired not in unused
    assert w.used in _html(client, "/m/wallet?tab=used")
    assert w.expired in _html(client, "/m/wallet?tab=expired")
    assert w.unused not in _html(client, "/m/wallet?tab=cancelled")
    assert "wallet-tab-unused" in _html(client, "/m/wallet?tab=nonsense")


def test_old_voucher_and_home_urls_redirect_permanently(client, app_ctx):
    w = wallet(client)
    login(client, w.card_no)
    for old, new in (("/m/vouchers", "/m/wallet"), ("/m/home", "/m/")):
        resp = client.get(old)
        assert resp.status_code == 301 and resp.headers["Location"].endswith(new), old


def _status(code):
    db.session.expire_all()
    return db.session.scalars(db.select(Voucher.status).where(Voucher.code == code)).one()


def _csrf(html):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_cancel_with_the_sales_deadline(client, app_ctx):
    w = wallet(client)
    login(client, w.card_no)
    detail = _html(client, f"/m/wallet/{w.unused}")
    assert 'data-testid="cancel-voucher"' in detail and "data-confirm=" in detail
    assert 'data-testid="counter-mode"' in detail
    assert 'data-testid="cancel-voucher"' not in _html(client, f"/m/wallet/{w.groupbuy}")
    assert 'data-testid="cancel-voucher"' not in _html(client, f"/m/wallet/{w.used}")
    resp = client.post(f"/m/wallet/{w.unused}/cancel", data={"csrf_token": _csrf(detail)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/m/wallet?tab=cancelled")
    assert _status(w.unused) == "cancelled"
    assert w.unused in _html(client, "/m/wallet?tab=cancelled")
    # A used voucher cannot be cancelled: the flash-sale rule answers, the page says why.
    resp = client.post(f"/m/wallet/{w.used}/cancel", data={"csrf_token": _csrf(detail)})
    assert resp.status_code == 302 and _status(w.used) == "redeemed"
    # A group-buy voucher has no cancel.
    resp = client.post(f"/m/wallet/{w.groupbuy}/cancel", data={"csrf_token": _csrf(detail)})
    assert resp.status_code == 404


def test_nobody_cancels_someone_elses_voucher(client, app_ctx):
    w = wallet(client)
    other = wallet(client)
    login(client, other.card_no)
    html = _html(client, f"/m/wallet/{w.unused}")
    assert 'data-testid="voucher-pending"' in html  # not theirs: nothing about it is shown
    assert "cancel-voucher" not in html and w.unused not in _html(client, "/m/wallet")
    resp = client.post(f"/m/wallet/{w.unused}/cancel", data={"csrf_token": _csrf(html)})
    assert resp.status_code == 404 and _status(w.unused) == "issued"


def test_counter_mode_only_for_a_usable_voucher(client, app_ctx):
    w = wallet(client)
    login(client, w.card_no)
    counter = _html(client, f"/m/wallet/{w.groupbuy}/counter")
    assert "data-wake-lock" in counter and f"/m/qr/{w.groupbuy}.svg" in counter
    resp = client.get(f"/m/wallet/{w.used}/counter")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/m/wallet/{w.used}")


def test_wallet_pages_are_for_members(client, app_ctx):
    for url in ("/m/wallet", "/m/me", "/m/wallet/0000000000000000"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/m/login" in resp.headers["Location"], url
