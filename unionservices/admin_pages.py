"""Union admin pages: services (configure), the review queue and decisions, funds with their
chart and payout batches. Under /admin/services and /admin/funds, logged in through the admin
console's login page."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from marketplace import permissions
from marketplace.auth.decorators import page_required
from marketplace.errors import Problem

from . import applications, catalog, covers, funds, jobboard, payouts, review, seats
from .pages import CsrfForm, reason_text
from .routes import file_response
from .schemas import FundInSchema, JobInSchema, ServiceInSchema, SlotInSchema

bp = Blueprint("unionservices_admin", __name__, url_prefix="/admin", template_folder="templates")


def admin_page(action: str):
    return page_required(action, login="admin_pages.login")


def _lines(name: str) -> list[str]:
    return [line.strip() for line in request.form.get(name, "").splitlines() if line.strip()]


def _cents(text: str):
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        return round(float(text) * 100)
    except ValueError:
        return -1


def service_form_data() -> dict:
    """The service form as ServiceInSchema input: one rule per field, lists one per line
    (levels as ``level=amount in yuan``, fields as ``name|label|required``)."""
    levels = {}
    for line in _lines("levels"):
        name, _sep, amount = line.partition("=")
        levels[name.strip()] = _cents(amount)
    specs = []
    for line in _lines("fields"):
        parts = [p.strip() for p in line.split("|")]
        specs.append(
            {
                "name": parts[0],
                "label": parts[1] if len(parts) > 1 else parts[0],
                "required": len(parts) > 2 and parts[2] in ("required", "1", "y"),
            }
        )
    f = request.form
    return {
        "kind": f.get("kind", ""), "title": f.get("title", ""),
        "title_en": f.get("title_en") or None, "description": f.get("description", ""),
        "status": f.get("status", "open"),
        "fund_id": int(f["fund_id"]) if f.get("fund_id", "").isdigit() else None,
        "max_amount_cents": _cents(f.get("max_amount", "")),
        "rules": {"active_card": bool(f.get("active_card")),
                  "min_months": int(f["min_months"]) if f.get("min_months", "").isdigit() else 0,
                  "regions": [r.strip() for r in f.get("regions", "").replace("，", ",").split(",")
                              if r.strip()],
                  "levels": levels, "one_award_per_level": bool(f.get("one_award_per_level"))},
        "fields": specs, "prepare": _lines("prepare"),
    }  # fmt: skip


@bp.route("/services", methods=["GET", "POST"])
@admin_page("service.manage")
def services():
    errors, status = None, 200
    if request.method == "POST":
        if not CsrfForm().validate_on_submit():
            abort(400)
        try:
            data = ServiceInSchema().load(service_form_data())
            service = catalog.create(g.principal, data)
        except ValidationError as exc:
            errors, status = exc.messages, 422
        except Problem as exc:
            errors, status = {"fund_id": [reason_text(exc.code)]}, exc.status
        else:
            flash(_("Service %(t)s created.", t=service.title), "success")
            return redirect(url_for(".services"))
    return render_template("unionservices/admin_services.html", services=catalog.all_services(),
                           funds=catalog.all_funds(), form=CsrfForm(), errors=errors,
                           values=request.form), status  # fmt: skip


@bp.get("/services/reviews")
@admin_page("service.review")
def queue():
    step = request.args.get("step") if request.args.get("step") in ("branch", "city") else None
    return render_template("unionservices/admin_queue.html", step=step,
                           items=applications.queue(g.principal, step),
                           hours=applications.waiting_hours)  # fmt: skip


@bp.get("/services/applications/<int:application_id>")
@admin_page("service.review")
def application(application_id: int, status: int = 200, error=None):
    app = applications.for_reviewer(g.principal, application_id)
    step = review.STEP_OF_STATUS.get(app.status)  # a branch admin sees no city decision form
    can_decide = step is not None and review.can_review(g.principal, app, step)
    return render_template("unionservices/application.html", app=app, form=CsrfForm(),
                           reviewer=True, can_decide=can_decide, error=error, submitted=None,
                           max_kb=0), status  # fmt: skip


@bp.post("/services/applications/<int:application_id>/decision")
@admin_page("service.review")
def decide(application_id: int):
    applications.for_reviewer(g.principal, application_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    amount = _cents(request.form.get("amount", ""))
    try:
        applications.decide(g.principal, application_id, request.form.get("decision", ""),
                            reason=request.form.get("reason"),
                            amount_cents=amount)  # fmt: skip
    except Problem as exc:
        return application(application_id, exc.status, exc.code)
    flash(_("Decision recorded."), "success")
    return redirect(url_for(".queue"))


@bp.get("/services/applications/<int:application_id>/documents/<int:document_id>")
@admin_page("service.document")
def document(application_id: int, document_id: int):
    doc, data = applications.document_for(g.principal, application_id, document_id)
    return file_response(doc, data)


@bp.route("/funds", methods=["GET", "POST"])
@admin_page("fund.view")
def fund_list():
    errors, status = None, 200
    if request.method == "POST":
        from marketplace.permissions import allows

        if not allows(g.principal.role, "service.manage"):
            abort(403)
        if not CsrfForm().validate_on_submit():
            abort(400)
        f = request.form
        raw = {"name": f.get("name", ""), "note": f.get("note", ""),
               "year": int(f["year"]) if f.get("year", "").isdigit() else None,
               "budget_cents": _cents(f.get("budget", ""))}  # fmt: skip
        try:
            fund = catalog.create_fund(g.principal, FundInSchema().load(raw))
        except ValidationError as exc:
            errors, status = exc.messages, 422
        except Problem as exc:
            errors, status = {"name": [exc.detail]}, exc.status
        else:
            return redirect(url_for(".fund", fund_id=fund.id))
    return render_template(
        "unionservices/admin_funds.html",
        funds=catalog.all_funds(),
        form=CsrfForm(),
        errors=errors,
        values=request.form,
    ), status


@bp.get("/funds/<int:fund_id>")
@admin_page("fund.view")
def fund(fund_id: int):
    return render_template("unionservices/admin_fund.html", fund=funds.get(fund_id),
                           batches=payouts.for_fund(fund_id), form=CsrfForm())  # fmt: skip


@bp.get("/funds/<int:fund_id>/chart.svg")
@admin_page("fund.view")
def fund_chart(fund_id: int):
    labels = {"title": _("Budget, committed and paid (yuan)"), "budget": _("Budget"),
              "committed": _("Committed"), "paid": _("Paid")}  # fmt: skip
    return Response(funds.chart_svg(funds.get(fund_id), labels), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


@bp.post("/funds/<int:fund_id>/payout-batches")
@admin_page("fund.payout")
def export(fund_id: int):
    if not CsrfForm().validate_on_submit():
        abort(400)
    try:
        batch = payouts.export(g.principal, fund_id)
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(_("No approved application is waiting for payout."), "error")
    else:
        flash(_("Batch %(id)s exported: download its CSV for the bank.", id=batch.id), "success")
    return redirect(url_for(".fund", fund_id=fund_id))


@bp.get("/payout-batches/<int:batch_id>.csv")
@admin_page("fund.payout")
def batch_csv(batch_id: int):
    batch = payouts.get(batch_id)
    text = payouts.csv_text(g.principal, batch)
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="payout-batch-{batch.id}.csv"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})  # fmt: skip


@bp.post("/payout-batches/<int:batch_id>/confirm")
@admin_page("fund.payout")
def confirm(batch_id: int):
    if not CsrfForm().validate_on_submit():
        abort(400)
    batch = payouts.get(batch_id)
    try:
        payouts.confirm(g.principal, batch_id)
    except Problem:
        flash(_("This batch was confirmed already."), "error")
    else:
        flash(_("Batch %(id)s marked paid.", id=batch_id), "success")
    return redirect(url_for(".fund", fund_id=batch.fund_id))


def _local(name: str):
    """A datetime-local field in Beijing time as an aware ISO string (or the raw text)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    raw = request.form.get(name, "").strip()
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo("Asia/Shanghai")).isoformat()
    except ValueError:
        return raw


