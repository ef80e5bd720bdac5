"""The one rule for ``next=`` targets: a path on this site, or the caller's default.

Browsers strip tabs and newlines from a ``Location`` and read a backslash as a slash, so
``/\t/evil.example`` or ``/\\evil.example`` would leave the site although they start with one
``/``; and a newline in a header value is a 500 (or a split response). So: one leading ``/``, no
backslash, no whitespace or control character anywhere, no scheme or host once parsed.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

MAX_TARGET = 2000


def is_safe_path(target: str | None) -> bool:
    if not target or len(target) > MAX_TARGET:
        return False
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    # Cc controls, Cf format characters (bidi overrides), Cs surrogates, Zs/Zl/Zp separators.
    if any(ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in target):
        return False
    parts = urlsplit(target)
    return not (parts.scheme or parts.netloc)


def safe_path(target: str | None, default: str) -> str:
    """``target`` if it is a same-site path, else ``default``."""
    return target if is_safe_path(target) else default
