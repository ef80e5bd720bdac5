"""Messages between the union organisations and their members (issue #16): announcements
(通知公告) to an audience, the member's inbox. The organisation tree is
:mod:`marketplace.orgs`; the design is in docs/messages.md."""


def init_app(app) -> None:
    from flask_babel import lazy_gettext as _l

    from marketplace.extensions import api
    from marketplace.navigation import Link, add_link

    from . import conversation_routes, live, notice_routes, notices, pages, routes

    api.register_blueprint(routes.admin_bp)
    api.register_blueprint(routes.member_bp)
    api.register_blueprint(conversation_routes.member_bp)
    api.register_blueprint(conversation_routes.admin_bp)
    api.register_blueprint(notice_routes.member_bp)
    api.register_blueprint(notice_routes.admin_bp)
    notices.connect(app)
    app.register_blueprint(pages.member_pages)
    app.register_blueprint(pages.admin_pages)
    app.register_blueprint(pages.conv_pages)
    app.register_blueprint(live.bp)
    add_link(app, "member", Link("messaging_pages.inbox", lambda: str(_l("Messages")),
                                 "nav-messages", ("member",), badge=_unread,
                                 live="messaging_live.member"))  # fmt: skip
    add_link(app, "admin", Link("messaging_admin_pages.admin_list",
                                lambda: str(_l("Announcements")), "nav-announcements",
                                ("admin", "branch_admin")))  # fmt: skip
    add_link(app, "admin", Link("messaging_conv_pages.inbox",
                                lambda: str(_l("Conversations")), "nav-conversations",
                                ("admin", "branch_admin"), badge=_waiting,
                                live="messaging_live.admin"))  # fmt: skip


def _principal():
    from flask import g
    from flask_login import current_user

    from marketplace.auth.tokens import principal_for

    return g.get("principal") or principal_for(current_user.account)


def _unread() -> int:
    """The member's navigation badge: unread announcements, replies and notices (0: hidden)."""
    from flask import request

    cached = request.environ.get("shihui.unread")  # once per request, however many navs
    if cached is None:
        principal = _principal()
        cached = 0
        if principal.member_id:
            from . import badge

            cached = badge.count(principal)
        request.environ["shihui.unread"] = cached
    return cached


def _waiting() -> int:
    """The admins' navigation badge: open conversations of their subtree with unseen messages."""
    from flask import request

    cached = request.environ.get("shihui.waiting")
    if cached is None:
        from .conversations import staff_waiting

        cached = request.environ["shihui.waiting"] = staff_waiting(_principal())
    return cached
