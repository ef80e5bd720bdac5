"""Member pages under /m/services: the hub, a service with its apply form, one's applications.

Server-rendered and mobile-first; the same service functions as the API, so the checks (and the
problem codes, turned into sentences here) are the same.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from marketplace.auth.decorators import page_required
from marketplace.errors import Problem
from marketplace.validation import bad_text

from . import applications, catalog, covers, documents, eligibility, jobboard, seats

bp = Blueprint("unionservices_pages", __name__, url_prefix="/m/services",
               template_folder="templates")  # fmt: skip

UPLOAD_ENDPOINTS = {
    "unionservices_pages.apply",
    "unionservices_pages.resubmit",
    "unionservices_pages.report_incident",
}


class CsrfForm(FlaskForm):
    """Only the CSRF token; the fields are read from ``request.form`` by the service code."""


def allow_document_uploads() -> None:
    """Pages that carry documents take a larger body; the CSRF check reads it first, so the
    limit is raised before it (the first of the app's before_request hooks)."""
    if request.method == "POST" and request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = documents.request_limit()


@bp.app_context_processor
def helpers():
    return {"svc_yuan": yuan, "svc_rule": rule_text, "svc_reason": reason_text,
            "svc_status": status_text, "svc_kind": kind_text, "svc_step": step_text,
            "svc_open": open_text, "svc_job_open": job_open_text, "svc_field": field_label,
            "svc_rules": rules_text, "svc_title": title_of}  # fmt: skip


@bp.app_template_filter("svc_time")
def svc_time(value) -> str:
    """A UTC datetime as Beijing time, to the minute."""
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M") if value else ""


def yuan(cents) -> str:
    return "" if cents is None else f"{cents / 100:,.2f}"


def title_of(service) -> str:
    from flask_babel import get_locale

    english = str(get_locale() or "").startswith("en")
    return service.title_en if english and service.title_en else service.title


def kind_text(kind: str) -> str:
    return {"aid": _("Aid and subsidies"), "cover": _("Free cover"),
            "course": _("Skills training"), "appointment": _("Legal aid and counselling"),
            "job": _("Job referral")}.get(kind, kind)  # fmt: skip


def status_text(status: str) -> str:
    return {"submitted": _("Waiting for the branch check"),
            "checked": _("Waiting for the city union's decision"),
            "needs_documents": _("More documents needed"), "approved": _("Approved"),
            "rejected": _("Rejected"), "paid": _("Paid")}.get(status, status)  # fmt: skip


def step_text(action: str) -> str:
    """A step of an application's history (``Step.action``) in words."""
    return {"submit": _("Application submitted"), "resubmit": _("Documents added"),
            "branch_pass": _("Checked by the branch"), "approve": _("Approved"),
            "reject": _("Rejected"), "request_documents": _("More documents requested"),
            "paid": _("Paid")}.get(action, action)  # fmt: skip


def open_text(status: str) -> str:
    """A service's status: open to members or closed."""
    return {"open": _("Accepting requests"), "closed": _("Not accepting requests")}.get(
        status, status
    )


def job_open_text(status: str) -> str:
    return {"open": _("Hiring"), "closed": _("No longer hiring")}.get(status, status)


def field_label(service, name: str) -> str:
    """The label the admin gave a form field of the service (its name if it has none)."""
    for f in service.fields or []:
        if f.get("name") == name:
            return f.get("label") or name
    return name


def rules_text(service) -> list[str]:
    """Who may use the service, in words (the admin list's "rules" column)."""
    return [rule_text(code, value) for code, value in eligibility.describe(service)]


def rule_text(code: str, value) -> str:
    if code == "active_card":
        return _("An activated union card")
    if code == "min_months":
        return _("A member for at least %(n)s months", n=value)
    if code == "regions":
        return _("Members in these districts: %(r)s", r=", ".join(value))
    if code == "levels":
        return _("Award by certificate level: %(l)s",
                 l=", ".join(f"{k} ¥{yuan(v)}" for k, v in value.items()))  # fmt: skip
    if code == "one_award_per_level":
        return _("One award per certificate level per person")
    if code == "max_amount":
        return _("At most ¥%(a)s", a=yuan(value))
    return code


def reason_text(code: str) -> str:
    return {
        "service_closed": _("This service is closed."),
        "card_not_active": _("Activate your union card first."),
        "membership_too_short": _("You have not been a member long enough."),
        "region_not_covered": _("This service is not offered in your district."),
        "no_member": _("This account belongs to no member."),
        "not_eligible": _("You are not eligible for this service."),
        "amount_above_maximum": _("The amount is above the service's maximum."),
        "award_already_claimed": _("You already have an award for this certificate level."),
        "document_too_large": _("A document is too large."),
        "payload_too_large": _("The documents are too large together."),
        "document_type": _("Documents must be JPEG, PNG or WebP pictures or PDF files."),
        "document_empty": _("A document is empty."),
        "too_many_documents": _("Too many documents at a time."),
        "validation_error": _("Please check the form."),
        "not_awaiting_documents": _("This application is not waiting for documents."),
        "not_applicable": _("This service takes no applications."),
        "slot_full": _("Every seat is taken."),
        "already_booked": _("You have a seat here already."),
        "booking_closed": _("Booking for this slot is closed."),
        "hold_expired": _("The hold ran out: the seat went back. Book again."),
        "cancel_deadline_passed": _("The cancellation deadline has passed."),
        "booking_not_active": _("This booking is not active."),
    }.get(code, code)


@bp.get("")
@page_required("service.browse", login="members_pages.login")
def hub():
    p = g.principal
    listing = catalog.for_member(p)
    return render_template("unionservices/hub.html", listing=listing, form=CsrfForm(),
                           mine=applications.mine(p), bookings=seats.mine(p),
                           describe=eligibility.describe)  # fmt: skip


def _service_page(service_id: int, status: int = 200, error=None, form_values=None):
    service, why = catalog.member_view(g.principal, service_id)
    slots = []
    if service.kind in seats.SLOT_KINDS:
        slots = [(s, seats.free_seats(s)) for s in seats.slots_of(service.id)]
    return render_template(
        "unionservices/service.html",
        service=service,
        why=why,
        slots=slots,
        form=CsrfForm(),
        rules=eligibility.describe(service),
        error=error,
        values=form_values or {},
        levels=(service.rules or {}).get("levels") or {},
    ), status


@bp.get("/<int:service_id>")
@page_required("service.browse", login="members_pages.login")
def service(service_id: int):
    return _service_page(service_id)


def _form_values() -> dict:
    answers = {k[2:]: v for k, v in request.form.items() if k.startswith("a_")}
    values: dict = {"answers": answers, "level": request.form.get("level") or None}
    amount = request.form.get("amount", "").strip().replace(",", "")
    if amount:
        try:
            cents = round(float(amount) * 100)
        except ValueError:
            cents = -1
        values["amount_cents"] = cents if 0 < cents < 10**14 else -1
    return values


def _files() -> list[bytes]:
    return [f.read() for f in request.files.getlist("documents") if f.filename]


@bp.post("/<int:service_id>/apply")
@page_required("service.apply", login="members_pages.login")
def apply(service_id: int):
    if not CsrfForm().validate_on_submit():
        return _service_page(service_id, 400, error="validation_error")
    values = _form_values()
    if any(bad_text(v) for v in values["answers"].values()):
        return _service_page(service_id, 400, error="validation_error")
    try:
        app = applications.apply(g.principal, service_id, files=_files(), **values)
    except Problem as exc:
        if exc.status == 404:
            raise
        return _service_page(service_id, exc.status, error=exc.code, form_values=values)
    return redirect(url_for(".application", application_id=app.id, submitted=1))


@bp.get("/applications/<int:application_id>")
@page_required("service.browse", login="members_pages.login")
def application(application_id: int, status: int = 200, error=None):
    app = applications.own(g.principal, application_id)
    return render_template("unionservices/application.html", app=app, form=CsrfForm(),
                           error=error, reviewer=False,
                           submitted=request.args.get("submitted"),
                           max_kb=documents.max_bytes() // 1024), status  # fmt: skip


@bp.post("/applications/<int:application_id>/resubmit")
@page_required("service.apply", login="members_pages.login")
def resubmit(application_id: int):
    applications.own(g.principal, application_id)  # another member's: 404 first
    if not CsrfForm().validate_on_submit():
        return application(application_id, 400, "validation_error")
    try:
        applications.resubmit(g.principal, application_id, files=_files())
    except Problem as exc:
        return application(application_id, exc.status, exc.code)
    return redirect(url_for(".application", application_id=application_id))


@bp.get("/applications/<int:application_id>/documents/<int:document_id>")
@page_required("service.document", login="members_pages.login")
def document(application_id: int, document_id: int):
    from .routes import file_response

    doc, data = applications.document_for(g.principal, application_id, document_id)
    return file_response(doc, data)


def booking_text(state: str) -> str:
    return {
        "held": _("Held: confirm it"),
        "confirmed": _("Confirmed"),
        "cancelled": _("Cancelled"),
        "expired": _("Hold ran out"),
    }.get(state, state)


@bp.app_context_processor
def booking_helpers():
    return {"svc_booking": booking_text}


@bp.post("/slots/<int:slot_id>/book")
@page_required("service.book", login="members_pages.login")
def book(slot_id: int):
    slot = seats.get_slot(slot_id)
    if not CsrfForm().validate_on_submit():
        return _service_page(slot.service_id, 400, error="validation_error")
    try:
        seats.book(g.principal, slot_id)
    except Problem as exc:
        if exc.status == 404:
            raise
        return _service_page(slot.service_id, exc.status, error=exc.code)
    flash(_("Seat held: confirm it within %(m)s minutes.", m=max(1, slot.hold_seconds // 60)),
          "success")  # fmt: skip
    return redirect(url_for(".hub"))


def _booking_action(booking_id: int, action):
    seats.own_booking(g.principal, booking_id)  # another member's: 404 first
    if not CsrfForm().validate_on_submit():
        return redirect(url_for(".hub"))
    try:
        action(g.principal, booking_id)
    except Problem as exc:
        if exc.status == 404:
            raise
        flash(reason_text(exc.code), "error")
    return redirect(url_for(".hub"))


@bp.post("/bookings/<int:booking_id>/confirm")
@page_required("service.book", login="members_pages.login")
def confirm_booking(booking_id: int):
    return _booking_action(booking_id, seats.confirm)


@bp.post("/bookings/<int:booking_id>/cancel")
@page_required("service.book", login="members_pages.login")
def cancel_booking(booking_id: int):
    return _booking_action(booking_id, seats.cancel)


def region_text(code: str) -> str:
    from flask_babel import get_locale

    from marketplace.members.identity import regions

    row = regions().get(code or "")
    if row is None:
        return code or ""
    return row["name_en"] if str(get_locale() or "").startswith("en") else row["name_zh"]


def incident_text(status: str) -> str:
    return {
        "reported": _("Reported"),
        "reviewing": _("Being reviewed"),
        "settled": _("Settled"),
        "declined": _("Declined"),
    }.get(status, status)


@bp.app_context_processor
def incident_helpers():
    return {"svc_incident": incident_text, "svc_region": region_text}


def _covers_page(status: int = 200, error=None, errors=None):
    p = g.principal
    return render_template("unionservices/covers.html", enrolments=covers.mine(p),
                           incidents=covers.incidents_of(p), form=CsrfForm(), error=error,
                           errors=errors), status  # fmt: skip


@bp.get("/covers")
@page_required("cover.own", login="members_pages.login")
def my_covers():
    return _covers_page()


@bp.post("/covers/<int:enrolment_id>/incidents")
@page_required("cover.own", login="members_pages.login")
def report_incident(enrolment_id: int):
    if not CsrfForm().validate_on_submit():
        return _covers_page(400, "validation_error")
    f = request.form
    try:
        covers.report(g.principal, enrolment_id, occurred_on=f.get("occurred_on", ""),
                      kind=f.get("kind", ""), description=f.get("description", ""),
                      files=_files())  # fmt: skip
    except Problem as exc:
        if exc.status == 404:
            raise
        return _covers_page(exc.status, exc.code, exc.extra.get("errors"))
    flash(_("Your report was received."), "success")
    return redirect(url_for(".my_covers"))


@bp.get("/covers/incidents/<int:incident_id>/documents/<int:document_id>")
@page_required("service.document", login="members_pages.login")
def incident_document(incident_id: int, document_id: int):
    from .routes import file_response

    doc, data = covers.document_for(g.principal, incident_id, document_id)
    return file_response(doc, data)


@bp.get("/jobs")
@page_required("job.browse", login="members_pages.login")
def jobs():
    district = request.args.get("district", "").strip()
    q = request.args.get("q", "").strip()[:50]
    salary = request.args.get("salary_at_least", "").strip()
    filters = {
        "district": district if district.isdigit() and 2 <= len(district) <= 6 else None,
        "q": q or None,
        "salary_at_least": int(salary) if salary.isdigit() and len(salary) < 8 else None,
    }
    return render_template("unionservices/jobs.html", listings=jobboard.browse(**filters),
                           mine=jobboard.interested_ids(g.principal.member_id),
                           args=request.args, form=CsrfForm())  # fmt: skip


@bp.post("/jobs/<int:listing_id>/interest")
@page_required("job.browse", login="members_pages.login")
def job_interest(listing_id: int):
    if CsrfForm().validate_on_submit():
        if request.form.get("withdraw"):
            jobboard.withdraw(g.principal, listing_id)
        else:
            jobboard.express(g.principal, listing_id)
            flash(_("The union will pass your interest on."), "success")
    return redirect(url_for(".jobs"))
