"""Flask-WTF forms (CSRF-protected) of the portal and the admin console. Times are entered in
Asia/Shanghai and stored in UTC."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from flashsale.models import CATEGORIES as SALE_CATEGORIES
from marketplace.merchants import CATEGORIES

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"

MERCHANT_CATEGORY_LABELS = {
    "cinema": _l("Cinema"),
    "performance_venue": _l("Performance venue"),
    "scenic_spot": _l("Scenic spot"),
    "car_wash": _l("Car wash"),
    "dining": _l("Dining"),
    "retail": _l("Retail"),
    "services": _l("Services"),
    "other": _l("Other"),
}
SALE_CATEGORY_LABELS = {
    "movie": _l("Movie"),
    "concert": _l("Concert"),
    "attraction": _l("Attraction"),
    "car_wash": _l("Car wash"),
    "other": _l("Other"),
}


def to_utc(value):
    return value.replace(tzinfo=SHANGHAI).astimezone(UTC) if value else None


def to_local(value):
    return value.astimezone(SHANGHAI).replace(tzinfo=None) if value else None


class RegionListField(StringField):
    """Regions ticked in a checkbox list (one ``regions`` value per box), kept as the comma
    separated codes the forms always validated; a single typed ``130102, 130104`` still works.
    Nothing ticked: empty (all regions)."""

    def process_formdata(self, valuelist):
        self.data = ", ".join(v.strip() for v in valuelist if v and v.strip())


class ActionForm(FlaskForm):
    """Only the CSRF token: a button that POSTs."""


class LoginForm(FlaskForm):
    username = StringField(_l("Login name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class ApplicationForm(FlaskForm):
    business_name = StringField(_l("Business name"), validators=[DataRequired(), Length(max=100)])
    licence_no = StringField(
        _l("Business licence number"), validators=[DataRequired(), Length(max=32)]
    )
    category = SelectField(
        _l("Category"), choices=[SelectChoice(c, MERCHANT_CATEGORY_LABELS[c]) for c in CATEGORIES]
    )
    region = StringField(_l("Region"), validators=[DataRequired(), Length(max=6)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=255)])
    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(max=50)])
    contact_phone = StringField(_l("Contact phone"), validators=[DataRequired(), Length(max=20)])
    owner_username = StringField(
        _l("Owner's login name"), validators=[DataRequired(), Length(min=3, max=64)]
    )
    owner_password = PasswordField(
        _l("Owner's password"), validators=[DataRequired(), Length(min=8, max=128)]
    )


class SaleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    category = SelectField(
        _l("Category"), choices=[SelectChoice(c, SALE_CATEGORY_LABELS[c]) for c in SALE_CATEGORIES]
    )
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=200)])
    total_stock = IntegerField(
        _l("Tickets in stock"), validators=[DataRequired(), NumberRange(min=1, max=10_000_000)]
    )
    per_member_limit = IntegerField(
        _l("Tickets per member"),
        default=1,
        validators=[DataRequired(), NumberRange(min=1, max=100)],
    )
    starts_at = DateTimeLocalField(
        _l("Sale opens (Beijing time)"), format=LOCAL_FORMAT, validators=[DataRequired()]
    )
    ends_at = DateTimeLocalField(
        _l("Sale closes (Beijing time)"), format=LOCAL_FORMAT, validators=[DataRequired()]
    )
    valid_from = DateTimeLocalField(
        _l("Vouchers valid from"), format=LOCAL_FORMAT, validators=[DataRequired()]
    )
    valid_until = DateTimeLocalField(
        _l("Vouchers valid until"), format=LOCAL_FORMAT, validators=[DataRequired()]
    )
    cancel_deadline = DateTimeLocalField(
        _l("Members may give tickets back until (optional)"),
        format=LOCAL_FORMAT,
        validators=[Optional()],
    )
    regions = RegionListField(
        _l("Only for regions (none ticked: all)"),
        validators=[Optional(), Length(max=2000)],
    )
    require_active_card = BooleanField(_l("Only members with an activated card"), default=True)
    mode = SelectField(
        _l("How tickets are handed out (fixed once published)"),
        choices=[
            SelectChoice("first_come", _l("First come, first served")),
            SelectChoice("queue", _l("Waiting room (random order for early arrivals)")),
            SelectChoice("lottery", _l("Lottery (members register; a verifiable draw)")),
        ],
        default="first_come",
    )
    queue_opens_at = DateTimeLocalField(
        _l("Waiting room opens (empty: 15 minutes before the sale)"),
        format=LOCAL_FORMAT,
        validators=[Optional()],
    )
    admission_rate = FloatField(
        _l("Waiting room: members admitted per second (empty: 20)"),
        validators=[Optional(), NumberRange(min=0.1, max=100_000)],
    )
    confirm_hours = IntegerField(
        _l("Lottery: winners confirm within (hours; empty: no confirmation)"),
        validators=[Optional(), NumberRange(min=1, max=168)],
    )
    handon_until = DateTimeLocalField(
        _l("Lottery: you may mark unused vouchers and hand them on until (optional)"),
        format=LOCAL_FORMAT,
        validators=[Optional()],
    )
    hardship_weight = IntegerField(
        _l("Lottery: weight of members in hardship (empty: 1)"),
        validators=[Optional(), NumberRange(min=1, max=10)],
    )
    loss_weight = IntegerField(
        _l("Lottery: extra weight per draw lost in the last 180 days (empty: none; at most +3)"),
        validators=[Optional(), NumberRange(min=0, max=5)],
    )
    cover = FileField(_l("Cover picture (JPEG, PNG or WebP, at most 512 KB)"))

    def validate_ends_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The sale must close after it opens."))

    def validate_valid_until(self, field):
        if self.valid_from.data and field.data and field.data <= self.valid_from.data:
            raise ValidationError(_l("Vouchers must stay valid for some time after they start."))
        if self.ends_at.data and field.data and field.data < self.ends_at.data:
            raise ValidationError(_l("Vouchers must stay valid at least until the sale closes."))

    def validate_per_member_limit(self, field):
        if self.mode.data == "queue" and field.data != 1:
            raise ValidationError(_l("A waiting-room sale gives one ticket per member."))
        if self.mode.data == "lottery" and field.data != 1:
            raise ValidationError(_l("A lottery gives one ticket per member."))
        if self.total_stock.data and field.data and field.data > self.total_stock.data:
            raise ValidationError(_l("A member cannot get more tickets than the stock."))

    def validate_regions(self, field):
        for code in self.region_list():
            if not (len(code) == 6 and code.isdigit()):
                raise ValidationError(_l("Region codes have 6 digits."))

    def region_list(self) -> list[str]:
        raw = (self.regions.data or "").replace("，", ",")
        return [c.strip() for c in raw.split(",") if c.strip()]

    def values(self) -> dict:
        """The service's input: UTC times, None for empty optional text."""
        return {
            "title": self.title.data.strip(),
            "title_en": (self.title_en.data or "").strip() or None,
            "description": self.description.data or "",
            "category": self.category.data,
            "venue": self.venue.data or "",
            "total_stock": self.total_stock.data,
            "per_member_limit": self.per_member_limit.data,
            "starts_at": to_utc(self.starts_at.data),
            "ends_at": to_utc(self.ends_at.data),
            "valid_from": to_utc(self.valid_from.data),
            "valid_until": to_utc(self.valid_until.data),
            "cancel_deadline": to_utc(self.cancel_deadline.data),
            "regions": self.region_list() or None,
            "require_active_card": bool(self.require_active_card.data),
            "mode": self.mode.data,
            "queue_opens_at": to_utc(self.queue_opens_at.data),
            "admission_rate": self.admission_rate.data,
            **self.lottery_values(),
        }

    def lottery_values(self) -> dict:
        """The lottery's settings (None for other modes: their fields are for lotteries only)."""
        lottery = self.mode.data == "lottery"
        return {
            "confirm_hours": self.confirm_hours.data if lottery else None,
            "handon_until": to_utc(self.handon_until.data) if lottery else None,
            "hardship_weight": self.hardship_weight.data if lottery else None,
            "loss_weight": self.loss_weight.data if lottery else None,
        }

    def fill(self, campaign) -> None:
        for name in (
            "title",
            "title_en",
            "description",
            "category",
            "venue",
            "total_stock",
            "per_member_limit",
            "require_active_card",
            "mode",
            "admission_rate",
            "confirm_hours",
            "hardship_weight",
            "loss_weight",
        ):
            getattr(self, name).data = getattr(campaign, name)
        for name in (
            "starts_at", "ends_at", "valid_from", "valid_until", "cancel_deadline",
            "queue_opens_at", "handon_until",
        ):  # fmt: skip
            getattr(self, name).data = to_local(getattr(campaign, name))
        self.regions.data = ", ".join(campaign.regions or [])


