"""Request and response schemas of the catalogue API (marshmallow, documented by smorest)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from marketplace.members.identity import regions, valid_region
from marketplace.merchants import CATEGORIES
from marketplace.pagination import PageArgsSchema
from marketplace.validation import id_field, url_field

MEMBER_CATEGORIES = tuple(c for c in CATEGORIES if c != "other")
_category = fields.String(validate=validate.OneOf(CATEGORIES))


class RegionsField(fields.List):
    """Region codes from regions.csv; an empty list means every region of the city."""

    def __init__(self, **kwargs):
        # The codes go into the document as an enum; the check (and its message) stays below.
        codes = sorted(regions())
        super().__init__(
            fields.String(validate=validate.Length(equal=6), metadata={"enum": codes}),
            validate=validate.Length(max=100),
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        codes = super()._deserialize(value, attr, data, **kwargs)
        unknown = sorted({c for c in codes if not valid_region(c)})
        if unknown:
            raise ValidationError(f"Unknown region codes: {', '.join(unknown)}.")
        return codes


# -- directory --------------------------------------------------------------------------------


class MerchantListArgs(PageArgsSchema):
    category = _category
    district = fields.String(validate=validate.Length(equal=6))
    q = fields.String(validate=validate.Length(max=100))


class DirectoryMerchantSchema(Schema):
    id = fields.Integer()
    name_zh = fields.String()
    name_en = fields.String(allow_none=True)
    category = fields.String()
    district = fields.String(attribute="region")
    address = fields.String()
    opening_hours = fields.Function(lambda m: m.profile.opening_hours if m.profile else "")
    photo_url = fields.Function(lambda m: m.profile.photo_url if m.profile else None)
    keywords = fields.Function(lambda m: m.profile.keywords if m.profile else "")
    current_offers = fields.Integer(dump_default=0)


class ProfileSchema(Schema):
    opening_hours = fields.String(validate=validate.Length(max=200))
    photo_url = url_field()
    keywords = fields.String(validate=validate.Length(max=300))


class OfferListArgs(PageArgsSchema):
    category = _category
    merchant_id = id_field()
    q = fields.String(validate=validate.Length(max=100))


class OfferSchema(Schema):
    id = fields.Integer(dump_only=True)
    merchant_id = fields.Integer(dump_only=True)
    merchant_name = fields.Function(lambda o: o.merchant.name_zh, dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    title_en = fields.String(allow_none=True, validate=validate.Length(max=120))
    terms = fields.String(load_default="", validate=validate.Length(max=4000))
    terms_en = fields.String(allow_none=True, validate=validate.Length(max=4000))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    valid_from = fields.AwareDateTime(required=True)
    valid_until = fields.AwareDateTime(
        required=True, metadata={"description": "Must be after valid_from."}
    )
    regions = RegionsField(load_default=list)
    alliance = fields.Boolean(load_default=False)
    status = fields.String(
        load_default="published", validate=validate.OneOf(("draft", "published", "withdrawn"))
    )
    favourite = fields.Boolean(dump_only=True)


class OfferPatchSchema(OfferSchema):
    """Every field optional: only what is sent changes."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class DirectoryMerchantDetailSchema(DirectoryMerchantSchema):
    offers = fields.List(fields.Nested(OfferSchema))


# -- group-buys -------------------------------------------------------------------------------


class GroupBuyListArgs(PageArgsSchema):
    category = _category
    mode = fields.String(validate=validate.OneOf(("tipping", "team")))
    q = fields.String(validate=validate.Length(max=100))
    sort = fields.String(load_default="deadline", validate=validate.OneOf(("deadline", "popular")))


class GroupBuySchema(Schema):
    id = fields.Integer(dump_only=True)
    merchant_id = fields.Integer(dump_only=True)
    merchant_name = fields.Function(lambda d: d.merchant.name_zh, dump_only=True)
    mode = fields.String(required=True, validate=validate.OneOf(("tipping", "team")))
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    title_en = fields.String(allow_none=True, validate=validate.Length(max=120))
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    description_en = fields.String(allow_none=True, validate=validate.Length(max=4000))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    image_url = url_field()
    # Rules across fields (groupbuy_admin._validate) are stated in the descriptions, word for word.
    member_price_cents = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=10**8),
        metadata={"description": "Must not exceed the usual price."},
    )
    usual_price_cents = fields.Integer(required=True, validate=validate.Range(min=0, max=10**8))
    min_participants = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    max_participants = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "Must be at least min_participants. Must hold at least one team."},
    )
    per_member_limit = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=10),
        metadata={"description": "Team deals allow one place per member."},
    )
    team_size = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=2, max=50),
        metadata={"description": "Team deals need team_size and team_window_seconds."},
    )
    team_window_seconds = fields.Integer(
        allow_none=True, validate=validate.Range(min=60, max=7 * 86400)
    )
    opens_at = fields.AwareDateTime(required=True)
    deadline = fields.AwareDateTime(
        required=True, metadata={"description": "Must be after opens_at. Must be in the future."}
    )
    voucher_valid_until = fields.AwareDateTime(
        required=True, metadata={"description": "Must be after the deadline."}
    )
    regions = RegionsField(load_default=list)
    alliance = fields.Boolean(load_default=False)
    state = fields.String(dump_only=True)
    joined = fields.Integer(dump_only=True)
    decided_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class TeamSchema(Schema):
    id = fields.Integer()
    groupbuy_id = fields.Integer()
    size = fields.Integer()
    joined = fields.Integer()
    state = fields.String()
    expires_at = fields.AwareDateTime()
    share_url = fields.Function(lambda t: f"/m/groupbuys/{t.groupbuy_id}?team={t.id}")


class VoucherSchema(Schema):
    code = fields.String()
    qty = fields.Integer()
    status = fields.String()
    valid_until = fields.AwareDateTime()
    redeemed_at = fields.AwareDateTime(allow_none=True)


class PlaceSchema(Schema):
    id = fields.Integer()
    groupbuy_id = fields.Integer()
    team_id = fields.Integer(allow_none=True)
    qty = fields.Integer()
    state = fields.String()
    joined_at = fields.AwareDateTime()
    left_at = fields.AwareDateTime(allow_none=True)


class GroupBuyBriefSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    title_en = fields.String(allow_none=True)
    mode = fields.String()
    state = fields.String()
    deadline = fields.AwareDateTime()
    joined = fields.Integer()
    min_participants = fields.Integer()
    merchant_name = fields.Function(lambda d: d.merchant.name_zh)


class MyPlaceSchema(PlaceSchema):
    groupbuy = fields.Nested(GroupBuyBriefSchema)
    team = fields.Nested(TeamSchema, allow_none=True)
    voucher = fields.Nested(VoucherSchema, allow_none=True)


class GroupBuyDetailSchema(GroupBuySchema):
    remaining = fields.Integer()
    my_place = fields.Nested(PlaceSchema, allow_none=True)
    teams = fields.List(fields.Nested(TeamSchema))


class JoinSchema(Schema):
    qty = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10))
    team_id = id_field(load_default=None, allow_none=True)


class MyTeamSchema(TeamSchema):
    groupbuy = fields.Nested(GroupBuyBriefSchema)


class RedeemSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=4, max=16))


class RedeemedSchema(VoucherSchema):
    groupbuy_id = fields.Integer()
    member_price_cents = fields.Function(lambda v: v.groupbuy.member_price_cents)
