"""Voucher codes: one format for every voucher the platform issues (flash sales and group-buys).

A code is 16 symbols of Crockford's base32 without I, L, O, U (80 random bits; reads aloud
cleanly). Clerks may type it with spaces, dashes or in lower case: :func:`normalise_code` gives
the stored form. Models use :data:`CodeColumn` so the column type is stated once.
"""

from __future__ import annotations

import base64
import re
import secrets

from sqlalchemy import String

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
# The database column of a stored code.
CodeColumn = String(CODE_LENGTH)

# 10 random bytes are exactly 16 base32 symbols: encode, then map RFC 4648's alphabet onto ours
# (a tenth of the cost of 16 secrets.choice calls, on every claim request).
_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CODE_ALPHABET)


def new_voucher_code() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode().translate(_TO_CROCKFORD)


def normalise_code(code: str) -> str:
    """What a clerk typed or scanned, as stored (case and separators ignored)."""
    return re.sub(r"[\s-]", "", code or "").upper()


def is_code(code: str) -> bool:
    """Whether ``code`` (already normalised) has the voucher code format."""
    return bool(CODE_RE.match(code))
