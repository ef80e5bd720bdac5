"""Union services API: the hub, applications with documents, review, funds and payouts."""

from __future__ import annotations

from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.auth import auth_required, current_principal
from marketplace.errors import ValidationFailed
from marketplace.validation import bad_text

from . import applications, catalog, covers, documents, funds, jobboard, payouts, seats
from .schemas import (
    ApplicationSchema,
    BatchSchema,
    BookingSchema,
    DecisionSchema,
    EnrolmentSchema,
    FundInSchema,
    FundSchema,
    IncidentSchema,
    IncidentStatusSchema,
    InterestedSchema,
    JobArgsSchema,
    JobInSchema,
    JobPatchSchema,
    JobSchema,
    QueueArgsSchema,
    ServiceInSchema,
    ServicePatchSchema,
    ServiceSchema,
    SlotInSchema,
    SlotSchema,
)

bp = Blueprint(
    "unionservices",
    __name__,
    url_prefix="/api/v1",
    description="Union services: aid applications, review, funds and payouts",
)

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "amount_cents": {"type": "integer", "minimum": 1},
                    "level": {"type": "string", "maxLength": 40},
                    "answers": {"type": "string", "maxLength": 20000,
                                "description": "A JSON object: field name -> text"},
                    "documents": {"type": "array", "maxItems": documents.MAX_DOCUMENTS,
                                  "items": {"type": "string", "format": "binary"},
                                  "description": "JPEG, PNG, WebP or PDF, checked by their "
                                  "bytes (else 415 document_type), each at most "
                                  "SERVICE_DOC_MAX_BYTES (else 413 document_too_large)"},
                },
            }
        }
    },
}  # fmt: skip
CSV_RESPONSE = {200: {"description": "CSV (UTF-8 with BOM)", "content": {"text/csv": {}}}}
FILE_RESPONSE = {200: {"description": "The document's bytes",
                       "content": {"application/pdf": {}, "image/*": {}}}}  # fmt: skip


def upload_form() -> tuple[dict, list[bytes]]:
    """The multipart form of an application (the body limit is raised first)."""
    request.max_content_length = documents.request_limit()
    form = request.form
    for key, value in form.items(multi=True):
        if bad_text(key) or bad_text(value):
            raise ValidationFailed(
                errors={
                    key if not bad_text(key) else "_schema": [
                        "Text must not contain NUL characters."
                    ]
                }
            )
    files = [f.read() for f in request.files.getlist("documents")]
    values: dict = {"answers": form.get("answers"), "level": form.get("level") or None}
    raw_amount = form.get("amount_cents", "").strip()
    if raw_amount:
        if not raw_amount.isdigit() or len(raw_amount) > 15:
            raise ValidationFailed(errors={"amount_cents": ["A positive amount in fen."]})
        values["amount_cents"] = int(raw_amount)
    return values, files


def application_view(app) -> dict:
    return {
        **{k: getattr(app, k) for k in (
            "id", "service_id", "member_id", "branch", "status", "amount_cents",
            "approved_cents", "level", "answers", "fund_id", "reason", "submitted_at",
            "waiting_since", "decided_at", "paid_at", "steps")},
        "waiting_hours": applications.waiting_hours(app),
        "documents": [{"id": d.id, "content_type": d.content_type, "size": d.size,
                       "uploaded_at": d.uploaded_at,
                       "url": url_for("unionservices.document", application_id=app.id,
                                      document_id=d.id)} for d in app.documents],
    }  # fmt: skip


def service_view(service, why=None) -> dict:
    view = {k: getattr(service, k) for k in (
        "id", "kind", "title", "title_en", "description", "status", "fund_id",
        "max_amount_cents", "rules", "fields", "prepare")}  # fmt: skip
    if why is not None:
        view |= {"eligible": not why, "not_eligible_because": why}
    return view


# --------------------------------------------------------------------------- members


@bp.route("/services")
class Services(MethodView):
    @auth_required("service.browse")
    @bp.response(200, ServiceSchema(many=True))
    def get(self):
        """Open services, each with whether the caller may use it and why not."""
        return [service_view(s, why) for s, why in catalog.for_member(current_principal())]


@bp.route("/services/<int:service_id>")
class ServiceDetail(MethodView):
    @auth_required("service.browse")
    @bp.response(200, ServiceSchema)
    def get(self, service_id):
        """One open service: its rules, what to prepare, the fields it asks for."""
        service, why = catalog.member_view(current_principal(), service_id)
        return service_view(service, why)


