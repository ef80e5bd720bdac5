"""Member pages under /m/: sales with countdowns, the snap-up page, voucher QR pictures (the
vouchers themselves are listed in the shell's 券包, shihui/wallet.py).

The snap-up button calls the JSON API with a bearer token rendered into the page (the page is
``no-store``), so a claim from the browser takes the same SQL-free path as one from the app.

The two sale pages are rendered at most once per ``FLASHSALE_POLL_TTL`` per process, locale and
URL (the remaining stock in them is as fresh as the API's); the server's clock and the sale page's
token are put into the cached HTML per response. A request with flashed messages is rendered
afresh. No ETag: the page carries the clock, and a 304 would restart a countdown from an old one.
"""

from __future__ import annotations

import io
import time

import segno
from flask import Blueprint, Response, abort, current_app, g, render_template, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from marketplace.auth import issue_token
from marketplace.auth.decorators import page_required
from marketplace.extensions import db
from marketplace.vouchercodes import CODE_RE

from . import lottery, services
from .models import LotteryDraw, SaleFairness
from .settings import setting

bp = Blueprint(
    "flashsale_pages", __name__, url_prefix="/m", template_folder="templates",
    static_folder="static", static_url_path="/flashsale-static",
)  # fmt: skip


def _no_store(html: str) -> Response:
    response = Response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


# Marks where the per-response parts go in a cached page. Replaced with their attribute's quotes,
# which autoescaped text (a sale's title, say) can never contain.
SERVER_MS, TOKEN, OWNED = "0sErVeRmS0", "tOkEnMaRk", "oWnEdMaRk"
_AT_MS, _AT_TOKEN = f'data-server-ms="{SERVER_MS}"', f'data-token="{TOKEN}"'
_AT_OWNED = f'data-owned="{OWNED}"'


def _now_ms(html: str) -> str:
    return html.replace(_AT_MS, f'data-server-ms="{int(time.time() * 1000)}"')


MAX_PAGES = 2048


def _cached_page(render) -> str:
    """``render()`` (with SERVER_MS / TOKEN marks) at most once per TTL per locale and URL."""
    if session.get("_flashes"):
        return render()  # a one-off message belongs to this response only
    cache = current_app.extensions.setdefault("flashsale.pages", {})
    key = (str(get_locale()), request.full_path)
    now = time.monotonic()
    hit = cache.get(key)
    if hit is None or hit[0] <= now:
        if len(cache) >= MAX_PAGES:
            cache.clear()
        g.shared_page = True  # served to every member: no one's badge count in it
        try:
            hit = cache[key] = (now + float(setting("FLASHSALE_POLL_TTL")), render())
        finally:
            g.shared_page = False
    return hit[1]


@bp.get("/sales")
@page_required("sale.browse")
def sales():
    def render():
        campaigns = services.with_remaining(
            list(db.session.scalars(services.visible_sales().limit(100)))
        )
        return render_template(
            "flashsale/sales.html", campaigns=campaigns, server_ms=SERVER_MS,
            status_of=services.effective_status,
        )  # fmt: skip

    html = _now_ms(_cached_page(render))
    return Response(html, headers={"Cache-Control": "private, no-cache"})


@bp.get("/sales/<int:campaign_id>")
@page_required("sale.browse")
def sale(campaign_id: int):
    account = current_user.account

    def render():
        campaign = services.published_sale(campaign_id)
        if campaign is None:
            abort(404)
        services.with_remaining([campaign])
        draw = db.session.get(LotteryDraw, campaign.id) if campaign.mode == "lottery" else None
        return render_template(
            "flashsale/sale.html", c=campaign, token=TOKEN, server_ms=SERVER_MS, owned=OWNED,
            draw=draw and lottery.public(draw),
            status=services.effective_status(campaign, remaining=campaign.live_remaining),
        )  # fmt: skip

    token = issue_token(account)["access_token"]
    html = _now_ms(_cached_page(render)).replace(_AT_TOKEN, f'data-token="{token}"')
    return _no_store(html.replace(_AT_OWNED, f'data-owned="{_tickets_held(campaign_id, account)}"'))


def _tickets_held(campaign_id: int, account) -> int:
    """The member's tickets of this sale now, from the live pool (one HGET, no SQL: the page is
    opened by everyone at the surge), so a member who won on another phone is not offered the
    button again. 0 when Redis cannot say: the claim itself still refuses a second ticket."""
    from redis.exceptions import RedisError

    from .hotpath import get_engine

    if account.member_id is None:
        return 0
    try:
        return get_engine().member_count(str(campaign_id), str(account.member_id))
    except RedisError:
        return 0


@bp.get("/sales/<int:campaign_id>/fairness")
@page_required("sale.browse")
def fairness_page(campaign_id: int):
    """The fairness figures the union published for a sale, with two pygal charts."""
    from . import fairness

    row = db.session.get(SaleFairness, campaign_id)
    if row is None:
        abort(404)
    figures = row.figures
    # pygal escapes the labels (branch names) it writes into the SVG.
    charts = {key: Markup(fairness.chart_svg(figures, label, key)) for key, label in (  # noqa: S704
        ("by_branch", _("Win rate by branch (%)")),
        ("by_prior_wins", _("Win rate by tickets won before (%)")),
    )}  # fmt: skip
    return render_template("flashsale/fairness.html", f=figures, row=row, charts=charts,
                           campaign=row.campaign)  # fmt: skip


@bp.get("/qr/<code>.svg")
@page_required("voucher.qr")
def qr(code: str):
    """The QR of a voucher code the page already shows (before the voucher row exists)."""
    if not CODE_RE.match(code):
        abort(404)
    # A standalone SVG document needs its namespace (``svg_inline`` leaves it out, which is right
    # inside HTML): without it an <img> cannot decode it and shows the alt text.
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="svg", scale=5, border=2, title=code, xmldecl=False)
    return Response(out.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "private"})
