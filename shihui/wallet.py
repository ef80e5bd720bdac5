"""券包: every voucher a member holds in one place (issue #18 item 2).

Flash-sale and lottery tickets (``flashsale``) and group-buy vouchers (``catalogue``) are read
side by side and shown by state: 未使用 / 已使用 / 已过期 / 已取消, each with its QR (the picture is
drawn by ``/m/qr/<code>.svg``, which serves both code families: they share one format), its
expiry, a counter mode (big QR and code on white, the screen kept awake) and, where the sale
allows it, cancel. Service bookings carry no code and stay on the services pages. The shell owns
the page because it gathers two features; each keeps its own rules (a cancel goes through
``flashsale.vouchers.cancel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.auth.decorators import page_required
from marketplace.errors import Problem
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.vouchercodes import CODE_RE, normalise_code

bp = Blueprint("wallet", __name__, url_prefix="/m", template_folder="templates")

TABS = ("unused", "used", "expired", "cancelled")
STATE_TAB = {"issued": "unused", "redeemed": "used", "expired": "expired", "cancelled": "cancelled"}
LIMIT = 200  # per kind; a member holds a handful


@dataclass
class Item:
    kind: str  # "flash", "lottery" or "groupbuy"
    code: str
    title: str
    place: str
    status: str  # issued / redeemed / expired / cancelled (issued past its date reads expired)
    valid_from: datetime | None
    valid_until: datetime
    used_at: datetime | None
    cancel_deadline: datetime | None
    source_url: str
    got_at: datetime

    @property
    def tab(self) -> str:
        return STATE_TAB.get(self.status, "unused")

    @property
    def cancellable(self) -> bool:
        return (
            self.kind != "groupbuy"
            and self.status == "issued"
            and self.cancel_deadline is not None
            and utcnow() <= self.cancel_deadline
        )


def _status(status: str, valid_until: datetime, now: datetime) -> str:
    return "expired" if status == "issued" and now > valid_until else status


def _title(obj, english: bool) -> str:
    return obj.title_en if english and obj.title_en else obj.title


def items_of(member_id: int, locale: str, code: str | None = None) -> list[Item]:
    """The member's vouchers of every kind, newest first (one code only when ``code``)."""
    from catalogue.models import GroupBuyVoucher
    from flashsale.models import Voucher

    now, english = utcnow(), locale.startswith("en")
    flash_q = select(Voucher).where(Voucher.member_id == member_id)
    group_q = select(GroupBuyVoucher).where(GroupBuyVoucher.member_id == member_id)
    if code is not None:
        flash_q, group_q = (
            flash_q.where(Voucher.code == code),
            group_q.where(GroupBuyVoucher.code == code),
        )
    out = []
    for v in db.session.scalars(flash_q.order_by(Voucher.claimed_at.desc()).limit(LIMIT)):
        c = v.campaign
        out.append(Item(
            "lottery" if c.mode == "lottery" else "flash", v.code, _title(c, english),
            c.venue or c.merchant.display_name(locale), _status(v.status, v.valid_until, now),
            v.valid_from, v.valid_until, v.redeemed_at or v.cancelled_at, c.cancel_deadline,
            url_for("flashsale_pages.sale", campaign_id=c.id), v.claimed_at,
        ))  # fmt: skip
    for v in db.session.scalars(group_q.order_by(GroupBuyVoucher.issued_at.desc()).limit(LIMIT)):
        deal = v.groupbuy
        out.append(Item(
            "groupbuy", v.code, _title(deal, english), deal.merchant.display_name(locale),
            _status(v.status, v.valid_until, now), None, v.valid_until, v.redeemed_at, None,
            url_for("catalogue_pages.groupbuy", deal_id=deal.id), v.issued_at,
        ))  # fmt: skip
    out.sort(key=lambda item: item.got_at, reverse=True)
    return out


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "zh_CN")


def _own(code: str) -> Item | None:
    if not CODE_RE.match(normalise_code(code)):
        abort(404)
    found = items_of(g.principal.member_id, _locale(), normalise_code(code))
    return found[0] if found else None


@bp.get("/wallet")
@page_required("voucher.own")
def wallet():
    from flashsale import quotas

    tab = request.args.get("tab", "unused")
    if tab not in TABS:
        tab = "unused"
    items = items_of(g.principal.member_id, _locale())
    counts = {t: sum(1 for i in items if i.tab == t) for t in TABS}
    shown = [i for i in items if i.tab == tab]
    return render_template("member/wallet.html", tab=tab, tabs=TABS, counts=counts, items=shown,
                           bans=quotas.bans(g.principal.member_id))  # fmt: skip


@bp.get("/wallet/<code>")
@page_required("voucher.own")
def voucher(code: str):
    """One voucher with a big QR. A code just won may still be on its way from the outbox to
    SQL (tens of milliseconds, seconds if the drainer is down): the page says so and shows it."""
    item = _own(code)
    return render_template("member/voucher.html", item=item, code=normalise_code(code))


@bp.get("/wallet/<code>/counter")
@page_required("voucher.own")
def counter(code: str):
    """Counter mode: the QR as large as the screen allows and the code, black on white."""
    item = _own(code)
    if item is None or item.status != "issued":
        return redirect(url_for(".voucher", code=normalise_code(code)))
    return render_template("member/counter.html", item=item)


@bp.post("/wallet/<code>/cancel")
@page_required("voucher.own")
def cancel(code: str):
    from flashsale.vouchers import cancel as cancel_voucher

    item = _own(code)
    if item is None or item.kind == "groupbuy":
        abort(404)
    try:
        cancel_voucher(g.principal, item.code)
    except Problem as exc:
        messages = {
            "cancel_deadline_passed": _("The cancel deadline of this sale has passed."),
            "not_cancellable": _("This voucher can no longer be cancelled."),
        }
        flash(messages.get(exc.code, _("Something went wrong. Please try again.")), "error")
        return redirect(url_for(".voucher", code=item.code))
    flash(_("Voucher cancelled: the ticket goes back to the sale."), "success")
    return redirect(url_for(".wallet", tab="cancelled"))


@bp.get("/vouchers")
@page_required("voucher.own")
def legacy_vouchers():
    """我的券 became 券包: old links and bookmarks follow, permanently."""
    return redirect(url_for(".wallet"), code=301)
