"""Resident ID (GB 11643), card (Luhn), phone and region checks."""

import pytest

from marketplace.members import identity


@pytest.mark.parametrize(
    "value", ["11010519491231002X", "11010519491231002x", "130102198001010010"]
)
def test_valid_resident_ids(value):
    assert identity.valid_resident_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002",  # 17 characters
        "1101051949123100211",  # 19 characters
        "11010519491331002X",  # month 13
        "11010519491231002Y",
        "A10105194912310020",
        "",
    ],
)
def test_invalid_resident_ids(value):
    assert not identity.valid_resident_id(value)


def test_every_wrong_check_digit_is_caught():
    body = "13010219900301001"
    good = body + identity.id_check_digit(body)
    for ch in "0123456789X":
        assert identity.valid_resident_id(body + ch) == (body + ch == good)


def test_luhn():
    assert identity.valid_card_no("4111111111111111")
    assert not identity.valid_card_no("4111111111111112")
    assert not identity.valid_card_no("411111111111111")  # 15 digits
    assert not identity.valid_card_no("41111111111111111111")  # 20 digits
    assert identity.valid_card_no(identity.make_card_no("62220", 42, length=19))


def test_id_hash_is_keyed_and_normalised():
    a = identity.id_hash("k1", "11010519491231002x")
    assert a == identity.id_hash("k1", " 11010519491231002X ")
    assert a != identity.id_hash("k2", "11010519491231002X")
    assert "11010519491231002X" not in a


def test_regions_come_from_the_csv():
    assert identity.valid_region("130102")
    assert not identity.valid_region("999999")
    assert not identity.valid_region("13010")


def test_phone_normalisation():
    assert identity.normalise_phone("+86 138-0013-8000") == "13800138000"
    assert identity.valid_phone("13800138000")
    assert not identity.valid_phone("12800138000")
