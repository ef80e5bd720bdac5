"""The waiting room of a ``queue``-mode sale (docs/flashsale.md "Waiting room").

All of a room's state sits in Redis on the slot of the sale's stock pool (hash tag ``{<id>:0}``,
the pool's bucket 0), and every operation is one call of ``room.lua``, which also reads the
pool's unclaimed stock, so the admission rule is applied atomically on Redis Cluster too:

    <ns>:{<id>:0}:room      hash: configuration and admission state
    <ns>:{<id>:0}:room:pre  zset: members who joined before the start -> random score
    <ns>:{<id>:0}:room:late hash: members who joined after the start -> place
    <ns>:{<id>:0}:room:adm  zset: admission steps (F after the step, deadline)
    <ns>:{<id>:0}:room:used zset: members whose pass won a claim -> place

Scores are drawn here, once per member, from :mod:`secrets` (``ZADD NX`` keeps the first), so a
member's place is fixed by the first join: re-joining, polling or more sessions change nothing.
An admitted member gets a pass: ``<sale>.<member>.<place>.<deadline ms>.<HMAC>`` signed with a
key derived from ``SECRET_KEY``. The claim endpoint of a queue sale needs it; the engine's
request id of the claim is ``pass.<place>``, so every claim made with one pass (any
Idempotency-Key, any number of racing requests) is the same claim: a pass wins at most once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from importlib.resources import files

from flask import current_app

from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.extensions import get_redis

from .hotpath import get_engine

PASS_TTL_MS = 60_000
PASS_HEADER = "Queue-Pass"  # noqa: S105 - a header name
PLACE_HEADER = "Queue-Place"  # the place ticket a status answer hands out (fast_status)
SNAPSHOT_TTL = 0.25  # seconds a process answers waiting members from its copy of the room
STATES = ("not_joined", "waiting", "admitted", "claimed", "expired", "sold_out", "closed")


def _script():
    ext = current_app.extensions
    script = ext.get("flashsale.room_script")
    if script is None:
        source = (files("flashsale") / "room.lua").read_text()
        script = ext["flashsale.room_script"] = get_redis().register_script(source)
    return script


def room_keys(campaign_id: int) -> list[str]:
    """KEYS of room.lua: the room's five keys and the sale's pool hash, all on one slot."""
    engine = get_engine()
    pool = engine.keys(str(campaign_id)).pool
    base = pool[: -len(":pool")] + ":room"
    return [base, base + ":pre", base + ":late", base + ":adm", base + ":used", pool]


def _ms(value) -> int:
    return int(round(value.timestamp() * 1000))


def configure(campaign, rate: bool = True) -> None:
    """Write (or rewrite) the room's configuration from the campaign row; state is kept."""
    from .services import DEFAULT_ADMISSION_RATE, DEFAULT_OVER_ADMISSION, queue_opens_at

    if campaign.mode != "queue":
        return
    fields = {
        "opens": _ms(queue_opens_at(campaign)),
        "starts": _ms(campaign.starts_at),
        "ends": _ms(campaign.ends_at),
        "factor": repr(float(campaign.over_admission or DEFAULT_OVER_ADMISSION)),
        "ttl": PASS_TTL_MS,
    }
    if rate:
        fields["rate"] = repr(float(campaign.admission_rate or DEFAULT_ADMISSION_RATE))
    get_redis().hset(room_keys(campaign.id)[0], mapping=fields)


def delete(campaign_id: int) -> int:
    """Delete the room's keys (the sale is retired)."""
    return get_redis().delete(*room_keys(campaign_id)[:5])


@dataclass(frozen=True, slots=True)
class RoomState:
    state: str
    place: int  # 0: none yet (before the start the places are not drawn)
    admitted: int  # places 1..admitted have been let in
    queued: int  # everyone who joined
    stock: int  # unclaimed stock
    deadline_ms: int  # an admitted member's pass runs until then
    now_ms: int  # Redis server time
    rate: float
    starts_ms: int


def _call(campaign_id: int, op: str, member: str = "", arg="") -> RoomState | None:
    reply = _script()(keys=room_keys(campaign_id), args=[op, member, arg])
    if _s(reply[0]) == "no_room":
        return None
    state, place, admitted, queued, stock, deadline, now, rate, starts = reply
    return RoomState(_s(state), place, admitted, queued, stock, deadline, now, float(_s(rate)),
                     starts)  # fmt: skip


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def draw_score() -> int:
    """A member's random position among the early arrivals: 53 bits from ``secrets``."""
    return secrets.randbits(53)


