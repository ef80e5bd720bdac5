"""Member and card rules: activation, freezing, reissuing, and the "one person, one card" rule."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.exc import IntegrityError

from .. import orgs
from ..auth import ratelimit
from ..auth.models import Account
from ..auth.passwords import hash_password
from ..auth.services import check_password_policy
from ..auth.tokens import bump_token_version, publish_version
from ..errors import Conflict, NotFound, Problem, ValidationFailed
from ..extensions import db
from ..models import record_audit, utcnow
from . import identity
from .models import LIVE_STATUSES, Card, Member

ACTIVATION_FAILED = "The card details do not match our records."


def hash_id(id_number: str) -> str:
    return identity.id_hash(current_app.config["ID_HASH_KEY"], id_number)


def card_by_no(card_no: str) -> Card | None:
    return db.session.execute(
        db.select(Card).where(Card.card_no == identity.normalise_card(card_no))
    ).scalar_one_or_none()


def member_by_id_number(id_number: str) -> Member | None:
    return db.session.execute(
        db.select(Member).where(Member.id_hash == hash_id(id_number))
    ).scalar_one_or_none()


def register_member(
    *,
    card_no: str,
    name: str,
    id_number: str,
    phone: str,
    region: str,
    branch: str = "",
    actor=None,
) -> Member:
    """Add one person with an issued card (the roster import does the same in bulk)."""
    errors: dict[str, list[str]] = {}
    card_no = identity.normalise_card(card_no)
    id_number = identity.normalise_id(id_number)
    phone = identity.normalise_phone(phone)
    if not identity.valid_card_no(card_no):
        errors["card_no"] = ["16-19 digits with a valid check digit."]
    if not identity.valid_resident_id(id_number):
        errors["id_number"] = ["Not a valid resident ID number."]
    if not identity.valid_phone(phone):
        errors["phone"] = ["Not a valid mobile number."]
    if not identity.valid_region(region):
        errors["region"] = ["Unknown region code."]
    if not name.strip() or len(name.strip()) > 50:
        errors["name"] = ["1 to 50 characters."]
    if errors:
        raise ValidationFailed(errors=errors)
    if card_by_no(card_no) is not None:
        raise Conflict("This card number is already issued.", code="duplicate_card")
    if member_by_id_number(id_number) is not None:
        raise Conflict("This person already holds a card.", code="duplicate_person")
    member = Member(
        name=name.strip(),
        id_hash=hash_id(id_number),
        id_last4=id_number[-4:],
        phone=phone,
        branch=branch.strip(),
        region=region,
        org_id=orgs.ensure_branch(region, branch.strip()[:100]),
    )
    member.cards.append(Card(card_no=card_no, status="issued"))
    db.session.add(member)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent registration won the race
        db.session.rollback()
        raise Conflict(
            "This person or card is already registered.", code="duplicate_person"
        ) from None
    record_audit("member.registered", "member", member.id, actor=actor)
    db.session.commit()
    return member


def activate(
    *, card_no: str, name: str, id_number: str, phone: str, password: str, client_ip: str | None
) -> Account:
    """Check the holder's details against the roster and open their account.

    Every mismatch gives the same answer, so the endpoint cannot be used to learn which field
    of someone's record is right; failures count against the card per client address, and
    against the card overall (a higher ceiling that slows every address down, never locks).
    """
    card_no = identity.normalise_card(card_no)
    ratelimit.ACTIVATION.before(card_no, client_ip)
    ratelimit.check("ACTIVATION_IP_LIMIT", client_ip or "unknown")
    check_password_policy(password)
    card = card_by_no(card_no) if identity.card_format_ok(card_no) else None
    member = card.member if card else None
    matches = (
        member is not None
        and identity.valid_resident_id(id_number)
        and member.id_hash == hash_id(id_number)
        and member.name == name.strip()
        and member.phone == identity.normalise_phone(phone)
        and card.status in ("issued", "active")
    )
    if not matches:
        ratelimit.ACTIVATION.failed(card_no, client_ip)
        ratelimit.hit("ACTIVATION_IP_LIMIT", client_ip or "unknown")
        raise Problem(
            ACTIVATION_FAILED, status=422, code="activation_failed", title="Activation failed"
        )
    if card.status == "active":
        raise Conflict("This card is already activated; log in instead.", code="already_active")
    ratelimit.ACTIVATION.succeeded(card_no, client_ip)
    account = db.session.execute(
        db.select(Account).where(Account.member_id == member.id)
    ).scalar_one_or_none()
    if account is None:
        account = Account(
            username=card.card_no,
            role="member",
            member_id=member.id,
            password_hash=hash_password(password),
        )
        db.session.add(account)
    else:  # a reissued card: same account (vouchers and history follow the member)
        account.username = card.card_no
        account.password_hash = hash_password(password)
        account.token_version += 1
    card.status = "active"
    card.activated_at = utcnow()
    db.session.flush()
    record_audit("card.activated", "card", card.id, actor=account)
    db.session.commit()
    publish_version(account.id, account.token_version)
    return account


def member_account(member_id: int) -> Account | None:
    return db.session.execute(
        db.select(Account).where(Account.member_id == member_id)
    ).scalar_one_or_none()


def _revoke_member(member_id: int) -> None:
    account = member_account(member_id)
    if account is not None:
        bump_token_version(account)  # commits


def freeze_card(card_no: str, *, actor=None) -> Card:
    """Freeze a card (lost or misused): its tokens and sessions are revoked at once."""
    card = card_by_no(card_no)
    if card is None:
        raise NotFound("No such card.")
    if card.status == "cancelled":
        raise Conflict("A cancelled card cannot be frozen.", code="card_cancelled")
    if card.status != "frozen":
        card.status = "frozen"
        card.frozen_at = utcnow()
        record_audit("card.frozen", "card", card.id, actor=actor)
        db.session.commit()
    _revoke_member(card.member_id)
    return card


def reissue_card(member_id: int, new_card_no: str, *, actor=None) -> Card:
    """Freeze the member's live card and issue ``new_card_no`` to the same member.

    The member keeps their account (its username moves to the new card number) and everything
    keyed by member id; they activate the new card with their details and a new password.
    """
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.")
    new_card_no = identity.normalise_card(new_card_no)
    if not identity.valid_card_no(new_card_no):
        raise ValidationFailed(errors={"new_card_no": ["16-19 digits with a valid check digit."]})
    if card_by_no(new_card_no) is not None:
        raise Conflict("This card number is already issued.", code="duplicate_card")
    old = [c for c in member.cards if c.status in LIVE_STATUSES]
    for card in old:
        card.status = "frozen"
        card.frozen_at = utcnow()
    db.session.flush()  # the live-card index must see the old card frozen first
    new = Card(
        card_no=new_card_no,
        member_id=member.id,
        status="issued",
        replaces_card_id=old[-1].id if old else None,
    )
    db.session.add(new)
    account = member_account(member.id)
    if account is not None:
        account.username = new_card_no
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("The card changed concurrently; try again.", code="conflict") from None
    record_audit(
        "card.reissued",
        "card",
        new.id,
        actor=actor,
        data={"old_card_id": old[-1].id if old else None},
    )
    db.session.commit()
    _revoke_member(member.id)
    return new


def set_hardship(member_id: int, hardship: bool, *, actor=None) -> Member:
    """Mark or unmark a member in hardship (困难职工); audit-logged ``member.hardship``."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.")
    if member.hardship != hardship:
        member.hardship = hardship
        record_audit("member.hardship", "member", member.id, actor=actor,
                     data={"hardship": hardship})  # fmt: skip
        db.session.commit()
    return member
