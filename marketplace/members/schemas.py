"""Request and response shapes for the members API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..validation import password_field
from .identity import mask_id


class ActivateSchema(Schema):
    card_no = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    phone = fields.String(required=True, validate=validate.Length(min=1, max=32))
    password = password_field(required=True)


class ActivatedSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    role = fields.String()
    account_id = fields.Integer()
    username = fields.String()
    refresh_token = fields.String()
    refresh_expires_in = fields.Integer()


class CardSchema(Schema):
    card_no = fields.String()
    status = fields.String()
    issued_at = fields.DateTime()
    activated_at = fields.DateTime(allow_none=True)
    frozen_at = fields.DateTime(allow_none=True)


class MemberProfileSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    id_number_masked = fields.Function(lambda m: mask_id(m.id_last4))
    phone = fields.String()
    branch = fields.String()
    region = fields.String()


class MemberSchema(MemberProfileSchema):
    """A member as admins see it: every card, including frozen and cancelled ones."""

    card = fields.Function(lambda m: CardSchema().dump(m.current_card) if m.current_card else None)
    cards = fields.List(fields.Nested(CardSchema))
    hardship = fields.Boolean()


class MeSchema(Schema):
    account_id = fields.Integer()
    username = fields.String()
    refresh_token = fields.String()
    refresh_expires_in = fields.Integer()
    role = fields.String()
    merchant_id = fields.Integer(allow_none=True)
    member = fields.Nested(MemberProfileSchema, allow_none=True)
    card = fields.Nested(CardSchema, allow_none=True)


class ImportErrorSchema(Schema):
    row_no = fields.Integer()
    code = fields.String()
    message = fields.String()


class ImportSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    status = fields.String()
    encoding = fields.String(allow_none=True)
    failure = fields.String(allow_none=True)
    progress = fields.Dict(keys=fields.String(), values=fields.Integer())  # processed, total
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    errors = fields.List(fields.Nested(ImportErrorSchema))
    errors_truncated = fields.Boolean()
    rejected_csv_url = fields.String()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class ImportQuerySchema(Schema):
    errors_limit = fields.Integer(load_default=100, validate=validate.Range(min=0, max=1000))


class HardshipSchema(Schema):
    hardship = fields.Boolean(
        required=True, metadata={"description": "In hardship (困难职工): lottery weights."}
    )


class ReissueSchema(Schema):
    new_card_no = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "16-19 digits with a valid check digit."},
    )