def status(campaign_id: int, member_id: int) -> RoomState | None:
    """The member's state (one script call: also lets in whoever is due). None: no room."""
    return _call(campaign_id, "status", str(member_id))


def peek(campaign_id: int) -> RoomState | None:
    """The room as a whole (admitted, queued, stock, open or closed), also letting in whoever
    is due: one script call."""
    return _call(campaign_id, "peek")


# -- the status call without Redis, for members far back in the line ---------------------------
# A place never changes once drawn, so after the start a status answer carries a signed *place
# ticket*; a client that sends it back (``Queue-Place``) while its place is still beyond the
# admitted ones is answered from the process's snapshot of the room (``peek``, refreshed every
# ``SNAPSHOT_TTL``), with no Redis call. Everything else (admitted, expired, claimed, sold out,
# closed, before the start, no or a bad ticket) takes the script call as before.


def place_ticket(campaign_id: int, member_id: int, place: int) -> str:
    body = f"p.{campaign_id}.{member_id}.{place}"
    return f"{body}.{_sign(body)}"


def ticket_place(ticket: str | None, campaign_id: int, member_id: int) -> int:
    """The place a valid ticket of this member for this sale stands for; 0 otherwise."""
    if not ticket or len(ticket) > 120:
        return 0
    parts = ticket.split(".")
    if len(parts) != 5 or parts[0] != "p" or not all(p.isdigit() for p in parts[1:4]):
        return 0
    if int(parts[1]) != campaign_id or int(parts[2]) != member_id:
        return 0
    if not hmac.compare_digest(_sign(".".join(parts[:4])), parts[4]):
        return 0
    return int(parts[3])


def snapshot(campaign_id: int) -> tuple[RoomState, float] | None:
    """This process's copy of the room and the monotonic time it was read (at most
    ``SNAPSHOT_TTL`` old); None: no room."""
    cache = current_app.extensions.setdefault("flashsale.room_snapshots", {})
    now = time.monotonic()
    hit = cache.get(campaign_id)
    if hit is not None and now - hit[1] < SNAPSHOT_TTL:
        return hit
    state = peek(campaign_id)
    if state is None:
        return None
    if len(cache) > 1000:
        cache.clear()
    cache[campaign_id] = (state, now)
    return state, now


def fast_status(campaign_id: int, member_id: int, ticket: str | None) -> RoomState | None:
    """A waiting member's state from the snapshot, or None (then ask the script)."""
    place = ticket_place(ticket, campaign_id, member_id)
    if not place:
        return None
    snap = snapshot(campaign_id)
    if snap is None:
        return None
    room, read_at = snap
    if room.state != "open" or room.now_ms < room.starts_ms or room.stock <= 0:
        return None
    if place <= room.admitted:  # let in (or lapsed, or claimed): the script knows which
        return None
    now_ms = room.now_ms + int((time.monotonic() - read_at) * 1000)
    return RoomState("waiting", place, room.admitted, room.queued, room.stock, 0, now_ms,
                     room.rate, room.starts_ms)  # fmt: skip


def join(campaign_id: int, member_id: int) -> RoomState | None:
    return _call(campaign_id, "join", str(member_id), draw_score())


def set_rate(campaign_id: int, rate: float) -> RoomState | None:
    return _call(campaign_id, "rate", "", repr(float(rate)))


def mark_used(campaign_id: int, member_id: str, place: int) -> None:
    """A pass won a claim: its member no longer counts as admitted-and-waiting-to-claim."""
    _call(campaign_id, "used", str(member_id), place)


# -- passes -----------------------------------------------------------------------------------


_KEYS: dict[str, bytes] = {}  # SECRET_KEY -> derived key (a status poll signs or checks one)


def _key() -> bytes:
    secret = current_app.config["SECRET_KEY"]
    key = _KEYS.get(secret)
    if key is None:
        key = _KEYS[secret] = hashlib.sha256(b"shihui queue pass\x00" + secret.encode()).digest()
    return key


