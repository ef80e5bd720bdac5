"""Keyword search without a search server: LIKE on a normalised text column.

Text is NFKC-normalised (full-width letters and digits become ASCII) and lower-cased, both when
stored and when searched, so "ＫＴＶ", "KTV" and "ktv" match each other. Chinese needs no word
segmentation for substring search: "火锅" matches "老北京火锅". Each whitespace-separated term
must occur (AND). On PostgreSQL a ``pg_trgm`` GIN index would serve these LIKEs; at directory
scale (thousands of merchants) a sequential scan of one text column is fast enough, so the
migration does not require the extension.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import and_

MAX_TERMS = 5


def normalise(*parts: str | None) -> str:
    text = " ".join(p for p in parts if p)
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def terms(query: str | None) -> list[str]:
    return normalise(query).split()[:MAX_TERMS]


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(column, query: str | None):
    """A clause requiring every term of ``query`` in ``column`` (None when the query is empty)."""
    found = terms(query)
    if not found:
        return None
    return and_(*(column.like(f"%{_escape(t)}%", escape="\\") for t in found))
