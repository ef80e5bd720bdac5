"""Applying to a service, the two review steps, and who may see an application.

Every change is one transaction: the application row, its history step and the audit event are
committed together (or not at all), and status changes are conditional UPDATEs on the expected
status, so two reviewers deciding the same application at once cannot both succeed.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marketplace.errors import Conflict, Forbidden, NotFound, Problem, ValidationFailed
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor
from marketplace.validation import bad_text

from . import documents, eligibility, funds, review
from .models import Application, Document, Service, Step
from .notify import notify

MAX_ANSWER = 500
MAX_REASON = 500


def _member(principal) -> Member:
    member = db.session.get(Member, principal.member_id) if principal.member_id else None
    if member is None:
        raise Forbidden("This account belongs to no member.")
    return member


def _service(service_id: int) -> Service:
    service = db.session.get(Service, service_id)
    if service is None:
        raise NotFound("No such service.")
    return service


def parse_answers(service: Service, raw) -> dict[str, str]:
    """The answers to the fields the service asks for (422 ``validation_error`` otherwise)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise ValidationFailed(errors={"answers": ["Not a JSON object."]}) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationFailed(errors={"answers": ["Not a JSON object."]})
    known = {f["name"]: f for f in service.fields or []}
    errors: dict[str, list[str]] = {}
    answers = {}
    for name, value in raw.items():
        if name not in known:
            errors[f"answers.{name}"] = ["This service does not ask for this."]
        elif not isinstance(value, str) or bad_text(value) or len(value) > MAX_ANSWER:
            errors[f"answers.{name}"] = [f"Text of at most {MAX_ANSWER} characters."]
        elif value.strip():
            answers[name] = value.strip()
    for name, field in known.items():
        if field.get("required") and name not in answers and f"answers.{name}" not in errors:
            errors[f"answers.{name}"] = ["Required."]
    if errors:
        raise ValidationFailed(errors=errors)
    return answers


def amount_for(service: Service, amount_cents, level: str | None) -> tuple[int, str | None]:
    """The amount applied for and the award level (levels fix the amount)."""
    levels = (service.rules or {}).get("levels") or {}
    if levels:
        if level not in levels:
            raise ValidationFailed(errors={"level": [f"One of: {', '.join(levels)}."]})
        return int(levels[level]), level
    if level:
        raise ValidationFailed(errors={"level": ["This service has no levels."]})
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents < 1:
        raise ValidationFailed(errors={"amount_cents": ["A positive amount in fen."]})
    if service.max_amount_cents and amount_cents > service.max_amount_cents:
        raise Problem("The amount is above the service's maximum.", status=422,
                      code="amount_above_maximum",
                      max_amount_cents=service.max_amount_cents)  # fmt: skip
    return amount_cents, None


def _step(app: Application, action: str, principal, reason: str | None = None) -> None:
    db.session.add(Step(application_id=app.id, action=action, status=app.status,
                        actor_id=principal.account_id, actor_role=principal.role,
                        reason=reason))  # fmt: skip
    record_audit(f"service_application.{action}", "service_application", app.id,
                 actor=Actor(principal),
                 data={"status": app.status, "service_id": app.service_id,
                       **({"reason": reason} if reason else {})})  # fmt: skip


def _attach(app: Application, checked: list[tuple[bytes, str]]) -> list[str]:
    """Store the documents and add their rows; returns the storage names (to discard on error)."""
    written = []
    for data, mime in checked:
        name, digest = documents.store(data)
        written.append(name)
        db.session.add(Document(application_id=app.id, content_type=mime, size=len(data),
                                sha256=digest, storage_name=name))  # fmt: skip
    return written


