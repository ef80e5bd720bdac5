"""Admin console pages of the union organisation tree (``/admin/orgs``): the city admin edits it
and adds branch admins; a branch admin sees its own subtree and its members (ID numbers masked).
The rules are :mod:`marketplace.orgs`'; these pages only call them."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from marketplace import orgs
from marketplace.errors import Problem
from marketplace.orgs.routes import create_branch_admin, org_members, visible_orgs
from marketplace.pagination import page_arg
from marketplace.permissions import Actor
from marketplace.validation import form_id

from .admin_pages import admin_page, bp
from .forms import ActionForm
from .web import message

ORG_MESSAGES = {
    "org_name_taken": lambda: _("A sibling organisation already has this name."),
    "org_not_empty": lambda: _(
        "Only an empty organisation can be deleted (no sub-organisations, members or admins)."
    ),
    "bad_parent": lambda: _("A district hangs under the city, a branch under a district."),
}


def _problem(exc: Problem) -> str:
    return ORG_MESSAGES[exc.code]() if exc.code in ORG_MESSAGES else message(exc)


def _checked_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.get("/orgs")
@admin_page("org.view")
def org_tree():
    scope = orgs.scope_of(g.principal)
    return render_template("merchant_portal/admin/orgs.html", nodes=visible_orgs(scope))


def _edit(done: str, change):
    _checked_form()
    try:
        change()
        flash(done, "success")
    except Problem as exc:
        flash(_problem(exc), "error")
    return redirect(url_for("admin_pages.org_tree"))


@bp.post("/orgs")
@admin_page("org.manage")
def org_create():
    form = request.form
    return _edit(
        _("Organisation added."),
        lambda: orgs.create_org(
            form_id(form.get("parent_id")), form.get("kind", ""), form.get("name", "")
        ),
    )


@bp.post("/orgs/<int:org_id>/rename")
@admin_page("org.manage")
def org_rename(org_id: int):
    return _edit(
        _("Organisation renamed."),
        lambda: orgs.rename_org(orgs.tree.get_org(org_id), request.form.get("name", "")),
    )


@bp.post("/orgs/<int:org_id>/delete")
@admin_page("org.manage")
def org_delete(org_id: int):
    return _edit(_("Organisation deleted."), lambda: orgs.delete_org(orgs.tree.get_org(org_id)))


@bp.post("/branch-admins")
@admin_page("org.manage")
def branch_admin_create():
    form = request.form
    return _edit(
        _("Branch admin added."),
        lambda: create_branch_admin(
            form.get("username", ""),
            form.get("password", ""),
            form_id(form.get("org_id")) or 0,
            Actor(g.principal),
        ),
    )


@bp.get("/orgs/<int:org_id>/members")
@admin_page("org.members")
def org_members_page(org_id: int):
    scope = orgs.scope_of(g.principal)
    page = org_members(scope, org_id, page_arg(), 50)  # 404 outside the caller's subtree
    org = orgs.tree.get_org(org_id, within=scope)
    return render_template("merchant_portal/admin/org_members.html", org=org, page=page)
