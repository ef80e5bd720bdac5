"""Words for the codes the portal and admin pages show (issue #18 item 4): audit actions, roles,
subjects, audit details, merchant categories and regions by name. A code without a label is
shown as it is (and ``tests/merchant_portal/test_labels.py`` fails for any audit action recorded
in the code without one)."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from marketplace.members.identity import regions

from .forms import MERCHANT_CATEGORY_LABELS, SALE_CATEGORY_LABELS

AUDIT_ACTIONS = {
    "account.password_changed": _l("Password changed"),
    "account.created": _l("Account created"),
    "account.reset_code_issued": _l("Password reset code issued"),
    "account.password_reset": _l("Password reset with a union code"),
    "announcement.create": _l("Announcement published"),
    "announcement.withdraw": _l("Announcement withdrawn"),
    "booking.cancel": _l("Booking cancelled"),
    "booking.confirm": _l("Booking confirmed"),
    "booking.expire": _l("Hold expired"),
    "booking.hold": _l("Seat held"),
    "campaign.cancel": _l("Sale cancelled"),
    "campaign.create": _l("Sale created"),
    "campaign.draw": _l("Lottery drawn"),
    "campaign.duplicate": _l("Sale duplicated"),
    "campaign.patch": _l("Sale edited"),
    "campaign.publish": _l("Sale published"),
    "campaign.queue_rate": _l("Admission rate changed"),
    "card.activated": _l("Card activated"),
    "card.frozen": _l("Card frozen"),
    "card.reissued": _l("Card reissued"),
    "card.verify": _l("Card checked at the counter"),
    "card.verify_refused": _l("Card code refused at the counter"),
    "conversation.assign": _l("Conversation assigned"),
    "conversation.close": _l("Conversation closed"),
    "cover.export": _l("Cover list exported"),
    "cover.upload": _l("Cover list uploaded"),
    "cover_document.download": _l("Cover document downloaded"),
    "cover_incident.report": _l("Cover incident reported"),
    "cover_incident.reported": _l("Cover incident reported"),
    "cover_incident.reviewing": _l("Cover incident under review"),
    "cover_incident.settled": _l("Cover incident settled"),
    "cover_incident.declined": _l("Cover incident declined"),
    "fund.commit": _l("Fund committed"),
    "fund.create": _l("Fund created"),
    "groupbuy.cancelled": _l("Group-buy cancelled"),
    "groupbuy.closed": _l("Group-buy closed"),
    "groupbuy.created": _l("Group-buy created"),
    "groupbuy.failed": _l("Group-buy failed"),
    "groupbuy.joined": _l("Joined a group-buy"),
    "groupbuy.left": _l("Left a group-buy"),
    "groupbuy.succeeded": _l("Group-buy succeeded"),
    "groupbuy_team.dissolved": _l("Team dissolved"),
    "groupbuy_team.opened": _l("Team opened"),
    "groupbuy_team.succeeded": _l("Team complete"),
    "groupbuy_voucher.redeemed": _l("Group-buy voucher redeemed"),
    "job.create": _l("Job listing created"),
    "job.interest": _l("Interest in a job"),
    "job.update": _l("Job listing edited"),
    "lottery.hand_on": _l("Lottery ticket passed on"),
    "member.hardship": _l("Hardship flag changed"),
    "member.registered": _l("Member registered"),
    "member.search": _l("Member search"),
    "merchant.apply": _l("Merchant applied"),
    "merchant.approve": _l("Merchant approved"),
    "merchant.create": _l("Merchant created"),
    "merchant.reinstate": _l("Suspension lifted"),
    "merchant.reject": _l("Application rejected"),
    "merchant.suspend": _l("Merchant suspended"),
    "merchant.profile_updated": _l("Shop profile edited"),
    "no_show.ban": _l("No-show bar"),
    "no_show.lift": _l("No-show bar lifted"),
    "offer.created": _l("Offer created"),
    "offer.updated": _l("Offer edited"),
    "payout.confirm": _l("Payout confirmed"),
    "payout.download": _l("Payout list downloaded"),
    "payout.export": _l("Payout list exported"),
    "sale.fairness_publish": _l("Fairness figures published"),
    "sale_rule.delete": _l("Sale rule deleted"),
    "sale_rule.set": _l("Sale rule set"),
    "service.create": _l("Service created"),
    "service.update": _l("Service edited"),
    "service_application.submit": _l("Application submitted"),
    "service_application.resubmit": _l("Application resubmitted"),
    "service_application.branch_pass": _l("Checked by the branch"),
    "service_application.approve": _l("Application approved"),
    "service_application.reject": _l("Application refused"),
    "service_application.request_documents": _l("Documents requested"),
    "service_document.download": _l("Application document downloaded"),
    "slot.create": _l("Appointment slot created"),
    "staff.add": _l("Clerk added"),
    "staff.remove": _l("Clerk removed"),
    "voucher.cancel": _l("Voucher cancelled"),
    "voucher.redeem": _l("Voucher redeemed"),
    "voucher.revert": _l("Redemption reverted"),
}

ROLES = {
    "member": _l("Member"),
    "merchant_owner": _l("Merchant owner"),
    "merchant_clerk": _l("Counter clerk"),
    "admin": _l("Union administrator"),
    "branch_admin": _l("Branch admin"),
}

SUBJECTS = {
    "account": _l("Account"),
    "announcement": _l("Announcement"),
    "campaign": _l("Sale"),
    "card": _l("Card"),
    "conversation": _l("Conversation"),
    "groupbuy": _l("Group-buy"),
    "groupbuy_team": _l("Team"),
    "groupbuy_voucher": _l("Group-buy voucher"),
    "member_search": _l("Member search"),
    "cover_document": _l("Cover document"),
    "cover_image": _l("Cover image"),
    "cover_incident": _l("Cover incident"),
    "job_listing": _l("Job listing"),
    "member": _l("Member"),
    "merchant": _l("Merchant"),
    "offer": _l("Offer"),
    "payout_batch": _l("Payout list"),
    "sale_rule": _l("Sale rule"),
    "service_application": _l("Application"),
    "service_booking": _l("Booking"),
    "service_document": _l("Application document"),
    "service_fund": _l("Fund"),
    "service_slot": _l("Appointment slot"),
    "union_service": _l("Union service"),
    "voucher": _l("Voucher"),
}

DETAILS = {
    "member_id": _l("Member no."),
    "client": _l("Address"),
    "reason": _l("Reason"),
    "status": _l("Status"),
    "changed": _l("Changed"),
    "fields": _l("Fields"),
    "code": _l("Code"),
    "count": _l("Count"),
    "role": _l("Role"),
    "username": _l("Login"),
    "scope": _l("Scope"),
    "title": _l("Title"),
    "amount_cents": _l("Amount (cents)"),
    "entrants": _l("Entrants"),
    "winners": _l("Winners"),
    "monthly_limit": _l("Monthly limit"),
    "no_shows": _l("No-shows"),
    "query": _l("Query"),
    "results": _l("Results"),
    "mode": _l("Mode"),
    "kind": _l("Kind"),
    "to": _l("To"),
    "from": _l("From"),
    "opening_hours": _l("Opening hours"),
    "keywords": _l("Keywords"),
    "max": _l("Maximum"),
    "org_id": _l("Organisation"),
    "phone": _l("Phone"),
    "address": _l("Address"),
    "name_zh": _l("Name"),
    # union services and messages
    "name": _l("Fund name"),
    "year": _l("Year"),
    "budget_cents": _l("Budget (cents)"),
    "total_cents": _l("Total (cents)"),
    "service_id": _l("Service no."),
    "application_id": _l("Application no."),
    "fund_id": _l("Fund no."),
    "slot_id": _l("Slot no."),
    "incident_id": _l("Incident no."),
    "enrolment_id": _l("Cover no."),
    "capacity": _l("Seats"),
    "employer": _l("Employer"),
    "position": _l("Position"),
    "audience": _l("Audience"),
    "account_id": _l("Account no."),
    "groupbuy_id": _l("Group-buy no."),
    "participants": _l("Participants"),
    "size": _l("Size (bytes)"),
    "type": _l("Type"),
    "owner": _l("Owner"),
    "licence_no": _l("Licence no."),
    "hardship": _l("Hardship"),
}
# Kinds of union service (unionservices.models.KINDS), as audit details show them.
SERVICE_KINDS = {
    "aid": _l("Aid and subsidies"),
    "cover": _l("Free cover"),
    "course": _l("Skills training"),
    "appointment": _l("Legal aid and counselling"),
    "job": _l("Job referral"),
}


MODES = {
    "first_come": _l("First come, first served"),
    "queue": _l("Waiting room"),
    "lottery": _l("Lottery"),
}
KINDS = {"tipping": _l("Group-buy"), "team": _l("Team deal")}


# Roster rows the import refused (marketplace/members/importer.py MESSAGES, stored in English):
# the reason in the page's language, with the field or encoding the stored message names.
IMPORT_REASONS = {
    "missing_field": _l("Required field is empty: %(field)s"),
    "field_too_long": _l("Field is too long: %(field)s"),
    "bad_card_number": _l("Card number must have 16-19 digits"),
    "bad_card_checksum": _l("Card number check digit is wrong"),
    "bad_id_number": _l("ID number must be 18 characters with a valid birth date"),
    "bad_id_checksum": _l("ID number check digit is wrong"),
    "bad_phone": _l("Phone is not a mainland mobile number"),
    "bad_region": _l("Unknown region code"),
    "duplicate_card": _l("Card number already belongs to another person"),
    "duplicate_person": _l("This person already holds another card"),
    "bad_characters": _l("Row contains NUL bytes or control characters"),
    "undecodable": _l("Row contains bytes that are not valid %(field)s text"),
    "bad_row": _l("Row cannot be read as CSV"),
}
ROSTER_COLUMNS = {
    "card_no": _l("Card number"), "name": _l("Name"), "id_number": _l("ID number"),
    "phone": _l("Mobile number"), "branch": _l("Branch union"), "region": _l("Region code"),
    "hardship": _l("Hardship"),
}  # fmt: skip


def import_reason(code: str, message: str) -> str:
    """Why a roster row was refused, in words of the page's language. The stored English
    message carries the field (``Required field is empty: phone``) or the encoding; it is read
    back with the message's own template. An unknown code shows the stored message."""
    import re

    from marketplace.members.importer import MESSAGES

    label, template = IMPORT_REASONS.get(code), MESSAGES.get(code)
    if label is None or template is None:
        return message
    pattern = re.escape(template).replace(re.escape("{field}"), "(.*)")
    found = re.fullmatch(pattern, message or "")
    field = found.group(1) if found and found.groups() else ""
    return str(label) % {"field": str(ROSTER_COLUMNS.get(field, field))}


