"""Dynamic card codes (issue #18 item 3): what the card page's QR carries and the counter checks.

A code is ``SHC1-<card id>-<step>-<mac>``: ``step`` is the time divided by
``CARD_CODE_STEP_SECONDS`` (30) and ``mac`` the first 50 bits of an HMAC-SHA256 over the card id
and the step, with a key derived from ``SECRET_KEY`` (TOTP-like, RFC 6238's idea with the card as
the counter's owner), in RFC 4648 base32 so the QR uses its compact alphanumeric mode. A code is
valid in its own step and the next one (a code shown just before the step turned still scans),
never later: a screenshot is useless after at most two steps. The step is in the code so the
counter can tell an old code (410 ``card_code_expired``) from a forged one (422
``card_code_invalid``). A valid code of a card that is not active is refused too (409
``card_frozen`` or ``card_inactive``), with the card's status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from flask import current_app

from ..errors import Conflict, Gone, ValidationFailed
from ..extensions import db
from .models import Card

PREFIX = "SHC1"
CODE_RE = re.compile(r"^SHC1-([1-9][0-9]{0,18})-([0-9]{1,12})-([A-Z2-7]{10})$")
MAC_CHARS = 10  # 50 bits: guessing one for a given card and step takes ~10^15 tries


class CardCodeInvalid(ValidationFailed):
    code, title = "card_code_invalid", "Not a card code, or a forged one"


class CardCodeExpired(Gone):
    code, title = "card_code_expired", "This card code has expired"


class CardNotActive(Conflict):
    code, title = "card_inactive", "This card is not active"


def looks_like(text: str) -> bool:
    """Whether a scanned text is meant as a card code (the counter also takes voucher codes)."""
    return text.strip().upper().startswith(PREFIX + "-")


def step_seconds() -> int:
    return max(1, int(current_app.config.get("CARD_CODE_STEP_SECONDS", 30)))


def _key() -> bytes:
    secret = current_app.config["SECRET_KEY"]
    return hmac.new(str(secret).encode(), b"shihui.cardcode.v1", hashlib.sha256).digest()


def _mac(card_id: int, step: int) -> str:
    digest = hmac.new(_key(), f"{card_id}.{step}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:MAC_CHARS]


@dataclass(frozen=True)
class Shown:
    """A code as the card page shows it: the text, its step and when the next one is due."""

    code: str
    step: int
    step_seconds: int
    next_at: float  # epoch seconds

    def as_dict(self) -> dict:
        return {"code": self.code, "step": self.step, "step_seconds": self.step_seconds,
                "next_in_ms": max(0, int((self.next_at - time.time()) * 1000))}  # fmt: skip


def current(card: Card, now: float | None = None) -> Shown:
    """The code of ``card`` for the present step."""
    now = time.time() if now is None else now
    size = step_seconds()
    step = int(now // size)
    return Shown(f"{PREFIX}-{card.id}-{step}-{_mac(card.id, step)}", step, size,
                 (step + 1) * size)  # fmt: skip


def verify(text: str, now: float | None = None) -> Card:
    """The card of a valid code, active; else :class:`CardCodeInvalid` (not ours, forged, a
    step in the future), :class:`CardCodeExpired` (genuine but older than the previous step)
    or :class:`CardNotActive` (``card_frozen`` / ``card_inactive``, with ``card_status``)."""
    match = CODE_RE.match((text or "").strip().upper())
    if match is None:
        raise CardCodeInvalid("This is not a card code.")
    card_id, step, mac = int(match.group(1)), int(match.group(2)), match.group(3)
    if card_id >= 2**63 or not hmac.compare_digest(mac, _mac(card_id, step)):
        raise CardCodeInvalid("This card code was not issued by us.")
    now = time.time() if now is None else now
    present = int(now // step_seconds())
    if step > present:
        raise CardCodeInvalid("This card code is from the future: check the clocks.")
    if step < present - 1:
        raise CardCodeExpired("Ask the member to show the card page again.",
                              age_seconds=int(now - step * step_seconds()))  # fmt: skip
    card = db.session.get(Card, card_id)
    if card is None:
        raise CardCodeInvalid("No such card.")
    if card.status != "active":
        raise CardNotActive(
            f"The card is {card.status}.",
            code="card_frozen" if card.status == "frozen" else "card_inactive",
            card_status=card.status,
        )
    return card


# --------------------------------------------------------------------------- the card face


def mask_card(card_no: str) -> str:
    """6222000000000017 -> 6222 **** **** 0017: the face shows no more than a receipt does."""
    return f"{card_no[:4]} **** **** {card_no[-4:]}"


def face(card: Card) -> dict:
    """What the card face and the counter show: masked number, branch, the federation's name."""
    from sqlalchemy import select

    from ..orgs.models import Org
    from ..orgs.tree import ROOT_NAME
    from .identity import mask_name

    member = card.member
    branch = db.session.get(Org, member.org_id) if member.org_id else None
    federation = db.session.scalar(select(Org.name).where(Org.kind == "city"))
    return {
        "card_masked": mask_card(card.card_no),
        "name_masked": mask_name(member.name),
        "branch": branch.name if branch is not None else member.branch,
        "federation": federation or current_app.config.get("ORG_ROOT_NAME", ROOT_NAME),
        "status": card.status,
    }


def qr_data_uri(code: str) -> str:
    """The code as an SVG QR picture in a data: URI (the page's CSP allows data: images)."""
    import segno

    return segno.make(code, error="m").svg_data_uri(scale=6, border=2)