@bp.route("/services/<int:service_id>/applications")
class Apply(MethodView):
    @auth_required("service.apply")
    @bp.doc(requestBody=UPLOAD_BODY)
    @bp.response(201, ApplicationSchema)
    def post(self, service_id):
        """Apply (multipart): ``amount_cents`` or ``level``, ``answers`` (JSON text), files
        ``documents``. Not eligible: 403 not_eligible; above the maximum: 422
        amount_above_maximum; a second award for a level: 409 award_already_claimed."""
        values, files = upload_form()
        app = applications.apply(current_principal(), service_id, files=files, **values)
        return application_view(app)


@bp.route("/service-applications")
class MyApplications(MethodView):
    @auth_required("service.browse")
    @bp.response(200, ApplicationSchema(many=True))
    def get(self):
        """The caller's applications, newest first, with status and history."""
        return [application_view(a) for a in applications.mine(current_principal())]


@bp.route("/service-applications/<int:application_id>")
class ApplicationDetail(MethodView):
    @auth_required("service.document")
    @bp.response(200, ApplicationSchema)
    def get(self, application_id):
        """One application: the applicant's own, or one a reviewer may see (else 404)."""
        return application_view(applications.get_for(current_principal(), application_id))


@bp.route("/service-applications/<int:application_id>/resubmit")
class Resubmit(MethodView):
    @auth_required("service.apply")
    @bp.doc(requestBody=UPLOAD_BODY)
    @bp.response(200, ApplicationSchema)
    def post(self, application_id):
        """Add the documents asked for (multipart, at least one) and go back to review."""
        values, files = upload_form()
        app = applications.resubmit(current_principal(), application_id,
                                    answers=values.get("answers"), files=files)  # fmt: skip
        return application_view(app)


@bp.get("/service-applications/<int:application_id>/documents/<int:document_id>")
@bp.doc(responses=FILE_RESPONSE)
@auth_required("service.document")
def document(application_id, document_id):
    """A document's bytes, for the applicant and the reviewers only; every download is
    audit-logged."""
    doc, data = applications.document_for(current_principal(), application_id, document_id)
    return file_response(doc, data)


def file_response(doc, data: bytes) -> Response:
    ext = documents.EXTENSIONS.get(doc.content_type, "bin")
    return Response(data, mimetype=doc.content_type, headers={
        "Content-Disposition": f'attachment; filename="document-{doc.id}.{ext}"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})  # fmt: skip


# --------------------------------------------------------------------------- reviewers


@bp.route("/service-reviews")
class Queue(MethodView):
    @auth_required("service.review")
    @bp.arguments(QueueArgsSchema, location="query")
    @bp.response(200, ApplicationSchema(many=True))
    def get(self, args):
        """Applications waiting for the caller's review steps, longest-waiting first."""
        return [
            application_view(a) for a in applications.queue(current_principal(), args.get("step"))
        ]


@bp.route("/service-applications/<int:application_id>/decision")
class Decide(MethodView):
    @auth_required("service.review")
    @bp.arguments(DecisionSchema)
    @bp.response(200, ApplicationSchema)
    def post(self, body, application_id):
        """``pass`` (branch check), ``approve`` (city; commits against the fund, 409
        fund_exhausted when the budget does not cover it), ``reject`` or ``request_documents``
        (both with a reason)."""
        app = applications.decide(current_principal(), application_id, body["decision"],
                                  reason=body.get("reason"),
                                  amount_cents=body.get("amount_cents"))  # fmt: skip
        return application_view(app)


# --------------------------------------------------------------------------- admins


@bp.route("/admin/services")
class AdminServices(MethodView):
    @auth_required("service.manage")
    @bp.response(200, ServiceSchema(many=True))
    def get(self):
        """Every service, open or closed."""
        return [service_view(s) for s in catalog.all_services()]

    @auth_required("service.manage")
    @bp.arguments(ServiceInSchema)
    @bp.response(201, ServiceSchema)
    def post(self, body):
        """Configure a new service: kind, texts, fund, maximum, eligibility rules, fields."""
        return service_view(catalog.create(current_principal(), body))


@bp.route("/admin/services/<int:service_id>")
class AdminService(MethodView):
    @auth_required("service.manage")
    @bp.arguments(ServicePatchSchema)
    @bp.response(200, ServiceSchema)
    def patch(self, body, service_id):
        """Change a service (closing it stops new applications); fields not sent stay."""
        sent = set(request.get_json(silent=True) or {})
        body = {k: v for k, v in body.items() if k in sent}
        return service_view(catalog.update(current_principal(), service_id, body))


@bp.route("/funds")
class Funds(MethodView):
    @auth_required("fund.view")
    @bp.response(200, FundSchema(many=True))
    def get(self):
        """Every fund with budget, committed and paid."""
        return catalog.all_funds()

    @auth_required("service.manage")
    @bp.arguments(FundInSchema)
    @bp.response(201, FundSchema)
    def post(self, body):
        """A named fund for one year with its budget (fen)."""
        return catalog.create_fund(current_principal(), body)


@bp.route("/funds/<int:fund_id>")
class FundDetail(MethodView):
    @auth_required("fund.view")
    @bp.response(200, FundSchema)
    def get(self, fund_id):
        """A fund: budget, committed, paid, available."""
        return funds.get(fund_id)


def batch_view(batch) -> dict:
    return {**{k: getattr(batch, k) for k in ("id", "fund_id", "status", "count", "total_cents",
                                               "created_at", "confirmed_at")},
            "csv_url": url_for("unionservices.batch_csv", batch_id=batch.id)}  # fmt: skip


@bp.route("/funds/<int:fund_id>/payout-batches")
class Batches(MethodView):
    @auth_required("fund.view")
    @bp.response(200, BatchSchema(many=True))
    def get(self, fund_id):
        """The fund's payout batches, newest first."""
        funds.get(fund_id)
        return [batch_view(b) for b in payouts.for_fund(fund_id)]

    @auth_required("fund.payout")
    @bp.response(201, BatchSchema)
    def post(self, fund_id):
        """Put every approved, not yet exported application in a new batch (409
        nothing_to_export when there is none); an application is never in two batches."""
        return batch_view(payouts.export(current_principal(), fund_id))


@bp.get("/payout-batches/<int:batch_id>.csv")
@bp.doc(responses=CSV_RESPONSE)
@auth_required("fund.payout")
def batch_csv(batch_id):
    """The batch for the bank: card_no, name, amount_yuan, reference (UTF-8 with BOM)."""
    batch = payouts.get(batch_id)
    text = payouts.csv_text(current_principal(), batch)
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="payout-batch-{batch.id}.csv"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})  # fmt: skip


