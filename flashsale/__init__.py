"""Flash sales: campaigns, the snap-up API, vouchers persisted through RQ, redemption, audit.

The claim path (docs/flashsale.md): the web process checks the token, a per-member budget and the
cached campaign metadata, then makes one call into the stock engine; the engine's outbox is
drained into SQL voucher rows by ``flashsale.jobs``.
"""


def init_app(app) -> None:
    """Register the API blueprints and the member pages."""
    from marketplace.extensions import api

    from . import (
        admin_pages,
        pages,
        routes_fairness,
        routes_lottery,
        routes_member,
        routes_merchant,
        routes_quota,
        routes_room,
    )
    from .memory import SaleMemoryCollector

    api.register_blueprint(routes_member.bp)
    api.register_blueprint(routes_merchant.bp)
    api.register_blueprint(routes_room.bp)
    api.register_blueprint(routes_lottery.bp)
    api.register_blueprint(routes_quota.bp)
    api.register_blueprint(routes_fairness.bp)
    app.register_blueprint(pages.bp)
    routes_member.init_fast_lane(app)
    routes_room.init_fast_lane(app)
    app.register_blueprint(admin_pages.bp)
    from flask_babel import lazy_gettext as _l

    from marketplace.navigation import Link, add_link

    label = lambda: str(_l("Quotas and no-shows"))  # noqa: E731
    add_link(app, "admin", Link("flashsale_admin_pages.rules", label, "nav-sale-rules", ("admin",)))
    from . import notices  # reminders and expiry notices through the messages feature

    notices.register(app)
    # Redis bytes per sale on /metrics, measured at scrape time (flashsale.memory).
    app.extensions.setdefault("metrics.collectors", []).append(SaleMemoryCollector())
