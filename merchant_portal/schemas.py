"""Marshmallow schemas of the portal API (field checks a person understands live in the
services, so the API and the page forms give the same answers; the request schemas restate them
with the same patterns and messages so the OpenAPI document says what the services accept)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from flashsale.schemas import CampaignStatsSchema, UTCAware
from marketplace.merchants import CATEGORIES, STATUSES
from marketplace.validation import id_field, password_field

from .onboarding import LICENCE_RE, PHONE_RE

_text = fields.String
# Python's str.strip() also strips \x1c-\x1f and \x85, which ECMA 262's \s (the document's regex
# dialect) does not count as space: the classes name them so both read the patterns alike.
_SPACE = r"[\s\x1c-\x1f\x85]"
_INK = r"[^\s\x1c-\x1f\x85]"
NOT_BLANK = rf"^{_SPACE}*{_INK}"  # what ``value.strip()`` leaves is not empty
# onboarding.USERNAME_RE and "not only digits" in one pattern (JSON Schema takes one per field)
OWNER_USERNAME = r"^[A-Za-z0-9_.-]*[A-Za-z_.-][A-Za-z0-9_.-]*$"
# auth.services.create_account: stripped, 1 to 64 characters, not only digits
STAFF_USERNAME = rf"^{_SPACE}*({_INK}*[^\s\x1c-\x1f\x850-9]|[0-9]+{_SPACE}+{_INK})"


def _text_rule(pattern, message: str, *, min: int = 1, max: int) -> list:
    return [validate.Length(min=min, max=max, error=message),
            validate.Regexp(pattern, error=message)]  # fmt: skip


class ApplicationInSchema(Schema):
    """The rules of ``onboarding.validate_application``, which still runs for the page form."""

    business_name = _text(
        required=True, validate=_text_rule(NOT_BLANK, "1 to 100 characters.", max=100)
    )
    business_name_en = _text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    licence_no = _text(
        required=True,
        validate=_text_rule(
            LICENCE_RE,
            "6 to 32 letters, digits or dashes (the unified social credit code).",
            min=6,
            max=32,
        ),
    )
    category = _text(required=True, validate=validate.OneOf(CATEGORIES))
    region = _text(
        required=True, validate=validate.Regexp(r"^[0-9]{6}$", error="A 6-digit region code.")
    )
    address = _text(required=True, validate=_text_rule(NOT_BLANK, "Required.", max=255))
    contact_name = _text(required=True, validate=_text_rule(NOT_BLANK, "Required.", max=50))
    contact_phone = _text(
        required=True, validate=_text_rule(PHONE_RE, "A phone number.", min=6, max=20)
    )
    owner_username = _text(
        required=True,
        validate=_text_rule(
            OWNER_USERNAME, "3 to 64 letters, digits, _ . or -, not only digits.", min=3, max=64
        ),
    )
    owner_password = password_field(required=True, load_only=True)


class MerchantSchema(Schema):
    id = fields.Integer()
    business_name = fields.String(attribute="name_zh")
    business_name_en = fields.String(attribute="name_en", allow_none=True)
    licence_no = fields.String(allow_none=True)
    category = fields.String()
    region = fields.String()
    address = fields.String()
    contact_name = fields.String()
    contact_phone = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_reason = fields.String(allow_none=True)
    vouchers_valid_when_suspended = fields.Boolean()
    created_at = UTCAware()
    approved_at = UTCAware(allow_none=True)
    reviewed_at = UTCAware(allow_none=True)


class MerchantQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ExportQuerySchema(Schema):
    lang = fields.String(
        load_default="en", validate=validate.OneOf(["en", "zh"]),
        metadata={"description": "Header row and voucher states: `en` (the stable column keys, "
                                "default) or `zh` (Chinese, as the portal's download)."},
    )  # fmt: skip


class ReasonSchema(Schema):
    reason = fields.String(
        required=True,
        validate=_text_rule(NOT_BLANK, "Give a reason (1 to 500 characters).", max=500),
    )


class SuspendSchema(ReasonSchema):
    vouchers_valid = fields.Boolean(
        required=True,
        metadata={"description": "Whether vouchers already issued may still be redeemed."},
    )


class StaffInSchema(Schema):
    username = fields.String(
        required=True,
        validate=_text_rule(STAFF_USERNAME, "1 to 64 characters, not only digits.", max=64),
    )
    password = password_field(required=True, load_only=True)


class StaffSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    is_active = fields.Boolean()
    created_at = UTCAware()
    last_login_at = UTCAware(allow_none=True)


class LiveSchema(CampaignStatsSchema):
    """A sale's live figures: the flash-sale API's stats plus what the dashboard adds."""

    id = fields.Integer()
    status = fields.String()
    redemption_rate = fields.Float()


class TotalsSchema(Schema):
    sales = fields.Integer()
    stock = fields.Integer()
    claimed = fields.Integer()
    remaining = fields.Integer()
    redeemed = fields.Integer()
    persisted = fields.Integer()
    cancelled = fields.Integer()
    redemption_rate = fields.Float()


class DashboardSchema(Schema):
    merchant = fields.Nested(MerchantSchema)
    totals = fields.Nested(TotalsSchema)
    sales = fields.List(fields.Nested(LiveSchema))


class TopUpSchema(Schema):
    add = fields.Integer(required=True, strict=True,
                         validate=validate.Range(min=1, max=1_000_000))  # fmt: skip


class CoverSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    content_type = fields.String()
    size = fields.Integer()


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = UTCAware()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String(allow_none=True)
    actor_role = fields.String(allow_none=True)
    action = fields.String()
    subject_type = fields.String()
    subject_id = fields.String()
    merchant_id = fields.Integer(allow_none=True)
    request_id = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class AuditQuerySchema(Schema):
    merchant_id = id_field(load_default=None)
    subject_type = fields.String(load_default=None, validate=validate.Length(max=32))
    action = fields.String(load_default=None, validate=validate.Length(max=64))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class SaleAuditSchema(Schema):
    ok = fields.Boolean()
    ran_at = UTCAware()
    total_stock = fields.Integer()
    engine_claimed = fields.Integer(allow_none=True)
    outbox_claims = fields.Integer(allow_none=True)
    sql_vouchers = fields.Integer()
    problems = fields.List(fields.String())


class AdminSaleSchema(Schema):
    id = fields.Integer()
    merchant_id = fields.Integer()
    merchant_name = fields.String(attribute="merchant.name_zh")
    title = fields.String()
    status = fields.String(attribute="effective_status")
    total_stock = fields.Integer()
    starts_at = UTCAware()
    ends_at = UTCAware()
    audit = fields.Nested(SaleAuditSchema, attribute="last_audit", allow_none=True)


class RedemptionRowSchema(Schema):
    id = fields.Integer()
    code = fields.String(attribute="voucher.code")
    campaign_id = fields.Integer(attribute="voucher.campaign_id")
    campaign_title = fields.String(attribute="voucher.campaign.title")
    account_id = fields.Integer()
    redeemed_at = UTCAware()
    reverted_at = UTCAware(allow_none=True)


class CardCodeSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[Ss][Hh][Cc]1-[1-9][0-9]{0,18}-[0-9]{1,12}-[A-Za-z2-7]{10}$",
            error="Not a member card code (SHC1-<card>-<step>-<mac>).",
        ),
        metadata={
            "description": "What the member's card QR carries: SHC1-<card>-<step>-<mac>. "
            "A code of that form that we did not issue is refused as card_code_invalid (422)."
        },
    )


class CardCheckSchema(Schema):
    """A valid card code: who is at the counter, masked (refusals are problems, not this)."""

    name_masked = fields.String(metadata={"example": "李*"})
    card_masked = fields.String(metadata={"example": "6222 **** **** 0017"})
    branch = fields.String()
    federation = fields.String()
    status = fields.String(metadata={"description": "Always active here"})