# Why a whole import failed (stored in English by marketplace/members: importer, jobs).
IMPORT_FAILURES = {
    "The header row cannot be read as CSV.": _l("The header row cannot be read as CSV."),
    "The file is empty.": _l("The file is empty."),
    "Internal error; upload the file again.": _l("Internal error; upload the file again."),
    "Internal error; the import will be retried.": _l(
        "Internal error; the import will be retried."),
    "The uploaded file is no longer available.": _l("The uploaded file is no longer available."),
}  # fmt: skip
_LACKS = "Header row lacks columns: "


def import_failure(message: str | None) -> str:
    """A failed import's stored English reason in the page's language (unknown ones as they are)."""
    if not message:
        return ""
    if message.startswith(_LACKS):
        names = [str(ROSTER_COLUMNS.get(c.strip(), c.strip()))
                 for c in message[len(_LACKS):].split(",")]  # fmt: skip
        comma = ", " if str(get_locale() or "zh").startswith("en") else "、"
        return str(_l("The header row lacks columns: %(columns)s")) % {
            "columns": comma.join(names)}  # fmt: skip
    return str(IMPORT_FAILURES.get(message, message))


def value_label(key: str, value) -> str:
    """A detail's value in words where it is a code (role, kind, mode, category, region)."""
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return "、".join(detail_label(str(v)) for v in value)
    if key == "role":
        return role_label(value)
    if key in ("kind", "mode"):  # sale modes, group-buy modes (tipping, team), service kinds
        return str(MODES.get(value) or KINDS.get(value) or SERVICE_KINDS.get(value) or value)
    if key == "audience":  # an announcement's audience key: all, org:<id>, region:<code>
        kind, _, rest = str(value).partition(":")
        if kind == "all":
            return str(_l("Everyone"))
        if kind == "region":
            return region_label(rest)
        if kind == "org":
            return f"{_l('Organisation')} {rest}"
    if key == "category":
        return category_label(value)
    if key == "region":
        return region_label(value)
    return str(value)


