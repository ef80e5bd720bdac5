"""Union services (issue #17): what an activated card gives a member besides shopping.

A hub of services that union admins configure as data (aid applications, covers, training
courses, appointments, job listings), applications with documents and a two-step review, funds
with a yearly budget that approvals commit against atomically, and payout batches for the bank.
See docs/unionservices.md. Members hear of each status change through :func:`notify.notify`.
"""


def init_app(app) -> None:
    from flask_babel import lazy_gettext as _l

    from marketplace.extensions import api
    from marketplace.navigation import Link, add_link

    from . import admin_pages, covers, pages, routes  # noqa: F401  (covers: enrol on activation)

    api.register_blueprint(routes.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin_pages.bp)
    # Members find the hub from every page's navigation, like their messages.
    add_link(app, "member", Link("unionservices_pages.hub", lambda: str(_l("Union services")),
                                 "nav-services", ("member",)))  # fmt: skip
    app.config.setdefault("SERVICE_DOC_MAX_BYTES", 5 * 1024 * 1024)
    # Before the CSRF check reads a page's multipart body under the global limit.
    app.before_request_funcs.setdefault(None, []).insert(0, pages.allow_document_uploads)
