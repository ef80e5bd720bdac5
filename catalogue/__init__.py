"""The member-facing catalogue: merchant directory, discount offers, group-buys, visibility.

``init_app`` registers the member and merchant APIs and the member pages; the deadline jobs live
in :mod:`.jobs` and are listed in ``shihui.scheduling.PERIODIC_JOBS``.
"""


def init_app(app) -> None:
    from marketplace.extensions import api

    from . import notices, pages, routes_member, routes_merchant

    api.register_blueprint(routes_member.bp)
    api.register_blueprint(routes_merchant.bp)
    app.register_blueprint(pages.bp)
    notices.register(app)  # "expires soon" for group-buy vouchers, through the messages feature
