"""The site icon, drawn here (no third-party art): a red rounded square with a white ring and
dot, the shape of a stamped union coupon. ``svg()`` for modern browsers (``<link rel=icon>``),
``ico()`` for the ``/favicon.ico`` every browser asks for anyway."""

from __future__ import annotations

import struct
from functools import cache

RED, WHITE = (0x2E, 0x10, 0xC8, 0xFF), (0xFF, 0xFF, 0xFF, 0xFF)  # BGRA
CLEAR = (0, 0, 0, 0)
SIZE = 32

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#c8102e"/>'
    '<circle cx="16" cy="16" r="9.5" fill="none" stroke="#fff" stroke-width="3"/>'
    '<circle cx="16" cy="16" r="3.5" fill="#fff"/></svg>'
)


def _pixel(x: float, y: float) -> tuple[int, int, int, int]:
    corner = 7.0
    cx, cy = min(max(x, corner), SIZE - corner), min(max(y, corner), SIZE - corner)
    if (x - cx) ** 2 + (y - cy) ** 2 > corner**2:
        return CLEAR
    r = ((x - 16) ** 2 + (y - 16) ** 2) ** 0.5
    return WHITE if 8 <= r <= 11 or r <= 3.5 else RED


@cache
def ico() -> bytes:
    """A 32x32, 32-bit ICO (one BMP image: rows bottom-up, then an all-zero AND mask)."""
    rows = []
    for y in reversed(range(SIZE)):
        rows.append(b"".join(bytes(_pixel(x + 0.5, y + 0.5)) for x in range(SIZE)))
    pixels = b"".join(rows)
    mask = b"\0" * (SIZE * SIZE // 8)
    header = struct.pack("<IiiHHIIiiII", 40, SIZE, SIZE * 2, 1, 32, 0, len(pixels), 0, 0, 0, 0)
    image = header + pixels + mask
    directory = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    return directory + entry + image