@bp.route("/services/<int:service_id>/slots", methods=["GET", "POST"])
@admin_page("slot.manage")
def slots(service_id: int):
    service = catalog.get(service_id)
    errors, status = None, 200
    if request.method == "POST":
        if not CsrfForm().validate_on_submit():
            abort(400)
        f = request.form
        raw = {"label": f.get("label", ""), "location": f.get("location", ""),
               "capacity": int(f["capacity"]) if f.get("capacity", "").isdigit() else None,
               "hold_seconds": int(f.get("hold_minutes", "5") or 5) * 60
               if f.get("hold_minutes", "5").isdigit() else None,
               **{k: _local(k) for k in ("starts_at", "ends_at", "booking_opens_at",
                                         "cancel_deadline")}}  # fmt: skip
        try:
            seats.create_slot(g.principal, service.id, SlotInSchema().load(raw))
        except ValidationError as exc:
            errors, status = exc.messages, 422
        except Problem as exc:
            errors, status = {"_schema": [exc.detail or exc.code]}, exc.status
        else:
            return redirect(url_for(".slots", service_id=service.id))
    rows = [(s, seats.free_seats(s)) for s in seats.slots_of(service.id, upcoming_only=False)]
    return render_template(
        "unionservices/admin_slots.html",
        service=service,
        rows=rows,
        form=CsrfForm(),
        errors=errors,
        values=request.form,
    ), status


