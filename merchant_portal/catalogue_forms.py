"""Forms of the portal's discount-offer and group-buy pages. Times are Beijing time, prices yuan;
``values()`` turns them into what the catalogue services (and the JSON API) take."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from marketplace.members.identity import valid_region
from marketplace.merchants import CATEGORIES
from marketplace.models import utcnow

from .forms import LOCAL_FORMAT, MERCHANT_CATEGORY_LABELS, RegionListField, to_local, to_utc

OFFER_STATUS_LABELS = {
    "published": _l("Published"),
    "draft": _l("Draft (hidden from members)"),
    "withdrawn": _l("Withdrawn"),
}
MODE_LABELS = {
    "tipping": _l("Tipping point: the deal happens if enough members join by the deadline"),
    "team": _l("Teams: a member opens a team and friends fill it within a time window"),
}


def _category():
    return SelectField(
        _l("Category"), choices=[SelectChoice(c, MERCHANT_CATEGORY_LABELS[c]) for c in CATEGORIES]
    )


def _when(label):
    return DateTimeLocalField(label, format=LOCAL_FORMAT, validators=[DataRequired()])


class RegionsMixin:
    """Region codes ticked in a list (``RegionListField``); the API's ``RegionsField`` check."""

    def validate_regions(self, field):
        codes = self.region_list()
        if any(not (len(c) == 6 and c.isdigit()) for c in codes):
            raise ValidationError(_l("Region codes have 6 digits."))
        unknown = [c for c in codes if not valid_region(c)]
        if unknown:
            raise ValidationError(_l("Unknown region codes: %(codes)s.", codes=", ".join(unknown)))

    def region_list(self) -> list[str]:
        raw = (self.regions.data or "").replace("，", ",")
        return list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))


def _regions():
    return RegionListField(
        _l("Only for regions (none ticked: your whole city)"),
        validators=[Optional(), Length(max=2000)],
    )


def _alliance():
    return BooleanField(
        _l("Also show to members from the other cities of our alliance (Beijing-Tianjin-Hebei)")
    )


def _text(value) -> str | None:
    return (value or "").strip() or None


class OfferForm(RegionsMixin, FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=120)])
    terms = TextAreaField(_l("Terms"), validators=[Optional(), Length(max=4000)])
    terms_en = TextAreaField(_l("Terms in English"), validators=[Optional(), Length(max=4000)])
    category = _category()
    valid_from = _when(_l("Valid from (Beijing time)"))
    valid_until = _when(_l("Valid until (Beijing time)"))
    regions = _regions()
    alliance = _alliance()
    status = SelectField(
        _l("Status"), choices=[SelectChoice(k, v) for k, v in OFFER_STATUS_LABELS.items()]
    )

    def validate_valid_until(self, field):
        if self.valid_from.data and field.data and field.data <= self.valid_from.data:
            raise ValidationError(_l("The offer must end after it starts."))

    def values(self) -> dict:
        return {
            "title": self.title.data.strip(),
            "title_en": _text(self.title_en.data),
            "terms": self.terms.data or "",
            "terms_en": _text(self.terms_en.data),
            "category": self.category.data,
            "valid_from": to_utc(self.valid_from.data),
            "valid_until": to_utc(self.valid_until.data),
            "regions": self.region_list(),
            "alliance": bool(self.alliance.data),
            "status": self.status.data,
        }

    def fill(self, offer) -> None:
        for name in ("title", "title_en", "terms", "terms_en", "category", "alliance", "status"):
            getattr(self, name).data = getattr(offer, name)
        self.valid_from.data = to_local(offer.valid_from)
        self.valid_until.data = to_local(offer.valid_until)
        self.regions.data = ", ".join(offer.regions or [])


def _price(label):
    return DecimalField(
        label, places=2, validators=[InputRequired(), NumberRange(min=0, max=1_000_000)]
    )


