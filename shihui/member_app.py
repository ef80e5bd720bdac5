"""The member app's shell (issue #18): one home at ``/m/``, the 我的 page and the five tabs of the
bottom bar (首页 / 抢购 / 券包 / 消息 / 我的). The shell alone knows every feature, so it registers
the tabs (``marketplace.navigation``) and gathers what the home shows."""

from __future__ import annotations

from flask import Blueprint, Flask, g, render_template
from flask_babel import lazy_pgettext
from flask_login import current_user

from marketplace.auth.decorators import page_required
from marketplace.auth.tokens import principal_for
from marketplace.navigation import Link, add_link

bp = Blueprint("member_app", __name__, url_prefix="/m", template_folder="templates")

MEMBER = ("member",)


@bp.get("/")
def home():
    """The one member home: the landing page when logged out (or not a member), else the
    member's day: quick links, flash sales, popular group-buys, categories nearby."""
    if not current_user.is_authenticated or current_user.role != "member":
        return render_template("members/home.html")
    from catalogue.pages import home_context

    g.principal = principal_for(current_user.account)
    return render_template("member/home.html", **home_context(g.principal))


@bp.get("/me")
@page_required("account.self")
def me():
    """我的: the card, one's places and services, settings, log out."""
    account = current_user.account
    member = account.member if account.member_id else None
    card = member.current_card if member is not None else None
    return render_template("member/me.html", member=member, card=card)


def init_app(app: Flask) -> None:
    from . import wallet

    app.register_blueprint(bp)
    app.register_blueprint(wallet.bp)
    member_links = app.extensions.get("shihui.nav", {}).get("member", [])
    unread = next((link.badge for link in member_links
                   if link.endpoint == "messaging_pages.inbox"), None)  # fmt: skip
    tabs = (
        Link("member_app.home", lambda: str(lazy_pgettext("tab", "Home")), "home", MEMBER,
             prefixes=("/m/directory", "/m/merchants", "/m/offers", "/m/groupbuys")),
        Link("flashsale_pages.sales", lambda: str(lazy_pgettext("tab", "Deals")), "sales", MEMBER,
             prefixes=("/m/sales",)),
        Link("wallet.wallet", lambda: str(lazy_pgettext("tab", "Wallet")), "wallet", MEMBER,
             prefixes=("/m/wallet",)),
        Link("messaging_pages.inbox", lambda: str(lazy_pgettext("tab", "Messages")), "messages",
             MEMBER, badge=unread, prefixes=("/m/messages",)),
        Link("member_app.me", lambda: str(lazy_pgettext("tab", "Me")), "me", MEMBER,
             prefixes=("/m/me", "/m/card", "/m/my/", "/m/services")),
    )  # fmt: skip
    for tab in tabs:
        add_link(app, "tabs", tab)
