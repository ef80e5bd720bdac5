"""Marshmallow schemas of the flash-sale API (times are ISO 8601 with an offset, stored in UTC)."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from marketplace.validation import url_field

from .models import CATEGORIES, OFFERED_MODES

IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "schema": {"type": "string", "minLength": 8, "maxLength": 64, "pattern": "^[A-Za-z0-9_.:-]+$"},
}
REGION = validate.Regexp(r"^\d{6}$", error="A region is a 6-digit code.")


class UTCAware(fields.AwareDateTime):
    """Requires an offset on input; always answers in UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.astimezone(UTC).isoformat()


class CampaignInSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    title_en = fields.String(allow_none=True, validate=validate.Length(max=120))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    description_en = fields.String(allow_none=True, validate=validate.Length(max=5000))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    venue = fields.String(load_default="", validate=validate.Length(max=200))
    image_url = url_field()
    total_stock = fields.Integer(required=True, strict=True,
                                 validate=validate.Range(min=1, max=10_000_000))  # fmt: skip
    # Rules across fields (services.check_times) are stated in the descriptions, word for word.
    per_member_limit = fields.Integer(
        load_default=1,
        strict=True,
        validate=validate.Range(min=1, max=100),
        metadata={
            "description": "Must not exceed total_stock. "
            "Must be 1 in queue and lottery modes (one ticket each)."
        },
    )
    starts_at = UTCAware(required=True)
    ends_at = UTCAware(required=True, metadata={"description": "Must be after starts_at."})
    valid_from = UTCAware(required=True)
    valid_until = UTCAware(required=True, metadata={
        "description": "Must be after valid_from. Must not be before ends_at."})  # fmt: skip
    cancel_deadline = UTCAware(allow_none=True)
    require_active_card = fields.Boolean(load_default=True)
    regions = fields.List(fields.String(validate=REGION), allow_none=True,
                          validate=validate.Length(max=200),
                          metadata={"uniqueItems": True})  # fmt: skip

    mode = fields.String(
        load_default="first_come",
        validate=validate.OneOf(OFFERED_MODES),
        metadata={
            "description": "How tickets are handed out; fixed once published. "
            "queue: a waiting room admits members; lottery: members register between starts_at "
            "and ends_at, a verifiable draw picks winners (per_member_limit must be 1)."
        },
    )
    queue_opens_at = UTCAware(
        allow_none=True,
        metadata={
            "description": "Waiting room: members may join from this time (default: 15 minutes "
            "before starts_at). Must not be after starts_at."
        },
    )
    admission_rate = fields.Float(
        allow_none=True,
        validate=validate.Range(min=0.1, max=100_000),
        metadata={"description": "Waiting room: members admitted per second (default 20)."},
    )
    over_admission = fields.Float(
        allow_none=True,
        validate=validate.Range(min=1.0, max=5.0),
        metadata={
            "description": "Waiting room: members admitted and not yet claimed stay "
            "within the unclaimed stock times this factor (default 1.2)."
        },
    )

    # Lottery settings (docs/flashsale.md "Lottery: weights, confirmation, hand-ons"); stated
    # publicly with the sale and fixed once it is published.
    hardship_weight = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=1, max=10),
        metadata={"description": "Lottery: members in hardship (困难职工) weigh this much. "
                                 "Only lottery sales have this setting."},
    )  # fmt: skip
    loss_weight = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=0, max=5),
        metadata={"description": "Lottery: +this weight per draw lost in the last loss_days. "
                                 "Only lottery sales have this setting."},
    )  # fmt: skip
    loss_days = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=1, max=730),
        metadata={"description": "Lottery: how far back lost draws count (default 180). "
                                 "Only lottery sales have this setting."},
    )  # fmt: skip
    loss_cap = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=0, max=20),
        metadata={"description": "Lottery: at most this much extra weight from losses "
                                 "(default 3). Only lottery sales have this setting."},
    )  # fmt: skip
    confirm_hours = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=1, max=168),
        metadata={"description": "Lottery: winners confirm within this many hours of their "
                                 "win, or the ticket passes to the waiting list. "
                                 "Only lottery sales have this setting."},
    )  # fmt: skip
    handon_until = UTCAware(
        allow_none=True,
        metadata={"description": "Lottery: until then the merchant may mark a winner's voucher "
                                 "unused, passing it on. Only lottery sales have this "
                                 "setting. Must not be before ends_at. Must not be after "
                                 "valid_until."},
    )  # fmt: skip

    @validates("regions")
    def _unique(self, value, **_kw):
        if value and len(set(value)) != len(value):
            raise ValidationError("Regions must not repeat.")

    @post_load
    def _empty_regions(self, data, **_kw):
        if "regions" in data and not data["regions"]:
            data["regions"] = None
        return data


