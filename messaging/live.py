"""The live navigation badge on every page (issue #16): what ``marketplace/static/badge.js`` asks.

``GET /m/messages/live`` (members) and ``GET /admin/conversations/live`` (city and branch admins)
answer, for the logged-in session only, the badge's count, the real-time stream's URL and a token
for the caller's own channels, and how often to poll when the stream is down. The token is never
put into a page: member pages such as the sale pages are rendered once and served to every member
(flashsale/pages.py), so anything personal comes from here, ``no-store``. Without a session: 401
problem+json (never a redirect), so the script stops instead of following a login page.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from marketplace.auth.decorators import session_required

from . import badge, realtime
from .conversations import staff_waiting

bp = Blueprint("messaging_live", __name__)


def _answer(count: int):
    settings = realtime.page_settings(g.principal)
    response = jsonify(unread=count, url=settings["url"], token=settings["token"],
                       poll=settings["poll"])  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/m/messages/live")
@session_required("message.read")
def member():
    """The member's unread count (announcements, replies, notices) and their stream."""
    return _answer(badge.count(g.principal))


@bp.get("/admin/conversations/live")
@session_required("conversation.handle")
def admin():
    """Open conversations of the admin's subtree waiting for an answer, and the stream."""
    return _answer(staff_waiting(g.principal))
