"""Pictures uploaded by people: recognised by their bytes, never by their name or header."""

from __future__ import annotations

from .errors import Problem

IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def sniff_image(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg`` or ``image/webp`` from the file's first bytes, else None."""
    for magic, mime in IMAGE_TYPES.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class TooLarge(Problem):
    status, code, title = 413, "image_too_large", "Picture too large"


class NotAnImage(Problem):
    status, code, title = 415, "unsupported_image", "Not a JPEG, PNG or WebP picture"


def check_image(data: bytes, limit: int) -> str:
    """The picture's type; 413 ``image_too_large`` past ``limit`` bytes, 415
    ``unsupported_image`` when the bytes are not a JPEG, PNG or WebP (an empty file included)."""
    if len(data) > limit:
        raise TooLarge(f"At most {limit // 1024} KB.", limit=limit)
    mime = sniff_image(data)
    if mime is None:
        raise NotAnImage("A JPEG, PNG or WebP picture.")
    return mime