@bp.route("/payout-batches/<int:batch_id>/confirm")
class Confirm(MethodView):
    @auth_required("fund.payout")
    @bp.response(200, BatchSchema)
    def post(self, batch_id):
        """The bank paid the batch: its applications become paid (once: 409 batch_confirmed)."""
        return batch_view(payouts.confirm(current_principal(), batch_id))


# --------------------------------------------------------------------------- seats and slots


def slot_view(slot, free: int | None = None) -> dict:
    view = {k: getattr(slot, k) for k in (
        "id", "service_id", "label", "location", "starts_at", "ends_at", "booking_opens_at",
        "cancel_deadline", "capacity", "hold_seconds", "status")}  # fmt: skip
    view["free"] = seats.free_seats(slot) if free is None else free
    return view


@bp.route("/services/<int:service_id>/slots")
class Slots(MethodView):
    @auth_required("service.browse")
    @bp.response(200, SlotSchema(many=True))
    def get(self, service_id):
        """Upcoming sessions or appointment slots of an open service with their free seats."""
        service, _why = catalog.member_view(current_principal(), service_id)
        return [slot_view(s) for s in seats.slots_of(service.id)]


@bp.route("/admin/services/<int:service_id>/slots")
class AdminSlots(MethodView):
    @auth_required("slot.manage")
    @bp.arguments(SlotInSchema)
    @bp.response(201, SlotSchema)
    def post(self, body, service_id):
        """Add a course session or an appointment slot with its capacity (its pool opens)."""
        return slot_view(seats.create_slot(current_principal(), service_id, body))


@bp.route("/admin/slots/<int:slot_id>/roster")
class Roster(MethodView):
    @auth_required("slot.roster")
    @bp.response(200, BookingSchema(many=True))
    def get(self, slot_id):
        """Confirmed and held bookings of a slot (the reviewer's branches)."""
        _slot, bookings = seats.roster(current_principal(), slot_id)
        return bookings


