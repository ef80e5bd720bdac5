"""The merchant portal (``/merchant/``) and the union admin console (``/admin/``): onboarding and
review, staff, sales pages, counter redemption, dashboards, exports and the audit log.

Pages and the JSON API call the same services with a :class:`~marketplace.auth.Principal`, so the
checks of the permission table (:mod:`marketplace.permissions`) hold for both
(docs/permissions.md).
"""


def init_app(app) -> None:
    """Register the API blueprints and the pages (the CLI is registered by shihui.cli)."""
    from marketplace.extensions import api

    from . import (
        admin_pages,
        catalogue_pages,  # noqa: F401  (adds its routes to merchant_pages.bp)
        coverage_pages,  # noqa: F401  (adds its routes to admin_pages.bp)
        merchant_pages,
        org_pages,  # noqa: F401  (adds its routes to admin_pages.bp)
        routes_admin,
        routes_merchant,
    )
    from .labels import HELPERS

    app.jinja_env.globals.update(HELPERS)  # codes as words on every page (labels.py)
    app.jinja_env.filters["region_label"] = HELPERS["region_label"]
    api.register_blueprint(routes_merchant.bp)
    api.register_blueprint(routes_admin.bp)
    app.register_blueprint(merchant_pages.bp)
    app.register_blueprint(admin_pages.bp)
    # Before the CSRF check reads the body (it is the first hook registered so far).
    app.before_request_funcs.setdefault(None, []).insert(0, admin_pages.allow_large_roster_uploads)