def apply(principal, service_id: int, *, amount_cents=None, level=None, answers=None,
          files: list[bytes] = ()) -> Application:  # fmt: skip
    """Submit an application (bad input, ineligibility, a second award: a problem, no change)."""
    member = _member(principal)
    service = _service(service_id)
    if service.kind != "aid":
        raise Problem("This service takes no applications.", status=409, code="not_applicable")
    why = eligibility.reasons(service, member)
    if why:
        raise Forbidden("You are not eligible for this service.", code="not_eligible",
                        reasons=why)  # fmt: skip
    amount, level = amount_for(service, amount_cents, level)
    parsed = parse_answers(service, answers)
    checked = documents.check(list(files))
    award_key = None
    if (service.rules or {}).get("one_award_per_level") and level:
        award_key = f"service:{service.id}:{level}"
    now = utcnow()
    app = Application(service_id=service.id, member_id=member.id, branch=member.branch,
                      status="submitted", amount_cents=amount, level=level, award_key=award_key,
                      answers=parsed, fund_id=service.fund_id, submitted_at=now,
                      waiting_since=now)  # fmt: skip
    written: list[str] = []
    try:
        db.session.add(app)
        db.session.flush()  # the award index decides here, under any race
        written = _attach(app, checked)
        _step(app, "submit", principal)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        documents.discard(written)
        raise Conflict(
            "You already have an award for this certificate level.", code="award_already_claimed"
        ) from None
    except BaseException:
        db.session.rollback()
        documents.discard(written)
        raise
    notify(member.id, "application.submitted", {"application_id": app.id,
                                               "status": app.status})  # fmt: skip
    return app


def resubmit(principal, application_id: int, *, answers=None, files: list[bytes] = ()):
    """After "more documents, please": add documents (and answers) and go back to the branch."""
    app = own(principal, application_id)
    if app.status != "needs_documents":
        raise Conflict("Only an application asked for more documents can be resubmitted.",
                       code="not_awaiting_documents")  # fmt: skip
    parsed = parse_answers(app.service, answers) if answers not in (None, "") else app.answers
    checked = documents.check(list(files))
    if not checked:
        raise ValidationFailed(errors={"documents": ["Add at least one document."]})
    written: list[str] = []
    try:
        if not _move(app.id, "needs_documents", status="submitted", answers=parsed,
                     waiting_since=utcnow()):  # fmt: skip
            raise Conflict("The application changed meanwhile.", code="stale_status")
        db.session.refresh(app)
        written = _attach(app, checked)
        _step(app, "resubmit", principal)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        documents.discard(written)
        raise
    notify(app.member_id, "application.resubmitted", {"application_id": app.id,
                                                     "status": app.status})  # fmt: skip
    return app


