"""Union admin console under /admin/: merchant review, all sales with their audit status, roster
imports with live progress, card freeze and reissue, the audit log."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select

from marketplace.auth.decorators import page_required
from marketplace.errors import NotFound, Problem
from marketplace.extensions import db
from marketplace.members import importer, jobs
from marketplace.members import services as members
from marketplace.members.models import Member, MemberImport
from marketplace.merchants import STATUSES, Merchant
from marketplace.pagination import page_arg, paginate
from marketplace.permissions import Actor

from . import audit_log, console, labels, onboarding
from .forms import ActionForm, FreezeForm, ImportForm, ReasonForm, ReissueForm, SuspendForm
from .web import login_page, logout_page, message

bp = Blueprint("admin_pages", __name__, url_prefix="/admin", template_folder="templates")


def admin_page(action: str):
    """An admin console page for ``action`` of the permission table (no session: its login)."""
    return page_required(action, login="admin_pages.login")


def _actor() -> Actor:
    return Actor(g.principal)


@bp.route("/login", methods=["GET", "POST"])
def login():
    return login_page("console.enter", "merchant_portal/admin/login.html", "admin_pages.home")


@bp.post("/logout")
def logout():
    return logout_page("admin_pages.login")


@bp.get("/")
@admin_page("console.enter")
def home():
    if g.principal.role != "admin":  # a branch admin: its organisation pages only
        return render_template("merchant_portal/admin/home.html", counts={})
    counts = dict(db.session.execute(
        select(Merchant.status, func.count()).group_by(Merchant.status)).all())  # fmt: skip
    return render_template("merchant_portal/admin/home.html", counts=counts)


# --------------------------------------------------------------------------- merchants


@bp.get("/merchants")
@admin_page("merchant.view_any")
def merchants():
    status = request.args.get("status", "pending")
    if status not in STATUSES and status != "all":
        abort(404)
    result = paginate(onboarding.merchants_query(None if status == "all" else status),
                      page=page_arg(), per_page=50)  # fmt: skip
    return render_template("merchant_portal/admin/merchants.html", result=result, status=status,
                           statuses=STATUSES)  # fmt: skip


@bp.get("/merchants/<int:merchant_id>")
@admin_page("merchant.view_any")
def merchant(merchant_id: int):
    m = onboarding.get_merchant(merchant_id)
    events = db.session.scalars(audit_log.events_query(m.id).limit(20)).all()
    return render_template(
        "merchant_portal/admin/merchant.html", m=m, owner=onboarding.owner_of(m.id),
        reject_form=ReasonForm(prefix="reject"), suspend_form=SuspendForm(prefix="suspend"),
        events=audit_log.as_dicts(events),
    )  # fmt: skip


def _transition(merchant_id: int, action, done: str):
    try:
        action()
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(message(exc), "error")
    else:
        flash(done, "success")
    return redirect(url_for("admin_pages.merchant", merchant_id=merchant_id))


@bp.post("/merchants/<int:merchant_id>/approve")
@admin_page("merchant.review")
def approve(merchant_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    return _transition(merchant_id, lambda: onboarding.approve(g.principal, merchant_id),
                       _("Approved: the owner can log in now."))  # fmt: skip


@bp.post("/merchants/<int:merchant_id>/reject")
@admin_page("merchant.review")
def reject(merchant_id: int):
    form = ReasonForm(prefix="reject")
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Give a reason."), "error")
        return redirect(url_for("admin_pages.merchant", merchant_id=merchant_id))
    return _transition(merchant_id,
                       lambda: onboarding.reject(g.principal, merchant_id, form.reason.data),
                       _("The application is rejected."))  # fmt: skip


@bp.post("/merchants/<int:merchant_id>/suspend")
@admin_page("merchant.suspend")
def suspend(merchant_id: int):
    form = SuspendForm(prefix="suspend")
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Give a reason."), "error")
        return redirect(url_for("admin_pages.merchant", merchant_id=merchant_id))
    return _transition(
        merchant_id,
        lambda: onboarding.suspend(
            g.principal, merchant_id, form.reason.data, form.vouchers_valid.data
        ),  # fmt: skip
        _("The merchant is suspended; its sales stop taking claims."),
    )


@bp.post("/merchants/<int:merchant_id>/reinstate")
@admin_page("merchant.suspend")
def reinstate(merchant_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    return _transition(merchant_id, lambda: onboarding.reinstate(g.principal, merchant_id),
                       _("The suspension is lifted."))  # fmt: skip


# --------------------------------------------------------------------------- sales


@bp.get("/sales")
@admin_page("sale.view_any")
def sales():
    merchant_id = request.args.get("merchant_id", type=int)
    result = paginate(console.sales_query(merchant_id),
                      page=page_arg(), per_page=50)  # fmt: skip
    console.with_audits(result.items)
    return render_template("merchant_portal/admin/sales.html", result=result)


# --------------------------------------------------------------------------- imports


@bp.route("/imports", methods=["GET", "POST"])
@admin_page("member.import")
def imports():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read() if upload else b""
        if not data.strip():
            flash(_("Choose a roster CSV file."), "error")
        else:
            imp = importer.new_import(upload.filename or "roster.csv", data, created_by=_actor().id)
            jobs.store_upload(imp.id, data)
            jobs.enqueue_import(imp.id)
            return redirect(url_for("admin_pages.import_detail", import_id=imp.id))
    elif request.method == "POST":
        abort(400)
    items = db.session.scalars(console.imports_query().limit(50)).all()
    return render_template("merchant_portal/admin/imports.html", form=form, items=items,
                           progress=console.import_progress)  # fmt: skip


@bp.get("/imports/template.csv")
@admin_page("member.import")
def import_template():
    """A roster to fill in: the headers the importer reads and one example row."""
    return Response(
        importer.template_csv().encode("utf-8"), mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="roster-template.csv"'},
    )  # fmt: skip


def _import(import_id: int) -> MemberImport:
    imp = db.session.get(MemberImport, import_id)
    if imp is None:
        raise NotFound("No such import.")
    return imp


REJECTED_SHOWN = 100  # rows on the page; the CSV has them all


@bp.get("/imports/<int:import_id>")
@admin_page("member.import")
def import_detail(import_id: int):
    imp = _import(import_id)
    return render_template("merchant_portal/admin/import.html", imp=imp,
                           p=console.import_progress(imp),
                           reasons=console.import_reasons(imp),
                           rejected=console.rejected_rows(imp, REJECTED_SHOWN),
                           shown=REJECTED_SHOWN, describe=labels.import_reason,
                           failure=labels.import_failure,
                           columns=labels.ROSTER_COLUMNS)  # fmt: skip


@bp.get("/imports/<int:import_id>/progress.json")
@admin_page("member.import")
def import_progress(import_id: int):
    return jsonify(console.import_progress(_import(import_id)))


@bp.get("/imports/<int:import_id>/rejected.csv")
@admin_page("member.import")
def import_rejected(import_id: int):
    imp = _import(import_id)
    names = {"row_no": _("Row"), "code": _("Reason code"), "message": _("Reason"),
             **labels.ROSTER_COLUMNS}  # fmt: skip
    return Response(
        importer.rejected_csv(imp, labels.import_reason, names).encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{imp.id}-rejected.csv"'},
    )  # fmt: skip


# --------------------------------------------------------------------------- cards


@bp.get("/cards")
@admin_page("member.view")
def cards():
    card_no = (request.args.get("card_no") or "").strip()
    card = members.card_by_no(card_no) if card_no else None
    member = db.session.get(Member, card.member_id) if card else None
    freeze = FreezeForm(card_no=card_no)
    reissue = ReissueForm(member_id=member.id if member else None)
    return render_template("merchant_portal/admin/cards.html", card_no=card_no, card=card,
                           member=member, freeze=freeze, reissue=reissue)  # fmt: skip


@bp.post("/cards/freeze")
@admin_page("card.freeze")
def card_freeze():
    form = FreezeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        members.freeze_card(form.card_no.data.strip(), actor=_actor())
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(message(exc), "error")
    else:
        flash(_("The card is frozen; the holder is logged out everywhere."), "success")
    return redirect(url_for("admin_pages.cards", card_no=form.card_no.data.strip()))


@bp.post("/cards/reissue")
@admin_page("card.reissue")
def card_reissue():
    form = ReissueForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Please check the form."), "error")
        return redirect(url_for("admin_pages.cards"))
    try:
        card = members.reissue_card(form.member_id.data, form.new_card_no.data.strip(),
                                    actor=_actor())  # fmt: skip
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(getattr(exc, "detail", None) or message(exc), "error")
        return redirect(url_for("admin_pages.cards"))
    flash(_("New card %(no)s issued.", no=card.card_no), "success")
    return redirect(url_for("admin_pages.cards", card_no=card.card_no))


# --------------------------------------------------------------------------- audit log


@bp.get("/audit")
@admin_page("audit.view_any")
def audit():
    stmt = audit_log.events_query(request.args.get("merchant_id", type=int),
                                  request.args.get("subject") or None)  # fmt: skip
    result = paginate(stmt, page=page_arg(), per_page=50)
    return render_template("merchant_portal/audit.html", events=audit_log.as_dicts(result.items),
                           result=result, admin=True)  # fmt: skip


def allow_large_roster_uploads() -> None:
    """Roster files are larger than MAX_CONTENT_LENGTH; the CSRF check reads the body first, so
    the limit must be raised before it (this runs first among the app's before_request hooks)."""
    if request.method == "POST" and request.path == "/admin/imports":
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"]
