"""Navigation links that feature packages add to the shared page layouts.

The member layout (``members/_macros.html``) and the admin console's layout cannot name a
feature's pages (ground code and one feature's templates do not know the others), so a feature
registers its links here when its blueprints are registered, with an optional badge (the unread
count of the inbox, say), and the layouts loop over ``nav_links(area)``. A badge can be live: the
link names a ``live`` endpoint (JSON: the count, the real-time stream and its token) that
``marketplace/static/badge.js`` asks for the elements marked ``data-unread-badge``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g, url_for
from flask_login import current_user


@dataclass(frozen=True)
class Link:
    endpoint: str
    label: Callable[[], str]
    testid: str
    roles: tuple[str, ...]
    badge: Callable[[], int | None] | None = None
    live: str | None = None  # endpoint of the badge's live count (see badge_source)


def add_link(app: Flask, area: str, link: Link) -> None:
    """Show ``link`` in the ``area`` ("member" or "admin") navigation to ``link.roles``."""
    app.extensions.setdefault("shihui.nav", {}).setdefault(area, []).append(link)


def nav_links(area: str) -> list[tuple[str, str, str, int | None]]:
    """(url, label, test id, badge) of the links of ``area`` the current user may follow. On a
    page rendered once for many users (``g.shared_page``) badges are 0: the badge script fills
    in each viewer's own count."""
    if not current_user.is_authenticated:
        return []
    links = current_app.extensions.get("shihui.nav", {}).get(area, [])
    out = []
    shared = g.get("shared_page", False)  # rendered once for every user: nothing personal
    for link in links:
        if current_user.role in link.roles:
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


def register(app: Flask) -> None:
    app.jinja_env.globals["nav_links"] = nav_links
    app.jinja_env.globals["badge_source"] = badge_source