class CampaignPatchSchema(CampaignInSchema):
    """Used as ``CampaignPatchSchema(partial=True)``: only the fields sent are changed."""


class CampaignStatsSchema(Schema):
    stock = fields.Integer()
    remaining = fields.Integer()
    claimed = fields.Integer()
    persisted = fields.Integer()
    redeemed = fields.Integer()
    cancelled = fields.Integer()


class CampaignOutSchema(Schema):
    id = fields.Integer()
    merchant_id = fields.Integer()
    merchant_name = fields.String(attribute="merchant.name_zh")
    merchant_name_en = fields.String(attribute="merchant.name_en", allow_none=True)
    title = fields.String()
    title_en = fields.String(allow_none=True)
    description = fields.String()
    description_en = fields.String(allow_none=True)
    category = fields.String()
    venue = fields.String()
    image_url = fields.String(allow_none=True)
    total_stock = fields.Integer()
    per_member_limit = fields.Integer()
    starts_at = UTCAware()
    ends_at = UTCAware()
    valid_from = UTCAware()
    valid_until = UTCAware()
    cancel_deadline = UTCAware(allow_none=True)
    require_active_card = fields.Boolean()
    regions = fields.List(fields.String(), allow_none=True)
    mode = fields.String()
    queue_opens_at = fields.Method("_queue_opens_at")
    hardship_weight = fields.Integer(allow_none=True)
    loss_weight = fields.Integer(allow_none=True)
    loss_days = fields.Integer(allow_none=True)
    loss_cap = fields.Integer(allow_none=True)
    confirm_hours = fields.Integer(allow_none=True)
    handon_until = UTCAware(allow_none=True)
    status = fields.Method("_status")
    remaining = fields.Method("_remaining")

    def _status(self, obj):
        from .services import effective_status

        return effective_status(obj, remaining=self._remaining(obj))

    def _queue_opens_at(self, obj):
        from .services import queue_opens_at

        opens = queue_opens_at(obj)
        return None if opens is None else UTCAware()._serialize(opens, None, None)

    def _remaining(self, obj):
        # Set by the route from the engine (marshmallow 4 has no schema context).
        remaining = getattr(obj, "live_remaining", None)
        return obj.total_stock if remaining is None else remaining


class MerchantCampaignSchema(CampaignOutSchema):
    admission_rate = fields.Float(allow_none=True)
    over_admission = fields.Float(allow_none=True)
    stats = fields.Method("_stats")

    def _stats(self, obj):
        stats = getattr(obj, "live_stats", None)
        return CampaignStatsSchema().dump(stats) if stats else None


class SaleVoucherSchema(Schema):
    code = fields.String()
    claim_id = fields.String()
    status = fields.Method("_status")
    campaign_id = fields.Integer()
    campaign_title = fields.String(attribute="campaign.title")
    campaign_title_en = fields.String(attribute="campaign.title_en", allow_none=True)
    venue = fields.String(attribute="campaign.venue")
    claimed_at = UTCAware()
    valid_from = UTCAware()
    valid_until = UTCAware()
    redeemed_at = UTCAware(allow_none=True)
    cancelled_at = UTCAware(allow_none=True)

    def _status(self, obj):
        from .vouchers import display_status

        return display_status(obj)


class RedeemInSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))


class VoucherRedemptionSchema(Schema):
    id = fields.Integer()
    redeemed_at = UTCAware()
    reverted_at = UTCAware(allow_none=True)
    account_id = fields.Integer()
    voucher = fields.Nested(SaleVoucherSchema)


class ClaimVoucherSchema(Schema):
    code = fields.String()
    status = fields.String()
    campaign_id = fields.Integer()
    valid_from = fields.String()
    valid_until = fields.String()


class ClaimSchema(Schema):
    claim_id = fields.String()
    voucher = fields.Nested(ClaimVoucherSchema)
