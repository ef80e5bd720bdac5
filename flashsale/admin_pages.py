"""The admin's page for union rules across sales (``/admin/sale-rules``): quotas and no-show
rules per scope, the members barred now, and lifting a ban (docs/flashsale.md)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from marketplace.auth.decorators import page_required
from marketplace.errors import Problem
from marketplace.permissions import Actor

from . import quotas

bp = Blueprint("flashsale_admin_pages", __name__, url_prefix="/admin/sale-rules",
               template_folder="templates")  # fmt: skip
FIELDS = ("monthly_limit", "no_show_limit", "no_show_window_days", "ban_days")


def _why(exc: Problem) -> str:
    """The problem in words of the page's language (the API keeps its English ``detail``)."""
    words = {
        "validation_error": _("Numbers from 1 to 3650."),
        "incomplete_rule": _("Set both the no-shows that bar and the days barred, or neither."),
        "unknown_scope": _("No such scope."),
        "already_lifted": _("This ban was already lifted."),
        "sale_not_over": _("Publish the figures after the sale ended."),
        "no_sale_number": _("Give the sale's number."),
    }
    if exc.code == "not_found":
        return _("Not found.")
    return words.get(exc.code) or exc.detail or exc.code


def admin_page(action: str):
    return page_required(action, login="admin_pages.login")


@bp.get("")
@admin_page("sale.rules")
def rules():
    by_scope = {r.scope: r for r in quotas.rules()}
    return render_template("flashsale/admin_rules.html", scopes=quotas.SCOPES, rules=by_scope,
                           bans=quotas.bans())  # fmt: skip


def _number(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 3650:
        raise Problem("Numbers from 1 to 3650.", code="validation_error")
    return int(raw)


@bp.post("/<scope>")
@admin_page("sale.rules")
def save(scope: str):
    try:
        if request.form.get("delete"):  # whatever the row's boxes hold
            quotas.delete_rule(Actor(g.principal), scope)
            flash(_("Rule removed."), "success")
        else:
            values = {name: _number(name) for name in FIELDS}
            if values["no_show_window_days"] is None:
                values["no_show_window_days"] = 365
            quotas.set_rule(Actor(g.principal), scope, values)
            flash(_("Saved."), "success")
    except Problem as exc:
        flash(_("Not saved: %(why)s", why=_why(exc)), "error")
    return redirect(url_for(".rules"))


@bp.post("/bans/<int:ban_id>/lift")
@admin_page("sale.rules")
def lift(ban_id: int):
    reason = (request.form.get("reason") or "").strip()[:200]
    if not reason:
        flash(_("Say why the ban is lifted."), "error")
        return redirect(url_for(".rules"))
    try:
        quotas.lift(Actor(g.principal), ban_id, reason)
        flash(_("Ban lifted."), "success")
    except Problem as exc:
        flash(_("Not lifted: %(why)s", why=_why(exc)), "error")
    return redirect(url_for(".rules"))


@bp.post("/fairness")
@admin_page("sale.fairness")
def publish_fairness():
    from . import fairness

    raw = (request.form.get("campaign_id") or "").strip()
    try:
        if not raw.isdigit():
            raise Problem("Give the sale's number.", code="no_sale_number")
        fairness.publish(int(raw), Actor(g.principal))
    except Problem as exc:
        flash(_("Not published: %(why)s", why=_why(exc)), "error")
        return redirect(url_for(".rules"))
    return redirect(url_for("flashsale_pages.fairness_page", campaign_id=int(raw)))
