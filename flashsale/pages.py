"""Member pages under /m/: sales with countdowns, the snap-up page, my vouchers (with QR codes).

The snap-up button calls the JSON API with a bearer token rendered into the page (the page is
``no-store``), so a claim from the browser takes the same SQL-free path as one from the app.
"""

from __future__ import annotations

import time

import segno
from flask import Blueprint, Response, abort, render_template
from flask_login import current_user
from markupsafe import Markup

from marketplace.auth import issue_token
from marketplace.auth.decorators import page_required
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.vouchercodes import CODE_RE

from . import services
from .models import Voucher
from .vouchers import display_status, own_vouchers

bp = Blueprint(
    "flashsale_pages", __name__, url_prefix="/m", template_folder="templates",
    static_folder="static", static_url_path="/flashsale-static",
)  # fmt: skip


def qr_svg(code: str) -> Markup:
    return Markup(segno.make(code, error="m").svg_inline(scale=5, border=2, title=code))  # noqa: S704


def _no_store(html: str) -> Response:
    response = Response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sales")
@page_required("sale.browse")
def sales():
    campaigns = services.with_remaining(
        list(db.session.scalars(services.visible_sales().limit(100)))
    )
    return render_template(
        "flashsale/sales.html", campaigns=campaigns, server_ms=int(time.time() * 1000),
        status_of=services.effective_status,
    )  # fmt: skip


@bp.get("/sales/<int:campaign_id>")
@page_required("sale.browse")
def sale(campaign_id: int):
    account = current_user.account
    campaign = services.published_sale(campaign_id)
    if campaign is None:
        abort(404)
    services.with_remaining([campaign])
    token = issue_token(account)["access_token"]
    html = render_template(
        "flashsale/sale.html", c=campaign, token=token, server_ms=int(time.time() * 1000),
        status=services.effective_status(campaign, remaining=campaign.live_remaining),
    )  # fmt: skip
    return _no_store(html)


@bp.get("/vouchers")
@page_required("voucher.own")
def my_vouchers():
    account = current_user.account
    items: list[Voucher] = list(db.session.scalars(own_vouchers(account.member_id).limit(100)))
    now = utcnow()
    return _no_store(
        render_template(
            "flashsale/vouchers.html",
            vouchers=items,
            qr=qr_svg,
            status_of=lambda v: display_status(v, now),
        )  # fmt: skip
    )


@bp.get("/qr/<code>.svg")
@page_required("voucher.qr")
def qr(code: str):
    """The QR of a voucher code the page already shows (before the voucher row exists)."""
    if not CODE_RE.match(code):
        abort(404)
    svg = segno.make(code, error="m").svg_inline(scale=5, border=2, title=code)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private"})
