"""The snap-up: one claim request, decided by the stock engine without touching SQL."""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime

from flask import Response

from inventory import (
    CLOSED,
    LIMIT_REACHED,
    NOT_OPEN,
    RATE_LIMITED,
    RESERVED,
    SOLD_OUT,
    PoolNotFound,
)
from marketplace.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    Problem,
    RateLimited,
    ServiceUnavailable,
)
from marketplace.observability import CLAIMS
from marketplace.vouchercodes import new_voucher_code

from . import quotas, room
from .hotpath import campaign_meta, claim_budget, get_engine
from .recovery import engine_ready

IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


def check_idempotency_key(key: str | None) -> str:
    if not key:
        raise Problem(
            "Send an Idempotency-Key header (8-64 characters of A-Z a-z 0-9 _ . : -).",
            code="idempotency_key_required",
        )
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise Problem(
            "The Idempotency-Key header must be 8-64 characters of A-Z a-z 0-9 _ . : -.",
            code="idempotency_key_invalid",
        )
    return key


def _iso_epoch(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


_OUTCOMES: dict[str, object] = {}  # outcome -> its counter child (labels() costs per call)


def _count(outcome: str) -> None:
    child = _OUTCOMES.get(outcome)
    if child is None:
        child = _OUTCOMES[outcome] = CLAIMS.labels(outcome)
    child.inc()


def _refuse(outcome: str, problem: Problem):
    _count(outcome)
    raise problem


def claim(principal, campaign_id: int, key: str, queue_pass: str | None = None) -> dict:
    """Claim one ticket of ``campaign_id`` for the calling member; refusals raise Problems.

    Order: metadata (cached), eligibility from the token, then one engine call, which also
    spends the member's request budget (shared by every web process). A repeated key returns the
    first claim (the engine answers replays before it looks at the budget).
    """
    key = check_idempotency_key(key)
    meta = campaign_meta(campaign_id)
    if meta is None:
        _refuse("unknown", NotFound("No such flash sale.", code="not_found"))
    if meta.require_active_card and not principal.card_active:
        _refuse(
            "card_inactive",
            Forbidden("Activate your union card to take part.", code="card_inactive"),
        )
    if meta.regions and principal.region not in meta.regions:
        _refuse(
            "not_eligible",
            Forbidden("This sale is for members of other regions.", code="not_eligible"),
        )
    if not meta.available:
        _refuse("ended", Gone("This sale has been withdrawn.", code="ended"))
    if time.time() < meta.starts_at - 1:  # 1 s of slack for clock skew: the engine decides
        _refuse("not_started", _not_started(meta))
    request_id = key  # the engine scopes request ids to their member
    if meta.mode == "lottery":  # the draw hands its tickets out (flashsale/lottery.py)
        _refuse("lottery", Conflict("This sale is a lottery: register.", code="lottery_sale"))
    if meta.mode == "queue":
        request_id = _admitted(principal, campaign_id, queue_pass)
    if not engine_ready():  # Redis restarted: SQL's claims are being merged back (recovery.py)
        _refuse("error", ServiceUnavailable(
            "The sale is being restored after a restart; try again in a moment.",
            code="sale_restoring",
            headers={"Retry-After": "1"},
        ))  # fmt: skip
    engine = get_engine()
    pool = str(campaign_id)
    member = str(principal.member_id)
    code = new_voucher_code()
    rate, burst = claim_budget()
    rules = quotas.hot_rules()
    hold = None
    if rules.active and not _known_sold_out(engine, pool, member, request_id):
        # The member's quota and bans first (their slot), then the stock (the sale's slot); a
        # refusal gives the hold back (docs/flashsale.md "Quotas and no-shows").
        try:
            hold = quotas.take(rules, meta, principal.member_id, request_id)
        except Problem as exc:
            _refuse(exc.code, exc)
    try:
        result = engine.reserve(pool, member, 1, request_id, {"code": code}, rate=rate, burst=burst)
        # A sold-out pool is refused from memory, unless this very request already won: the
        # snapshot of winners (or one HEXISTS for a member in it) keeps repeats of a lost 201
        # truthful.
        if result.cached and _already_won(engine, pool, member, request_id):
            result = engine.reserve(pool, member, 1, request_id, {"code": code}, False)
    except PoolNotFound:
        quotas.finish(hold)
        if time.time() >= meta.ends_at:  # over, and its pool retired (flashsale.retire)
            _refuse("ended", Gone("This sale has ended.", code="ended"))
        _refuse("error", ServiceUnavailable("The sale is not loaded; try again shortly."))
    if result.status != RESERVED:  # a definite refusal: the ticket was not taken
        quotas.finish(hold)
    status = result.status
    if status == RESERVED:
        if meta.mode == "queue":  # the pass is spent: it no longer holds a place in the room
            room.mark_used(campaign_id, member, room.place_of_request(request_id))
        _count("replayed" if result.replayed else "claimed")
        return {
            "claim_id": result.claim_id,
            "replayed": result.replayed,
            "voucher": {
                "code": result.payload.get("code", code),
                "status": "issued",
                "campaign_id": campaign_id,
                "valid_from": meta.valid_from,
                "valid_until": meta.valid_until,
            },
        }
    if status == RATE_LIMITED:
        _refuse("rate_limited", RateLimited(math.ceil(result.retry_after)))
    if status == SOLD_OUT:
        _refuse("sold_out", Conflict("All tickets have been claimed.", code="sold_out"))
    if status == LIMIT_REACHED:
        _refuse(
            "limit_reached",
            Conflict(
                "You already hold as many tickets of this sale as allowed.",
                code="limit_reached",
                per_member_limit=meta.per_member_limit,
            ),
        )
    if status == NOT_OPEN:
        _refuse("not_started", _not_started(meta))
    if status == CLOSED:
        _refuse("ended", Gone("This sale has ended.", code="ended"))
    _refuse("error", ServiceUnavailable(f"unexpected engine answer {status}"))


def claim_document(body: dict) -> str:
    """The 201 of :func:`claim` as the document ``ClaimSchema`` describes (the fields it dumps,
    none other), serialised directly."""
    voucher = body["voucher"]
    return json.dumps(
        {"claim_id": body["claim_id"], "voucher": {k: voucher[k] for k in _VOUCHER_FIELDS}}
    )


def claim_response(body: dict) -> Response:
    return Response(claim_document(body), status=201, mimetype="application/json")


_VOUCHER_FIELDS = ("code", "status", "campaign_id", "valid_from", "valid_until")


def _admitted(principal, campaign_id: int, queue_pass: str | None) -> str:
    """A queue sale's claim needs the room's pass (403 otherwise); the engine request id becomes
    the pass's, so every claim made with one pass is the same claim (flashsale/room.py)."""
    try:
        return room.pass_request_id(room.check_pass(queue_pass, campaign_id, principal.member_id))
    except Problem as exc:
        _refuse("pass_refused", exc)


def _already_won(engine, pool: str, member: str, request_id: str) -> bool:
    """Whether the engine recorded this member's request id: no Redis call for a member outside
    the process's snapshot of who won when the sale sold out, else one HEXISTS (no script)."""
    return engine.has_request(pool, member, request_id, snapshot=True)


def _known_sold_out(engine, pool: str, member: str, request_id: str) -> bool:
    """The process saw the pool sold out (its 0.5 s cache) and this request did not win: the
    engine will refuse it from memory, so the quota is not asked (no Redis call at all)."""
    cache = engine.cache
    return (
        cache is not None
        and cache.is_sold_out(pool)
        and not _already_won(engine, pool, member, request_id)
    )


def _not_started(meta) -> Problem:
    return Conflict(
        "This sale has not started yet.",
        code="not_started",
        starts_at=_iso_epoch(meta.starts_at),
        server_time=_iso_epoch(time.time()),
    )
