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


@pytest.mark.parametrize(
    "text,expected",
    [
        ("130102199003010012", "**************0012"),
        ("x 13010219900301001x y", "x **************001x y"),
        ("１３０１０２１９９００３０１００１２", "**************0012"),
        ("130102 19900301 0012", "**************0012"),
        ("张三130102199003010012李四", "张三**************0012李四"),
        ("130102900301001", "**************1001"),  # first-generation, 15 digits
        ("6217000000000069", "6217000000000069"),  # 16-digit card number
        ("6217 0000 0000 0000 069", "6217 0000 0000 0000 069"),  # 19-digit card number
        ("13800138000", "13800138000"),
    ],
)
def test_anything_id_shaped_is_masked(text, expected):
    assert identity.mask_id_like(text) == expected


def test_full_width_digits_are_folded_not_accepted_as_other_digits():
    assert identity.normalise_id("１３０１０２１９９００３０１００１２") == "130102199003010012"
    assert not identity.id_format_ok("١٣٠١٠٢١٩٩٠٠٣٠١٠٠١٢")  # Arabic-Indic: not ours
    assert not identity.card_format_ok("６２１７０００００００００００６９")
    assert identity.card_format_ok(identity.normalise_card("６２１７ ００００ ００００ ００６９"))