def _move(app_id: int, expected: str, **values) -> bool:
    result = db.session.execute(
        update(Application)
        .where(Application.id == app_id, Application.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# decision -> (status it is taken in, review step, new status)
DECISIONS = {
    "pass": ("submitted", "branch", "checked"),
    "approve": ("checked", "city", "approved"),
    "reject": (None, None, "rejected"),
    "request_documents": (None, None, "needs_documents"),
}


def decide(principal, application_id: int, decision: str, *, reason: str | None = None,
           amount_cents: int | None = None) -> Application:  # fmt: skip
    """One review step. ``reject`` and ``request_documents`` are open to whoever reviews the
    application's current step and need a reason; ``approve`` commits against the fund."""
    app = for_reviewer(principal, application_id)
    if decision not in DECISIONS:
        raise ValidationFailed(errors={"decision": [f"One of: {', '.join(DECISIONS)}."]})
    expected, step, new = DECISIONS[decision]
    current_step = review.STEP_OF_STATUS.get(app.status)
    if current_step is None or (expected is not None and app.status != expected):
        raise Conflict(f"The application is {app.status}: it cannot be decided that way.",
                       code="invalid_transition", status_now=app.status)  # fmt: skip
    step = step or current_step
    if not review.can_review(principal, app, step):
        raise Forbidden("You do not review this step for this branch.")
    reason = (reason or "").strip() or None
    if reason is not None and (bad_text(reason) or len(reason) > MAX_REASON):
        raise ValidationFailed(errors={"reason": [f"Text of at most {MAX_REASON} characters."]})
    if decision in ("reject", "request_documents") and not reason:
        raise ValidationFailed(errors={"reason": ["Say why."]})
    now = utcnow()
    values: dict = {"status": new, "waiting_since": now}
    approved = None
    if decision == "approve":
        approved = app.amount_cents if amount_cents is None else amount_cents
        if not isinstance(approved, int) or isinstance(approved, bool) or approved < 1:
            raise ValidationFailed(errors={"amount_cents": ["A positive amount in fen."]})
        if approved > app.amount_cents:
            raise Problem("The approved amount is above what was applied for.", status=422,
                          code="amount_above_request")  # fmt: skip
        if app.fund_id is None:
            raise Conflict("The service has no fund to pay from.", code="no_fund")
        values |= {"approved_cents": approved, "decided_at": now}
    elif decision == "reject":
        values |= {"decided_at": now, "reason": reason}
    elif decision == "request_documents":
        values |= {"reason": reason}
    try:
        if not _move(app.id, app.status, **values):
            raise Conflict("Another reviewer decided this application meanwhile.",
                           code="stale_status")  # fmt: skip
        if approved is not None:
            funds.commit(app.fund_id, approved)  # 409 fund_exhausted rolls the move back
        db.session.refresh(app)
        _step(app, decision if decision != "pass" else "branch_pass", principal, reason)
        if approved is not None:
            record_audit("fund.commit", "service_fund", app.fund_id, actor=Actor(principal),
                         data={"application_id": app.id, "amount_cents": approved})  # fmt: skip
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    kind = {"pass": "checked", "approve": "approved", "reject": "rejected",
            "request_documents": "needs_documents"}[decision]  # fmt: skip
    notify(
        app.member_id,
        f"application.{kind}",
        {"application_id": app.id, "status": app.status, **({"reason": reason} if reason else {})},
    )
    return app


# --------------------------------------------------------------------------- who sees what


def own(principal, application_id: int) -> Application:
    """The caller's own application; anyone else's answers 404, as if it did not exist."""
    app = db.session.get(Application, application_id)
    if app is None or principal.member_id is None or app.member_id != principal.member_id:
        raise NotFound("No such application.")
    return app


def for_reviewer(principal, application_id: int) -> Application:
    app = db.session.get(Application, application_id)
    if app is None or not review.can_see(principal, app):
        raise NotFound("No such application.")
    return app


def get_for(principal, application_id: int) -> Application:
    """The applicant or a reviewer in scope; everybody else: 404."""
    if principal.role == "member":
        return own(principal, application_id)
    return for_reviewer(principal, application_id)


def document_for(principal, application_id: int, document_id: int) -> tuple[Document, bytes]:
    """A document's row and bytes for the applicant or a reviewer; the download is audited."""
    app = get_for(principal, application_id)
    doc = next((d for d in app.documents if d.id == document_id), None)
    if doc is None:
        raise NotFound("No such document.")
    data = documents.read(doc.storage_name)
    record_audit("service_document.download", "service_document", doc.id,
                 actor=Actor(principal), data={"application_id": app.id})  # fmt: skip
    db.session.commit()
    return doc, data


def mine(principal) -> list[Application]:
    return list(db.session.scalars(
        select(Application).where(Application.member_id == principal.member_id)
        .order_by(Application.id.desc()).limit(200)))  # fmt: skip


def queue(principal, step: str | None = None, limit: int = 200) -> list[Application]:
    """Applications waiting for the caller's review steps, longest-waiting first."""
    scope = review.reviewer_scope(principal)
    if scope is None:
        return []
    steps = [s for s in scope.steps if step in (None, s)]
    statuses = [st for st, s in review.STEP_OF_STATUS.items() if s in steps]
    return list(db.session.scalars(
        select(Application)
        .where(Application.status.in_(statuses),
               review.member_filter(principal, Application.member_id))
        .order_by(Application.waiting_since, Application.id).limit(limit)))  # fmt: skip


def waiting_hours(app: Application, now: datetime | None = None) -> float:
    return round(((now or utcnow()) - app.waiting_since).total_seconds() / 3600, 1)
