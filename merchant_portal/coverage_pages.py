"""Admin console pages of the union's own figures: member search (``/admin/members/search``) and
card coverage per district and branch (``/admin/coverage``, its chart and CSV). The city admin
sees the whole city, a branch admin its subtree (:func:`marketplace.orgs.scope_of`)."""

from __future__ import annotations

import re

import pygal
from flask import Response, g, render_template, request
from flask_babel import gettext as _

from marketplace import orgs
from marketplace.permissions import Actor

from . import coverage
from .admin_pages import admin_page, bp
from .stats import STYLE


@bp.route("/members/search", methods=["GET", "POST"])
@admin_page("member.search")
def member_search():
    # Posted, not in the query string: an ID number or phone must not land in access logs or
    # the browser history. (The CSRF check of every POST applies.)
    query = (request.form.get("q") or "").strip()[:50] if request.method == "POST" else ""
    kind, rows = (None, [])
    if query:
        kind, rows = coverage.search(query, orgs.scope_of(g.principal), Actor(g.principal))
    return render_template("merchant_portal/admin/member_search.html", q=query, kind=kind,
                           rows=rows, limit=coverage.MAX_RESULTS)  # fmt: skip


@bp.post("/members/<int:member_id>/reset-code")
@admin_page("member.reset_code")
def member_reset_code(member_id: int):
    """Issue a one-time password reset code for a member the admin found (and whose identity it
    checked in person or by phone): shown on this page once, never stored in clear."""
    from marketplace.auth import reset
    from marketplace.errors import Problem

    scope = orgs.scope_of(g.principal)
    try:
        code, row = reset.issue(member_id, scope, Actor(g.principal))
    except Problem as exc:
        if exc.status == 404:
            raise
        return render_template("merchant_portal/admin/reset_code.html", code=None,
                               error=exc.code), exc.status  # fmt: skip
    return render_template("merchant_portal/admin/reset_code.html", code=code, row=row, error=None)


@bp.get("/coverage")
@admin_page("coverage.view")
def coverage_page():
    scope = orgs.scope_of(g.principal)
    rows = coverage.coverage(scope)
    return render_template("merchant_portal/admin/coverage.html", rows=rows,
                           goal=coverage.target())  # fmt: skip


@bp.get("/coverage.csv")
@admin_page("coverage.view")
def coverage_csv():
    lang = "en" if request.args.get("lang") == "en" else "zh"
    rows = coverage.coverage(orgs.scope_of(g.principal))
    body = coverage.coverage_csv(rows, coverage.target(), lang)
    disposition = 'attachment; filename="coverage.csv"'
    return Response(
        body.encode("utf-8"), mimetype="text/csv", headers={"Content-Disposition": disposition}
    )


@bp.get("/coverage/trend.svg")
@admin_page("coverage.view")
def coverage_trend():
    scope = orgs.scope_of(g.principal)
    series = coverage.trend(scope)
    roster = coverage.roster_total(scope)
    chart = pygal.Line(
        style=STYLE, width=640, height=300, js=[], title=_("Activated cards, end of month"),
        no_data_text=_("No cards activated yet"), show_legend=True, legend_at_bottom=True,
        x_label_rotation=30, truncate_label=-1, truncate_legend=-1,
    )  # fmt: skip
    chart.x_labels = [month for month, _n in series]
    chart.add(_("Activated cards"), [n for _m, n in series])
    chart.add(_("Target"), [round(roster * coverage.target())] * len(series), show_dots=False)
    svg = re.sub(rb"<script.*?</script>", b"", chart.render(), flags=re.S)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-cache"})
