"""API schemas: services as admins configure them, funds, applications, reviews, payouts."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .models import KINDS, SERVICE_STATUSES

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_CENTS = 10**12  # ten billion yuan: more than any fund
# Rules across fields, stated word for word in the fields' descriptions (the fuzz suite checks it).
AWARD_NEEDS_LEVELS = "One award per level needs levels."
NAMES_DIFFER = "Field names must differ."
AFTER_START = "After the start."
BEFORE_START = "Before the start."
AT_OR_BEFORE_START = "At or before the start."
NOT_BELOW_MINIMUM = "Not below the minimum."


class FieldSpecSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(FIELD_NAME.pattern))
    label = fields.String(required=True, validate=validate.Length(min=1, max=100))
    label_en = fields.String(validate=validate.Length(max=100))
    required = fields.Boolean(load_default=False)


class RulesSchema(Schema):
    active_card = fields.Boolean(load_default=True)
    min_months = fields.Integer(load_default=0, validate=validate.Range(min=0, max=600))
    regions = fields.List(fields.String(validate=validate.Regexp(r"^\d{2}(\d{2}(\d{2})?)?$")),
                          load_default=list, validate=validate.Length(max=200))  # fmt: skip
    levels = fields.Dict(keys=fields.String(validate=validate.Regexp(FIELD_NAME.pattern)),
                         values=fields.Integer(validate=validate.Range(min=1, max=MAX_CENTS)),
                         load_default=dict)  # fmt: skip
    one_award_per_level = fields.Boolean(load_default=False)


class ServiceInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    title_en = fields.String(allow_none=True, validate=validate.Length(max=120))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    status = fields.String(load_default="open", validate=validate.OneOf(SERVICE_STATUSES))
    fund_id = fields.Integer(allow_none=True, load_default=None,
                             validate=validate.Range(min=1, max=2**63 - 1))  # fmt: skip
    max_amount_cents = fields.Integer(allow_none=True, load_default=None,
                                      validate=validate.Range(min=1, max=MAX_CENTS))  # fmt: skip
    rules = fields.Nested(RulesSchema, load_default=lambda: RulesSchema().load({}), metadata={
        "description": "Eligibility rules (docs/unionservices.md). one_award_per_level needs "
                       f"levels, else 422: {AWARD_NEEDS_LEVELS}"})  # fmt: skip
    fields_ = fields.List(
        fields.Nested(FieldSpecSchema),
        data_key="fields",
        attribute="fields",
        load_default=list,
        validate=validate.Length(max=30),
        metadata={"description": f"Each name once, else 422: {NAMES_DIFFER}"},
    )
    prepare = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          load_default=list, validate=validate.Length(max=30))  # fmt: skip

    @validates_schema
    def _cross_field_rules(self, data, **kwargs):
        names = [f.get("name") for f in data.get("fields", [])]
        if len(names) != len(set(names)):
            raise ValidationError(NAMES_DIFFER, "fields")
        rules = data.get("rules") or {}
        if rules.get("one_award_per_level") and not rules.get("levels"):
            raise ValidationError(AWARD_NEEDS_LEVELS, "rules")


class ServicePatchSchema(ServiceInSchema):
    """The same fields, each optional (the view keeps only those the body sent)."""

    def __init__(self, *args, **kwargs):
        # Partial at the top level only: ``partial=True`` would reach into the nested field
        # specs too, and a spec without its name would be stored (the fuzz suite found it).
        super().__init__(*args, partial=tuple(self._declared_fields), **kwargs)


class ServiceSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    title_en = fields.String(allow_none=True)
    description = fields.String()
    status = fields.String()
    fund_id = fields.Integer(allow_none=True)
    max_amount_cents = fields.Integer(allow_none=True)
    rules = fields.Dict()
    fields_ = fields.List(fields.Dict(), data_key="fields", attribute="fields")
    prepare = fields.List(fields.String())
    eligible = fields.Boolean(metadata={"description": "Members: may the caller use it?"})
    not_eligible_because = fields.List(fields.String(), metadata={
        "description": "Stable codes: service_closed, card_not_active, membership_too_short, "
                       "region_not_covered"})  # fmt: skip


class FundInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    budget_cents = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_CENTS))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class FundSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    year = fields.Integer()
    budget_cents = fields.Integer()
    committed_cents = fields.Integer()
    paid_cents = fields.Integer()
    available_cents = fields.Integer()
    note = fields.String()


class DocumentSchema(Schema):
    id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    uploaded_at = fields.DateTime()
    url = fields.String()


class StepSchema(Schema):
    action = fields.String()
    status = fields.String()
    actor_role = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    at = fields.DateTime()


class ApplicationSchema(Schema):
    id = fields.Integer()
    service_id = fields.Integer()
    member_id = fields.Integer()
    branch = fields.String()
    status = fields.String()
    amount_cents = fields.Integer()
    approved_cents = fields.Integer(allow_none=True)
    level = fields.String(allow_none=True)
    answers = fields.Dict()
    fund_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    submitted_at = fields.DateTime()
    waiting_since = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    waiting_hours = fields.Float()
    documents = fields.List(fields.Nested(DocumentSchema))
    steps = fields.List(fields.Nested(StepSchema))


class QueueArgsSchema(Schema):
    step = fields.String(validate=validate.OneOf(("branch", "city")))


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(
        ("pass", "approve", "reject", "request_documents")))  # fmt: skip
    reason = fields.String(validate=validate.Length(max=500))
    amount_cents = fields.Integer(validate=validate.Range(min=1, max=MAX_CENTS))


class BatchSchema(Schema):
    id = fields.Integer()
    fund_id = fields.Integer()
    status = fields.String()
    count = fields.Integer()
    total_cents = fields.Integer()
    created_at = fields.DateTime()
    confirmed_at = fields.DateTime(allow_none=True)
    csv_url = fields.String()


class SlotInSchema(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    location = fields.String(load_default="", validate=validate.Length(max=200))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(
        required=True, metadata={"description": f"After starts_at, else 422: {AFTER_START}"}
    )
    booking_opens_at = fields.AwareDateTime(
        required=True, metadata={"description": f"Before starts_at, else 422: {BEFORE_START}"}
    )
    cancel_deadline = fields.AwareDateTime(
        required=True,
        metadata={"description": f"At or before starts_at, else 422: {AT_OR_BEFORE_START}"},
    )
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    hold_seconds = fields.Integer(load_default=300, validate=validate.Range(min=30, max=3600))


class SlotSchema(Schema):
    id = fields.Integer()
    service_id = fields.Integer()
    label = fields.String()
    location = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    booking_opens_at = fields.DateTime()
    cancel_deadline = fields.DateTime()
    capacity = fields.Integer()
    hold_seconds = fields.Integer()
    status = fields.String()
    free = fields.Integer(metadata={"description": "Seats neither held nor confirmed"})


class BookingSchema(Schema):
    id = fields.Integer()
    slot_id = fields.Integer()
    member_id = fields.Integer()
    state = fields.String()
    held_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    confirmed_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


class EnrolmentSchema(Schema):
    id = fields.Integer()
    service_id = fields.Integer()
    title = fields.String(attribute="service.title")
    title_en = fields.String(attribute="service.title_en", allow_none=True)
    starts_on = fields.Date()
    ends_on = fields.Date()
    enrolled_at = fields.DateTime()


class IncidentSchema(Schema):
    id = fields.Integer()
    enrolment_id = fields.Integer()
    member_id = fields.Integer()
    occurred_on = fields.Date()
    kind = fields.String()
    description = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    reported_at = fields.DateTime()
    updated_at = fields.DateTime()
    documents = fields.List(fields.Nested(DocumentSchema))


class IncidentStatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(
        ("reviewing", "settled", "declined")))  # fmt: skip
    reason = fields.String(validate=validate.Length(max=500))


class JobInSchema(Schema):
    employer = fields.String(required=True, validate=validate.Length(min=1, max=120))
    position = fields.String(required=True, validate=validate.Length(min=1, max=120))
    district = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))
    salary_min = fields.Integer(required=True, validate=validate.Range(min=0, max=1_000_000))
    salary_max = fields.Integer(required=True, validate=validate.Range(min=0, max=1_000_000),
                                metadata={"description": "At least salary_min, else 422: "
                                          + NOT_BELOW_MINIMUM})  # fmt: skip
    contact = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "closed")))


class JobPatchSchema(JobInSchema):
    def __init__(self, *args, **kwargs):
        # Partial at the top level only, like ServicePatchSchema.
        super().__init__(*args, partial=tuple(self._declared_fields), **kwargs)


class JobArgsSchema(Schema):
    district = fields.String(validate=validate.Regexp(r"^\d{2,6}$"))
    q = fields.String(validate=validate.Length(max=50))
    salary_at_least = fields.Integer(validate=validate.Range(min=0, max=1_000_000))


class JobSchema(Schema):
    id = fields.Integer()
    employer = fields.String()
    position = fields.String()
    district = fields.String()
    salary_min = fields.Integer(metadata={"description": "Yuan per month"})
    salary_max = fields.Integer(metadata={"description": "Yuan per month"})
    contact = fields.String()
    description = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    interested = fields.Boolean(metadata={"description": "Members: did the caller say so?"})
    interested_count = fields.Integer(metadata={"description": "Admins: how many members"})


class InterestedSchema(Schema):
    member_id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    branch = fields.String()
    region = fields.String()
    at = fields.DateTime()
