"""Pure checks for resident ID numbers (GB 11643), card numbers (Luhn), phones and regions."""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

REGIONS_CSV = Path(__file__).resolve().parent.parent / "data" / "regions.csv"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# [0-9], not \d: in Python \d also matches full-width and other scripts' digits, which would let
# "１３０１…" pass as a second, different spelling of the same person's ID number.
_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_CARD_RE = re.compile(r"^[0-9]{16,19}$")
_PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
_PHONE_STRIP = re.compile(r"[\s\-()]")
# Anything shaped like an ID number inside free text (a shifted column, a typo'd field): 17-18
# digits (X last), optionally split by single spaces or hyphens, not part of a longer number; and
# first-generation 15-digit IDs (YYMMDD birth date). \d on purpose: full-width digits are masked
# too. Card numbers of 16 or 19 digits stay readable; an 18-digit one is masked as well, since
# wrongly hiding a card number costs less than showing an ID number.
_NOT_AFTER = r"(?<!\d)(?<!\d[ -])"
_NOT_BEFORE = r"(?![ -]?[\dXxＸｘ])"
_ID_LIKE = re.compile(
    rf"{_NOT_AFTER}(?:\d[ -]?){{16}}\d(?:[ -]?[\dXxＸｘ])?{_NOT_BEFORE}"
    rf"|{_NOT_AFTER}\d{{8}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{{3}}{_NOT_BEFORE}"
)


def fold(value: str) -> str:
    """NFKC: full-width digits and letters become ASCII, so one person has one spelling."""
    return unicodedata.normalize("NFKC", value)


def normalise_id(value: str) -> str:
    return fold(value).strip().upper()


def id_check_digit(first17: str) -> str:
    """The GB 11643 ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def id_format_ok(value: str) -> bool:
    """18 characters, a plausible birth date (YYYYMMDD at positions 7-14)."""
    if not _ID_RE.match(value):
        return False
    year, month, day = int(value[6:10]), int(value[10:12]), int(value[12:14])
    return 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31


def id_checksum_ok(value: str) -> bool:
    return id_check_digit(value[:17]) == value[17]


def valid_resident_id(value: str) -> bool:
    value = normalise_id(value)
    return id_format_ok(value) and id_checksum_ok(value)


def id_hash(key: str | bytes, value: str) -> str:
    """Keyed HMAC-SHA256 of the normalised ID: matches and uniqueness without the clear value."""
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, normalise_id(value).encode(), hashlib.sha256).hexdigest()


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧**娜: enough for a clerk on the phone to confirm, no more."""
    if len(name) <= 2:
        return name[:1] + "*"
    return name[:1] + "*" * (len(name) - 2) + name[-1:]


def mask_id(last4: str) -> str:
    return "*" * 14 + last4


def mask_id_like(text: str) -> str:
    """``text`` with everything ID-shaped replaced by stars and its last four characters."""
    return _ID_LIKE.sub(lambda m: mask_id(fold(m.group()).replace(" ", "")[-4:]), text)


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def card_format_ok(value: str) -> bool:
    return bool(_CARD_RE.match(value))


def luhn_ok(value: str) -> bool:
    return luhn_check_digit(value[:-1]) == value[-1]


def valid_card_no(value: str) -> bool:
    return card_format_ok(value) and luhn_ok(value)


def normalise_card(value: str) -> str:
    return fold(value).replace(" ", "").strip()


def normalise_phone(value: str) -> str:
    value = _PHONE_STRIP.sub("", fold(value).strip())
    if value.startswith("+86"):
        value = value[3:]
    return value


def valid_phone(value: str) -> bool:
    return bool(_PHONE_RE.match(value))


@lru_cache(maxsize=1)
def regions() -> dict[str, dict]:
    """Region code -> row of ``marketplace/data/regions.csv`` (GB/T 2260 codes we serve)."""
    with REGIONS_CSV.open(encoding="utf-8") as fh:
        return {row["code"]: row for row in csv.DictReader(fh)}


def valid_region(code: str) -> bool:
    return code in regions()


def make_resident_id(region: str, birth: str, seq: int) -> str:
    """A checksum-valid ID number (test, demo and load-test data): birth is YYYYMMDD."""
    body = f"{region}{birth}{seq % 1000:03d}"
    return body + id_check_digit(body)


def make_card_no(prefix: str, seq: int, length: int = 16) -> str:
    body = f"{prefix}{seq:0{length - 1 - len(prefix)}d}"
    return body + luhn_check_digit(body)
