"""Navigation links that feature packages add to the shared page layouts.

The member layout (``members/_macros.html``) and the admin console's layout cannot name a
feature's pages (ground code and one feature's templates do not know the others), so a feature
registers its links here when its blueprints are registered, with an optional badge (the unread
count of the inbox, say), and the layouts loop over ``nav_links(area)``. A badge can be live: the
link names a ``live`` endpoint (JSON: the count, the real-time stream and its token) that
``marketplace/static/badge.js`` asks for the elements marked ``data-unread-badge``.

The member app's five tabs (首页 / 抢购 / 券包 / 消息 / 我的) are the area ``"tabs"``: the shell
registers them (it alone knows every feature); the member layout draws them as the bottom tab bar
on phones and as the top navigation on wider screens, on every page under ``/m/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g, request, url_for
from flask_login import current_user


@dataclass(frozen=True)
class Link:
    endpoint: str
    label: Callable[[], str]
    testid: str
    roles: tuple[str, ...]
    badge: Callable[[], int | None] | None = None
    live: str | None = None  # endpoint of the badge's live count (see badge_source)
    # Paths under which the link is the current one (a tab is highlighted on its pages).
    prefixes: tuple[str, ...] = ()


def add_link(app: Flask, area: str, link: Link) -> None:
    """Show ``link`` in the ``area`` ("member" or "admin") navigation to ``link.roles``."""
    app.extensions.setdefault("shihui.nav", {}).setdefault(area, []).append(link)


def nav_links(area: str) -> list[tuple[str, str, str, int | None]]:
    """(url, label, test id, badge) of the links of ``area`` the current user may follow. On a
    page rendered once for many users (``g.shared_page``) badges are 0: the badge script fills
    in each viewer's own count."""
    if not current_user.is_authenticated:
        return []
    registry = current_app.extensions.get("shihui.nav", {})
    links = registry.get(area, [])
    tabs = {t.endpoint for t in registry.get("tabs", [])} if area == "member" else set()
    out = []
    shared = g.get("shared_page", False)  # rendered once for every user: nothing personal
    for link in links:
        if current_user.role in link.roles and link.endpoint not in tabs:
            badge = (0 if shared else link.badge()) if link.badge else None
            out.append((url_for(link.endpoint), link.label(), link.testid, badge))
    return out


def badge_source() -> str:
    """URL of the live count of the current user's badges ("" when none): what the base
    layout's badge script asks. The same for every user of a role, so cached pages may carry it;
    the token and the count come from that private (no-store) endpoint, never from the HTML."""
    if not current_user.is_authenticated:
        return ""
    for links in current_app.extensions.get("shihui.nav", {}).values():
        for link in links:
            if link.live and current_user.role in link.roles:
                return url_for(link.live)
    return ""


def nav_tabs() -> list[dict]:
    """The member tabs the current user may follow: url, label, testid, badge, current."""
    if not current_user.is_authenticated:
        return []
    path = request.path
    shared = g.get("shared_page", False)  # rendered once for every user: nothing personal
    out = []
    for link in current_app.extensions.get("shihui.nav", {}).get("tabs", []):
        if current_user.role not in link.roles:
            continue
        url = url_for(link.endpoint)
        current = path == url or any(path.startswith(p) for p in link.prefixes)
        badge = (0 if shared else link.badge()) if link.badge else None
        out.append({"url": url, "label": link.label(), "testid": link.testid, "badge": badge,
                    "current": current, "has_badge": link.badge is not None})  # fmt: skip
    return out


def member_shell() -> bool:
    """Whether this page gets the member tab bar: a member's page under /m/."""
    return (
        request.path.startswith("/m/")
        and current_user.is_authenticated
        and current_user.role == "member"
    )


def register(app: Flask) -> None:
    app.jinja_env.globals["nav_links"] = nav_links
    app.jinja_env.globals["badge_source"] = badge_source
    app.jinja_env.globals["nav_tabs"] = nav_tabs
    app.jinja_env.globals["member_shell"] = member_shell