@bp.get("/slots/<int:slot_id>/roster")
@admin_page("slot.roster")
def roster(slot_id: int):
    slot, bookings = seats.roster(g.principal, slot_id)
    return render_template("unionservices/admin_roster.html", slot=slot, bookings=bookings,
                           free=seats.free_seats(slot))  # fmt: skip


@bp.get("/covers")
@admin_page("cover.review")
def cover_incidents():
    # The insurer's export is the city's (cover.manage); a branch admin reviews incidents only.
    can_export = permissions.allows(g.principal.role, "cover.manage")
    cover_services = [s for s in catalog.all_services() if s.kind == "cover"] if can_export else []
    return render_template("unionservices/admin_covers.html", incidents=covers.queue(g.principal),
                           services=cover_services, can_export=can_export,
                           form=CsrfForm())  # fmt: skip


@bp.post("/covers/incidents/<int:incident_id>/status")
@admin_page("cover.review")
def incident_status(incident_id: int):
    covers.get_for(g.principal, incident_id)
    if not CsrfForm().validate_on_submit():
        abort(400)
    try:
        covers.set_status(g.principal, incident_id, request.form.get("status", ""),
                          request.form.get("reason"))  # fmt: skip
    except Problem as exc:
        flash(reason_text(exc.code), "error")
    else:
        flash(_("Decision recorded."), "success")
    return redirect(url_for(".cover_incidents"))


@bp.get("/covers/incidents/<int:incident_id>/documents/<int:document_id>")
@admin_page("service.document")
def cover_document(incident_id: int, document_id: int):
    doc, data = covers.document_for(g.principal, incident_id, document_id)
    return file_response(doc, data)


@bp.get("/services/<int:service_id>/enrolments.csv")
@admin_page("cover.manage")
def enrolments_csv(service_id: int):
    text = covers.enrolments_csv(g.principal, service_id)
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cover-{service_id}-enrolments.csv"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})  # fmt: skip


@bp.route("/jobs", methods=["GET", "POST"])
@admin_page("job.manage")
def job_list():
    errors, status = None, 200
    if request.method == "POST":
        if not CsrfForm().validate_on_submit():
            abort(400)
        f = request.form
        raw = {k: f.get(k, "") for k in ("employer", "position", "district", "contact",
                                         "description")}  # fmt: skip
        for key in ("salary_min", "salary_max"):
            raw[key] = int(f[key]) if f.get(key, "").isdigit() and len(f[key]) < 8 else None
        try:
            jobboard.create(g.principal, JobInSchema().load(raw))
        except ValidationError as exc:
            errors, status = exc.messages, 422
        except Problem as exc:
            errors, status = exc.extra.get("errors") or {"_schema": [exc.detail]}, exc.status
        else:
            return redirect(url_for(".job_list"))
    return render_template(
        "unionservices/admin_jobs.html",
        rows=jobboard.all_listings(),
        form=CsrfForm(),
        errors=errors,
        values=request.form,
    ), status


@bp.get("/jobs/<int:listing_id>")
@admin_page("job.manage")
def job_detail(listing_id: int):
    return render_template("unionservices/admin_job.html", listing=jobboard.get(listing_id),
                           rows=jobboard.interested(listing_id))  # fmt: skip