PHONE_PATTERN = r"^\+?[0-9][0-9 -]{5,19}$"  # onboarding.PHONE_RE: the application's check


class ProfileForm(FlaskForm):
    """The shop profile members see in the directory: the API's ``ProfileSchema`` limits, the
    phone and address under the application's rules, the photo checked by its bytes."""

    opening_hours = StringField(_l("Opening hours"), validators=[Optional(), Length(max=200)])
    contact_phone = StringField(
        _l("Phone"),
        validators=[
            DataRequired(),
            Length(max=20),
            Regexp(PHONE_PATTERN, message=_l("A phone number (digits, spaces or dashes).")),
        ],
    )
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=255)])
    keywords = StringField(
        _l("Search keywords (what members might type to find you)"),
        validators=[Optional(), Length(max=300)],
    )
    photo = FileField(_l("Shop photo (JPEG, PNG or WebP, at most 512 KB)"))
    remove_photo = BooleanField(_l("Remove the photo"))


class TopUpForm(FlaskForm):
    add = IntegerField(
        _l("Add tickets"), validators=[DataRequired(), NumberRange(min=1, max=1_000_000)]
    )


class StaffForm(FlaskForm):
    username = StringField(
        _l("Clerk's login name"), validators=[DataRequired(), Length(min=3, max=64)]
    )
    password = PasswordField(
        _l("First password (at least 8 characters)"),
        validators=[DataRequired(), Length(min=8, max=128)],
    )


class RedeemForm(FlaskForm):
    code = HiddenField(validators=[DataRequired(), Length(max=40)])
    key = HiddenField(validators=[DataRequired(), Length(min=8, max=64)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class SuspendForm(ReasonForm):
    vouchers_valid = BooleanField(_l("Issued vouchers stay valid"), default=True)


class ImportForm(FlaskForm):
    file = FileField(_l("Roster CSV"))


class FreezeForm(FlaskForm):
    card_no = StringField(_l("Card number"), validators=[DataRequired(), Length(max=32)])


class ReissueForm(FlaskForm):
    member_id = IntegerField(_l("Member"), validators=[DataRequired()])
    new_card_no = StringField(_l("New card number"), validators=[DataRequired(), Length(max=32)])