def action_label(action: str | None) -> str:
    return str(AUDIT_ACTIONS.get(action or "", action or ""))


def role_label(role: str | None) -> str:
    return str(ROLES.get(role or "", role or ""))


def subject_label(subject: str | None) -> str:
    return str(SUBJECTS.get(subject or "", subject or ""))


def detail_label(key: str) -> str:
    return str(DETAILS.get(key, key))


def category_label(code: str | None) -> str:
    if not code:
        return "—"
    return str(MERCHANT_CATEGORY_LABELS.get(code) or SALE_CATEGORY_LABELS.get(code) or code)


def region_label(code: str | None) -> str:
    """A region by name in the page's language (``130108`` -> 裕华区), the code kept for unknown
    ones; ``—`` for none."""
    if not code:
        return "—"
    row = regions().get(str(code))
    if row is None:
        return str(code)
    english = str(get_locale() or "zh").startswith("en")
    return row["name_en"] if english and row.get("name_en") else row["name_zh"]


CITIES = {
    "130100": _l("Shijiazhuang"),
    "110100": _l("Beijing"),
    "120100": _l("Tianjin"),
    "130600": _l("Baoding"),
    "131000": _l("Langfang"),
}


def region_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The region table for pickers (issue #18 item 5): ``[(city, [(code, name), ...]), ...]`` in
    the table's order (Shijiazhuang first), names in the page's language."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, row in regions().items():
        groups.setdefault(row.get("city_code") or "", []).append((code, region_label(code)))
    return [(str(CITIES.get(city, city)), items) for city, items in groups.items()]


def region_codes(value) -> list[str]:
    """The codes in a form field's text (``130102, 130104`` or ``130102，130104``)."""
    raw = str(value or "").replace("，", ",")
    return [c.strip() for c in raw.split(",") if c.strip()]


HELPERS = {
    "action_label": action_label,
    "role_label": role_label,
    "subject_label": subject_label,
    "detail_label": detail_label,
    "category_label": category_label,
    "region_label": region_label,
    "value_label": value_label,
    "mode_label": lambda mode: str(MODES.get(mode, mode)),
    "region_groups": region_groups,
    "region_codes": region_codes,
}
