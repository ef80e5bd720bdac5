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


def gradient_png(width: int, height: int, top: tuple[int, int, int],
                 bottom: tuple[int, int, int]) -> bytes:  # fmt: skip
    """A real PNG of a vertical gradient, made with the standard library: pictures for the demo
    data (an announcement's cover, a photo in a conversation) without an image library."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = bytearray()
    for y in range(height):
        t = y / max(height - 1, 1)
        pixel = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows += b"\x00" + pixel * width  # filter type 0, then RGB triples
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))  # fmt: skip