@bp.route("/slots/<int:slot_id>/bookings")
class Book(MethodView):
    @auth_required("service.book")
    @bp.response(201, BookingSchema)
    def post(self, slot_id):
        """Hold a seat (confirm within the slot's hold_seconds, else it returns). 409
        slot_full, already_booked, booking_closed; 403 not_eligible. An ``Idempotency-Key``
        header makes a retry answer the same booking."""
        key = request.headers.get("Idempotency-Key", "").strip() or None
        if key is not None and (len(key) > 64 or bad_text(key) or "\x1f" in key):
            raise ValidationFailed(errors={"Idempotency-Key": ["At most 64 characters."]})
        return seats.book(current_principal(), slot_id, key)


@bp.route("/service-bookings")
class MyBookings(MethodView):
    @auth_required("service.book")
    @bp.response(200, BookingSchema(many=True))
    def get(self):
        """The caller's bookings, newest first."""
        return seats.mine(current_principal())


@bp.route("/service-bookings/<int:booking_id>/confirm")
class ConfirmBooking(MethodView):
    @auth_required("service.book")
    @bp.response(200, BookingSchema)
    def post(self, booking_id):
        """Confirm a held seat (after the hold ran out: 409 hold_expired, the seat is gone)."""
        return seats.confirm(current_principal(), booking_id)


@bp.route("/service-bookings/<int:booking_id>/cancel")
class CancelBooking(MethodView):
    @auth_required("service.book")
    @bp.response(200, BookingSchema)
    def post(self, booking_id):
        """Cancel: a hold any time, a confirmed seat until the cancel deadline (else 409
        cancel_deadline_passed); the seat returns to the pool."""
        return seats.cancel(current_principal(), booking_id)


# --------------------------------------------------------------------------- free cover


def incident_view(incident) -> dict:
    view = {k: getattr(incident, k) for k in (
        "id", "enrolment_id", "member_id", "occurred_on", "kind", "description", "status",
        "reason", "reported_at", "updated_at")}  # fmt: skip
    view["documents"] = [{"id": d.id, "content_type": d.content_type, "size": d.size,
                          "uploaded_at": d.uploaded_at,
                          "url": url_for("unionservices.incident_document",
                                         incident_id=incident.id, document_id=d.id)}
                         for d in incident.documents]  # fmt: skip
    return view


@bp.route("/covers")
class Covers(MethodView):
    @auth_required("cover.own")
    @bp.response(200, EnrolmentSchema(many=True))
    def get(self):
        """The caller's free covers with their policy periods (the card year)."""
        return covers.mine(current_principal())


INCIDENT_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["occurred_on", "kind", "description"],
        "properties": {
            "occurred_on": {"type": "string", "format": "date"},
            "kind": {"type": "string", "maxLength": 40},
            "description": {"type": "string", "maxLength": 2000},
            "documents": UPLOAD_BODY["content"]["multipart/form-data"]["schema"]["properties"][
                "documents"],
        }}}},
}  # fmt: skip


@bp.route("/covers/<int:enrolment_id>/incidents")
class ReportIncident(MethodView):
    @auth_required("cover.own")
    @bp.doc(requestBody=INCIDENT_BODY)
    @bp.response(201, IncidentSchema)
    def post(self, enrolment_id):
        """Report an incident (multipart: occurred_on within the policy period, kind,
        description, documents checked like application documents)."""
        request.max_content_length = documents.request_limit()
        form = request.form
        for key, value in form.items(multi=True):
            if bad_text(key) or bad_text(value):
                raise ValidationFailed(errors={"_schema": ["Text must not contain NUL."]})
        files = [f.read() for f in request.files.getlist("documents")]
        incident = covers.report(
            current_principal(),
            enrolment_id,
            occurred_on=form.get("occurred_on", ""),
            kind=form.get("kind", ""),
            description=form.get("description", ""),
            files=files,
        )
        return incident_view(incident)


@bp.route("/cover-incidents")
class MyIncidents(MethodView):
    @auth_required("cover.own")
    @bp.response(200, IncidentSchema(many=True))
    def get(self):
        """The caller's incident reports with their status."""
        return [incident_view(i) for i in covers.incidents_of(current_principal())]


@bp.route("/cover-incidents/<int:incident_id>")
class IncidentDetail(MethodView):
    @auth_required("service.document")
    @bp.response(200, IncidentSchema)
    def get(self, incident_id):
        """One incident: the reporter's own, or one a reviewer may see (else 404)."""
        return incident_view(covers.get_for(current_principal(), incident_id))


@bp.get("/cover-incidents/<int:incident_id>/documents/<int:document_id>")
@bp.doc(responses=FILE_RESPONSE)
@auth_required("service.document")
def incident_document(incident_id, document_id):
    """An incident document, for the reporter and the reviewers; downloads are audit-logged."""
    doc, data = covers.document_for(current_principal(), incident_id, document_id)
    return file_response(doc, data)


