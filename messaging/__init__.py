"""Messages between the union organisations and their members (issue #16): announcements
(通知公告) to an audience, the member's inbox. The organisation tree is
:mod:`marketplace.orgs`; the design is in docs/messages.md."""


def init_app(app) -> None:
    from flask_babel import lazy_gettext as _l

    from marketplace.extensions import api
    from marketplace.navigation import Link, add_link

    from . import conversation_routes, notice_routes, notices, pages, routes

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
    add_link(app, "member", Link("messaging_pages.inbox", lambda: str(_l("Messages")),
                                 "nav-messages", ("member",), badge=_unread))  # fmt: skip
    add_link(app, "admin", Link("messaging_admin_pages.admin_list",
                                lambda: str(_l("Announcements")), "nav-announcements",
                                ("admin", "branch_admin")))  # fmt: skip
    add_link(app, "admin", Link("messaging_conv_pages.inbox",
                                lambda: str(_l("Conversations")), "nav-conversations",
                                ("admin", "branch_admin")))  # fmt: skip


def _unread() -> int | None:
    """The navigation badge: unread announcements and replies (none: no badge)."""
    from flask import g, request
    from flask_login import current_user

    from marketplace.auth.tokens import principal_for

    cached = request.environ.get("shihui.unread")  # once per request, however many navs
    if cached is None:
        principal = g.get("principal") or principal_for(current_user.account)
        cached = 0
        if principal.member_id:
            from . import badge

            cached = badge.count(principal)
        request.environ["shihui.unread"] = cached
    return cached or None
