"""Registration rules: valid IDs only, one person one live card, enforced by the database too."""

import pytest
from sqlalchemy.exc import IntegrityError

from marketplace.errors import Conflict, ValidationFailed
from marketplace.extensions import db
from marketplace.members.models import Card, Member
from tests.members.helpers import details, register


def test_register_stores_only_hash_and_last4(app_ctx):
    member = register(1)
    d = details(1)
    assert member.id_last4 == d["id_number"][-4:]
    assert d["id_number"] not in member.id_hash
    row = db.session.execute(db.text("SELECT * FROM members")).mappings().one()
    assert d["id_number"] not in " ".join(str(v) for v in row.values())


def test_invalid_id_number_is_refused(app_ctx):
    bad = details(1)["id_number"][:17] + ("0" if details(1)["id_number"][17] != "0" else "1")
    with pytest.raises(ValidationFailed) as exc:
        register(1, id_number=bad)
    assert "id_number" in exc.value.extra["errors"]


def test_same_person_cannot_get_a_second_card(app_ctx):
    register(1)
    with pytest.raises(Conflict) as exc:
        register(2, id_number=details(1)["id_number"])
    assert exc.value.code == "duplicate_person"
    assert db.session.scalar(db.select(db.func.count()).select_from(Card)) == 1


def test_same_person_in_lower_case_x_is_the_same_person(app_ctx):
    register(1, id_number="11010519491231002X")
    with pytest.raises(Conflict):
        register(2, id_number="11010519491231002x")


def test_duplicate_card_number_is_refused(app_ctx):
    register(1)
    with pytest.raises(Conflict) as exc:
        register(2, card_no=details(1)["card_no"])
    assert exc.value.code == "duplicate_card"


def test_database_refuses_a_second_live_card(app_ctx):
    member = register(1)
    db.session.add(Card(card_no=details(2)["card_no"], member_id=member.id, status="issued"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_database_allows_a_live_card_next_to_frozen_ones(app_ctx):
    member = register(1)
    member.cards[0].status = "frozen"
    db.session.add(Card(card_no=details(2)["card_no"], member_id=member.id, status="issued"))
    db.session.commit()


def test_database_refuses_a_second_member_row_for_one_person(app_ctx):
    member = register(1)
    db.session.add(
        Member(name="x", id_hash=member.id_hash, id_last4="0000", phone="1", region="130102")
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