def _count(label, low=1, high=100_000, required=True):
    checks = [InputRequired() if required else Optional(), NumberRange(min=low, max=high)]
    return IntegerField(label, validators=checks)


class GroupBuyForm(RegionsMixin, FlaskForm):
    mode = SelectField(_l("Kind"), choices=[SelectChoice(k, v) for k, v in MODE_LABELS.items()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    category = _category()
    member_price = _price(_l("Member price (yuan)"))
    usual_price = _price(_l("Usual price (yuan)"))
    min_participants = _count(_l("Members needed for the deal to happen"))
    max_participants = _count(_l("Most places available"))
    per_member_limit = _count(_l("Places per member"), high=10)
    team_size = _count(_l("Team size (team deals)"), low=2, high=50, required=False)
    team_window_minutes = _count(
        _l("Minutes a team has to fill up (team deals)"), high=7 * 24 * 60, required=False
    )
    opens_at = _when(_l("Joining opens (Beijing time)"))
    deadline = _when(_l("Deadline (Beijing time)"))
    voucher_valid_until = _when(_l("Vouchers valid until (Beijing time)"))
    regions = _regions()
    alliance = _alliance()

    def validate_deadline(self, field):
        if self.opens_at.data and field.data and field.data <= self.opens_at.data:
            raise ValidationError(_l("The deadline must be after joining opens."))
        if field.data and to_utc(field.data) <= utcnow():
            raise ValidationError(_l("The deadline must be in the future."))

    def validate_voucher_valid_until(self, field):
        if self.deadline.data and field.data and field.data <= self.deadline.data:
            raise ValidationError(_l("Vouchers must stay valid after the deadline."))

    def validate_max_participants(self, field):
        low = self.min_participants.data
        if low and field.data is not None and field.data < low:
            raise ValidationError(_l("There must be at least as many places as members needed."))
        size = self.team_size.data
        if self.mode.data == "team" and size and field.data is not None and field.data < size:
            raise ValidationError(_l("There must be room for at least one full team."))

    def validate_member_price(self, field):
        usual = self.usual_price.data
        if usual is not None and field.data is not None and field.data > usual:
            raise ValidationError(_l("The member price cannot be above the usual price."))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.mode.data != "team":  # the team fields are optional (Optional stops checks)
            return ok
        for field, sentence in (
            (self.team_size, _l("Team deals need a team size (2 to 50).")),
            (self.team_window_minutes, _l("Team deals need the minutes a team has to fill up.")),
        ):
            if not field.data and not field.errors:
                field.errors = [*field.errors, sentence]
                ok = False
        return ok

    def validate_per_member_limit(self, field):
        if self.mode.data == "team" and field.data not in (None, 1):
            raise ValidationError(_l("In team deals each member takes one place."))

    def values(self) -> dict:
        team = self.mode.data == "team"
        return {
            "mode": self.mode.data,
            "title": self.title.data.strip(),
            "title_en": _text(self.title_en.data),
            "description": self.description.data or "",
            "category": self.category.data,
            "member_price_cents": _cents(self.member_price.data),
            "usual_price_cents": _cents(self.usual_price.data),
            "min_participants": self.min_participants.data,
            "max_participants": self.max_participants.data,
            "per_member_limit": 1 if team else self.per_member_limit.data,
            "team_size": self.team_size.data if team else None,
            "team_window_seconds": self.team_window_minutes.data * 60 if team else None,
            "opens_at": to_utc(self.opens_at.data),
            "deadline": to_utc(self.deadline.data),
            "voucher_valid_until": to_utc(self.voucher_valid_until.data),
            "regions": self.region_list(),
            "alliance": bool(self.alliance.data),
        }


def _cents(yuan: Decimal) -> int:
    return int((yuan * 100).to_integral_value())


# The service's field names (API) -> this form's fields, for errors the service finds.
GROUPBUY_FIELDS = {
    "member_price_cents": "member_price",
    "usual_price_cents": "usual_price",
    "team_window_seconds": "team_window_minutes",
}