def _sign(body: str) -> str:
    mac = hmac.new(_key(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue_pass(campaign_id: int, member_id: int, place: int, deadline_ms: int) -> str:
    body = f"{campaign_id}.{member_id}.{place}.{deadline_ms}"
    return f"{body}.{_sign(body)}"


def check_pass(token: str | None, campaign_id: int, member_id: int) -> int:
    """The place a valid pass of this member for this sale stands for; else 403 problems."""
    if not token:
        raise Forbidden(
            "This sale has a waiting room: claim with the pass it gives you when admitted.",
            code="pass_required",
        )
    parts = token.split(".")
    if len(parts) != 5 or not all(p.isdigit() for p in parts[:4]):
        raise Forbidden("This is not a pass of the waiting room.", code="pass_invalid")
    body = ".".join(parts[:4])
    if not hmac.compare_digest(_sign(body), parts[4]):
        raise Forbidden("This is not a pass of the waiting room.", code="pass_invalid")
    sale, member, place, deadline = (int(p) for p in parts[:4])
    if sale != campaign_id or member != member_id:
        raise Forbidden("This pass is for another member or sale.", code="pass_invalid")
    if deadline <= time.time() * 1000:
        raise Forbidden("Your pass has expired.", code="pass_expired")
    return place


def pass_request_id(place: int) -> str:
    """The engine request id of a claim made with the pass of ``place``: one claim per pass."""
    return f"pass.{place}"


def place_of_request(request_id: str) -> int:
    return int(request_id.split(".", 1)[1])


# -- what the API answers ---------------------------------------------------------------------

POLL_MIN_S, POLL_MAX_S = 1.0, 30.0


def poll_after(state: RoomState, status_budget: float) -> float:
    """Seconds until the member should ask again, set by the server.

    Three bounds, the largest wins: at least 1 s; the room's whole queue polling at this interval
    must stay within ``status_budget`` calls per second; and no faster than a quarter of the
    member's own expected wait (someone 10 minutes away has no reason to ask every second).
    Before the start: the time left to the start, within the same bounds.
    """
    if state.state not in ("waiting", "not_joined"):
        return 0.0 if state.state == "admitted" else POLL_MAX_S
    crowd = state.queued / status_budget if status_budget > 0 else 0.0
    if state.place == 0:
        own = max(0.0, (state.starts_ms - state.now_ms) / 1000 / 2)
    else:
        own = _wait_s(state) / 4
    return round(min(POLL_MAX_S, max(POLL_MIN_S, crowd, own)), 1)


def _wait_s(state: RoomState) -> float:
    ahead = max(0, state.place - state.admitted)
    return ahead / state.rate if state.rate > 0 else math.inf


def as_json(state: RoomState, campaign_id: int, member_id: int, status_budget: float,
            ticket: str | None = None) -> dict:  # fmt: skip
    out = {
        "state": state.state,
        "place": state.place or None,
        "ahead": None,
        "admitted": state.admitted,
        "queued": state.queued,
        "remaining": state.stock,
        "estimated_wait_seconds": None,
        "likely_sold_out": False,
        "poll_after_seconds": poll_after(state, status_budget),
        "pass": None,
        "pass_expires_at_ms": None,
        "starts_at_ms": state.starts_ms,
        "server_time_ms": state.now_ms,
        "place_ticket": None,
    }
    if state.place and state.now_ms >= state.starts_ms:  # ``ticket``: checked, for this place
        out["place_ticket"] = ticket or place_ticket(campaign_id, member_id, state.place)
    if state.state == "waiting" and state.place:
        ahead = max(0, state.place - state.admitted - 1)
        out["ahead"] = ahead
        wait = _wait_s(state)
        out["estimated_wait_seconds"] = None if math.isinf(wait) else math.ceil(wait)
        # Everyone ahead is let in only while the stock lasts: say so when it will not.
        out["likely_sold_out"] = ahead >= state.stock
    elif state.state == "admitted":
        out["ahead"] = 0
        out["pass"] = issue_pass(campaign_id, member_id, state.place, state.deadline_ms)
        out["pass_expires_at_ms"] = state.deadline_ms
    return out


def require_room(state: RoomState | None) -> RoomState:
    if state is None:
        raise NotFound("This sale has no waiting room.", code="not_queue_sale")
    return state


def joined(state: RoomState) -> RoomState:
    if state.state == "not_open":
        raise Conflict("The waiting room is not open yet.", code="queue_not_open")
    if state.state == "closed" and not state.place:
        raise Conflict("The sale is over.", code="queue_closed")
    return state