@bp.route("/admin/cover-incidents")
class IncidentQueue(MethodView):
    @auth_required("cover.review")
    @bp.response(200, IncidentSchema(many=True))
    def get(self):
        """Incidents of the reviewer's branches, open ones first."""
        return [incident_view(i) for i in covers.queue(current_principal())]


@bp.route("/cover-incidents/<int:incident_id>/status")
class IncidentStatus(MethodView):
    @auth_required("cover.review")
    @bp.arguments(IncidentStatusSchema)
    @bp.response(200, IncidentSchema)
    def post(self, body, incident_id):
        """Move an incident on: reviewing, settled or declined (with a reason)."""
        incident = covers.set_status(current_principal(), incident_id, body["status"],
                                     body.get("reason"))  # fmt: skip
        return incident_view(incident)


@bp.get("/admin/services/<int:service_id>/enrolments.csv")
@bp.doc(responses=CSV_RESPONSE)
@auth_required("cover.manage")
def enrolments_csv(service_id):
    """A cover's enrolments for the insurer: card_no, name, id_last4, phone, region, cover,
    starts_on, ends_on (UTF-8 with BOM, Excel-safe)."""
    text = covers.enrolments_csv(current_principal(), service_id)
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cover-{service_id}-enrolments.csv"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})  # fmt: skip


# --------------------------------------------------------------------------- job referral

JOB_FIELDS = ("id", "employer", "position", "district", "salary_min", "salary_max", "contact",
              "description", "status", "created_at")  # fmt: skip


def job_view(listing, **extra) -> dict:
    return {**{k: getattr(listing, k) for k in JOB_FIELDS}, **extra}


@bp.route("/jobs")
class Jobs(MethodView):
    @auth_required("job.browse")
    @bp.arguments(JobArgsSchema, location="query")
    @bp.response(200, JobSchema(many=True))
    def get(self, args):
        """Open listings, newest first: ``district`` (code or prefix), ``q`` (employer or
        position), ``salary_at_least`` (yuan per month)."""
        principal = current_principal()
        mine = jobboard.interested_ids(principal.member_id)
        return [job_view(j, interested=j.id in mine) for j in jobboard.browse(**args)]


@bp.route("/jobs/<int:listing_id>/interest")
class Interest(MethodView):
    @auth_required("job.browse")
    @bp.response(200, JobSchema)
    @bp.alt_response(201, schema=JobSchema, description="Said for the first time")
    def post(self, listing_id):
        """Say "interested" (201 the first time, 200 after: nothing changes)."""
        created = jobboard.express(current_principal(), listing_id)
        return job_view(jobboard.get(listing_id), interested=True), 201 if created else 200

    @auth_required("job.browse")
    @bp.response(204)
    def delete(self, listing_id):
        """Take "interested" back."""
        jobboard.withdraw(current_principal(), listing_id)


@bp.route("/admin/jobs")
class AdminJobs(MethodView):
    @auth_required("job.manage")
    @bp.response(200, JobSchema(many=True))
    def get(self):
        """Every listing with how many members are interested."""
        return [job_view(j, interested_count=n) for j, n in jobboard.all_listings()]

    @auth_required("job.manage")
    @bp.arguments(JobInSchema)
    @bp.response(201, JobSchema)
    def post(self, body):
        """Publish a listing (salary in yuan per month, district a 6-digit region code)."""
        return job_view(jobboard.create(current_principal(), body))


@bp.route("/admin/jobs/<int:listing_id>")
class AdminJob(MethodView):
    @auth_required("job.manage")
    @bp.arguments(JobPatchSchema)
    @bp.response(200, JobSchema)
    def patch(self, body, listing_id):
        """Change or close a listing; fields not sent stay."""
        sent = set(request.get_json(silent=True) or {})
        body = {k: v for k, v in body.items() if k in sent}
        return job_view(jobboard.update(current_principal(), listing_id, body))


@bp.route("/admin/jobs/<int:listing_id>/interested")
class Interested(MethodView):
    @auth_required("job.manage")
    @bp.response(200, InterestedSchema(many=True))
    def get(self, listing_id):
        """Members interested in a listing, first come first."""
        return [{"member_id": m.id, "name": m.name, "phone": m.phone, "branch": m.branch,
                 "region": m.region, "at": i.created_at}
                for i, m in jobboard.interested(listing_id)]  # fmt: skip
