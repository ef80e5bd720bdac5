"""Lottery sales (mode ``lottery``): registration, a verifiable draw, the waiting list.

The draw recipe (docs/flashsale.md "Lottery: the draw recipe"), standard library only::

    lines = sorted(published entrants list)       # "ticket" or, in a weighted sale, "ticket w"
    entrants_hash = sha256("\\n".join(lines).encode()).hexdigest()
    key = sha256(f"{seed}:{beacon}:{entrants_hash}".encode()).digest()
    lot(t, w) = min(hmac(key, t), hmac(key, f"{t}:1"), ..., hmac(key, f"{t}:{w-1}"))
    order = tickets sorted by (lot, line)
    winners = [t for t in order if t not in published exclusions][:stock]

A ticket of weight ``w`` holds ``w`` lots and takes the place of its smallest: each next place
goes to a remaining entrant with probability proportional to its weight (successive weighted
sampling without replacement, as Efraimidis-Spirakis keys do, but exact with integer weights
and hashes only). Weight 1 everywhere is the unweighted recipe. ``seed`` is 32 random bytes
(hex) whose SHA-256 was published with the sale (the commitment); ``beacon`` is the randomness
of the drand round named at publish. Tickets are random per entry and shown to their member, so
the published list reveals no identity and each member can find their own.

A drawn member over the union's quota or barred for no-shows at the draw is skipped (a lottery
win is a free ticket, counted like a claim's): outcome ``excluded`` with its reason, published
with the draw, and the next in order wins instead. Winners' vouchers are reserved through the
stock engine (request id ``draw``), so they reach SQL through the same outbox and the audit
covers them. What happens after the draw (the waiting list, confirmations, hand-ons) is in
:mod:`flashsale.handon`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError

from inventory import RESERVED
from marketplace.errors import Conflict, Forbidden, NotFound, Problem, ServiceUnavailable
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import UTCDateTime, record_audit, utcnow
from marketplace.notices import notify_many
from marketplace.vouchercodes import new_voucher_code

from . import beacon, quotas
from .hotpath import campaign_meta, get_engine
from .models import Campaign, LotteryDraw, LotteryEntry

log = logging.getLogger(__name__)
DRAW_REQUEST = "draw"  # the engine request id of every voucher the draw or the list hands out
WINNING = ("won", "promoted")
EXCLUSION_CODES = ("quota_exceeded", "no_show_ban")
# Defaults of the weight settings when a sale sets loss_weight without them.
DEFAULT_LOSS_DAYS = 180
DEFAULT_LOSS_CAP = 3


# -- the recipe (pure functions: what the verifier and the tests recompute) ----------------------


def commitment_of(seed: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def entrant_line(ticket: str, weight: int | None, weighted: bool) -> str:
    """One line of the published entrants list: the ticket, and in a weighted sale its weight."""
    return f"{ticket} {weight or 1}" if weighted else ticket


def parse_line(line: str) -> tuple[str, int]:
    ticket, _, weight = line.partition(" ")
    return ticket, int(weight) if weight else 1


def entrants_hash(lines) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def order(seed: str, beacon_value: str, lines) -> list[str]:
    """Every ticket in drawn order: a deterministic function of seed, beacon and the entrants
    list (tickets with their weights)."""
    lines = sorted(lines)
    key = hashlib.sha256(f"{seed}:{beacon_value}:{entrants_hash(lines)}".encode()).digest()
    mac = hmac.new(key, digestmod=hashlib.sha256)  # copied per lot: cheaper than a new one

    def lot(line: str) -> bytes:
        ticket, _, weight = line.partition(" ")
        best = None
        for j in range(int(weight) if weight else 1):
            h = mac.copy()
            h.update((f"{ticket}:{j}" if j else ticket).encode())
            digest = h.digest()
            if best is None or digest < best:
                best = digest
        return best

    ordered = sorted(lines, key=lot)  # 32-byte HMACs: no two are equal in practice
    if not any(" " in line for line in lines):
        return ordered
    return [line.partition(" ")[0] for line in ordered]


def winners_of(drawn: list[str], excluded, stock: int) -> list[str]:
    """The draw's winners: the first ``stock`` tickets of the order that were not excluded."""
    excluded = set(excluded)
    return [t for t in drawn if t not in excluded][:stock]


# -- weights ---------------------------------------------------------------------------------


def weighted(campaign: Campaign) -> bool:
    return bool(campaign.hardship_weight or campaign.loss_weight)


def weight_rules(campaign: Campaign) -> dict | None:
    """The sale's weights as stated publicly (None: every entrant weighs 1)."""
    if not weighted(campaign):
        return None
    return {
        "hardship_weight": campaign.hardship_weight or 1,
        "loss_weight": campaign.loss_weight or 0,
        "loss_days": campaign.loss_days or DEFAULT_LOSS_DAYS,
        "loss_cap": campaign.loss_cap if campaign.loss_cap is not None else DEFAULT_LOSS_CAP,
        "formula": "(hardship_weight if in hardship else 1) * "
        "(1 + min(loss_weight * lottery draws lost in the last loss_days days, loss_cap))",
    }


def weights_of(campaign: Campaign, member_ids) -> dict[int, int]:
    """Each entrant's weight at the draw (empty: unweighted). A lost draw is an entry of another
    lottery drawn within ``loss_days`` that is still on its waiting list (never got a ticket)."""
    rules = weight_rules(campaign)
    if rules is None:
        return {}
    hardship = set()
    if rules["hardship_weight"] > 1:
        hardship = set(db.session.scalars(select(Member.id).where(Member.hardship.is_(True))))
    losses: Counter = Counter()
    if rules["loss_weight"]:
        now = utcnow()
        losses = Counter(dict(db.session.execute(
            select(LotteryEntry.member_id, func.count())
            .join(LotteryDraw, LotteryDraw.campaign_id == LotteryEntry.campaign_id)
            .where(LotteryEntry.campaign_id != campaign.id, LotteryEntry.outcome == "waiting",
                   LotteryDraw.drawn_at >= now - timedelta(days=rules["loss_days"]),
                   LotteryDraw.drawn_at < now)
            .group_by(LotteryEntry.member_id)
        ).all()))  # fmt: skip
    out = {}
    for m in member_ids:
        base = rules["hardship_weight"] if m in hardship else 1
        out[m] = base * (1 + min(rules["loss_weight"] * losses.get(m, 0), rules["loss_cap"]))
    return out


# -- publish ---------------------------------------------------------------------------------


def prepare(campaign: Campaign) -> LotteryDraw:
    """At publish: a secret seed, its commitment and the beacon round after registration ends."""
    seed = secrets.token_hex(32)
    draw = LotteryDraw(
        campaign_id=campaign.id, seed=seed, commitment=commitment_of(seed),
        beacon_source=beacon.source(),
        beacon_round=beacon.round_after(campaign.ends_at.timestamp()),
    )  # fmt: skip
    db.session.add(draw)
    return draw


def pool_window(campaign: Campaign):
    """The engine pool of a lottery opens at the close (only the draw reserves) and stays open
    while the waiting list may still receive tickets."""
    return campaign.ends_at, max(campaign.valid_until, campaign.ends_at + timedelta(days=1))


# -- registration ----------------------------------------------------------------------------


def register(principal, campaign_id: int) -> tuple[LotteryEntry, bool]:
    """Enter the member (idempotent); returns (entry, created). Same eligibility as a claim:
    card, region, and the union's quota and no-show bans (checked here, counted at the draw)."""
    meta = campaign_meta(campaign_id)
    if meta is None:
        raise NotFound("No such flash sale.", code="not_found")
    if meta.mode != "lottery":
        raise Conflict("This sale is not a lottery.", code="not_lottery_sale")
    if meta.require_active_card and not principal.card_active:
        raise Forbidden("Activate your union card to take part.", code="card_inactive")
    if meta.regions and principal.region not in meta.regions:
        raise Forbidden("This sale is for members of other regions.", code="not_eligible")
    existing = _entry(campaign_id, principal.member_id)
    if existing is not None:
        return existing, False
    now = utcnow().timestamp()
    if not meta.available:
        raise Conflict("Registration is closed.", code="registration_closed")
    if now < meta.starts_at:
        raise Conflict("Registration has not opened yet.", code="registration_not_open")
    if now >= meta.ends_at:
        raise Conflict("Registration is closed.", code="registration_closed")
    quotas.check(quotas.hot_rules(), meta, principal.member_id)
    entry = LotteryEntry(campaign_id=campaign_id, member_id=principal.member_id,
                         ticket=secrets.token_hex(8))  # fmt: skip
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:  # the same member in two requests at once: the first one stands
        db.session.rollback()
        return _entry(campaign_id, principal.member_id), False
    return entry, True


def _entry(campaign_id: int, member_id: int) -> LotteryEntry | None:
    return db.session.scalar(
        select(LotteryEntry).where(
            LotteryEntry.campaign_id == campaign_id, LotteryEntry.member_id == member_id
        )
    )


def own_entry(principal, campaign_id: int) -> LotteryEntry:
    entry = _entry(campaign_id, principal.member_id)
    if entry is None:
        raise NotFound("You have not registered for this lottery.", code="not_registered")
    return entry


# -- the draw --------------------------------------------------------------------------------


def get_draw(campaign_id: int) -> LotteryDraw:
    draw = db.session.get(LotteryDraw, campaign_id)
    campaign = db.session.get(Campaign, campaign_id)
    if draw is None or campaign is None or campaign.status == "draft":
        raise NotFound("This sale has no draw.", code="not_found")
    return draw


def take_quota(campaign: Campaign, member_id: int):
    """Count a lottery win against the member's quota (one atomic step on the member's slot,
    request id ``draw``): the hold, or raises the claim's 409 quota_exceeded / 403 no_show_ban.
    A replay (the same draw resumed) counts nothing more."""
    meta = campaign_meta(campaign.id)
    rules = quotas.hot_rules()
    if meta is None or not rules.active:
        return None
    return quotas.take(rules, meta, member_id, DRAW_REQUEST)


def run_draw(campaign: Campaign, beacon_value: str | None = None, actor=None,
             resume: bool = False) -> LotteryDraw:  # fmt: skip
    """Draw once: order the entrants, skip those over quota or barred, reserve the winners'
    vouchers, keep the rest in order.

    The first caller marks the draw taken (a conditional UPDATE); a second call answers 409
    ``already_drawn`` and changes nothing. ``resume`` (CLI) re-runs a draw that stopped half-way:
    the order is deterministic, stored decisions (winners, exclusions) stand, every quota step
    and every reserve replays (request id ``draw``)."""
    if campaign.mode != "lottery":
        raise Conflict("This sale is not a lottery.", code="not_lottery_sale")
    if campaign.status == "cancelled":
        raise Conflict("The sale was cancelled.", code="not_editable")
    if utcnow() < campaign.ends_at:
        raise Conflict("Registration is still open.", code="draw_too_early")
    draw = get_draw(campaign.id)
    value = beacon.check_value(beacon_value) if beacon_value else None
    if value is None:
        try:
            value = draw.beacon_value or beacon.value(draw.beacon_round)
        except beacon.BeaconUnavailable as exc:
            raise ServiceUnavailable(f"The public randomness is not available yet: {exc}",
                                     code="beacon_unavailable") from None  # fmt: skip
    taken = db.session.execute(
        update(LotteryDraw)
        .where(LotteryDraw.campaign_id == campaign.id, LotteryDraw.drawn_at.is_(None))
        .values(drawn_at=utcnow(), beacon_value=value)
    ).rowcount
    if not taken and not resume:
        db.session.rollback()
        raise Conflict("This lottery has already been drawn.", code="already_drawn")
    db.session.commit()
    db.session.refresh(draw)
    started = time.perf_counter()
    rows = db.session.execute(
        select(LotteryEntry.ticket, LotteryEntry.id, LotteryEntry.member_id,
               LotteryEntry.position, LotteryEntry.outcome, LotteryEntry.weight)
        .where(LotteryEntry.campaign_id == campaign.id)
    ).all()  # fmt: skip
    by_ticket = {r.ticket: (r.id, r.member_id) for r in rows}
    stored = any(r.position is not None for r in rows)  # a resumed draw keeps its decisions
    steps: dict[str, float] = {}
    is_weighted = weighted(campaign)
    if stored:
        weights = {r.member_id: r.weight or 1 for r in rows}
    else:
        weights = weights_of(campaign, [r.member_id for r in rows])
    lines = [entrant_line(r.ticket, weights.get(r.member_id), is_weighted) for r in rows]
    read = time.perf_counter()
    drawn = order(draw.seed, draw.beacon_value, lines)
    ordered = time.perf_counter()
    stock = campaign.total_stock
    if stored:
        outcome = {r.ticket: (r.outcome, None) for r in rows}
        winners = [t for t in drawn if outcome[t][0] == "won"]
        for t in winners:  # count again what a crash may have left uncounted (replays: free)
            try:
                take_quota(campaign, by_ticket[t][1])
            except Problem:
                log.warning("resumed draw of sale %s: a winner is over quota now", campaign.id)
    else:
        outcome, winners = _decide(campaign, drawn, by_ticket, stock)
        steps = _store(drawn, by_ticket, weights, outcome, campaign)
    draw.entrants_hash = entrants_hash(lines)
    draw.entrants, draw.winners = len(drawn), len(winners)
    excluded = sum(1 for o, _r in outcome.values() if o == "excluded")
    record_audit("campaign.draw", "campaign", campaign.id, actor=actor,
                 merchant_id=campaign.merchant_id,
                 data={"entrants": draw.entrants, "winners": draw.winners,
                       "excluded": excluded})  # fmt: skip
    db.session.commit()
    stored_at = time.perf_counter()
    engine = get_engine()
    failed = [t for t, status in zip(winners, _reserve_all(engine, campaign,
                                     [by_ticket[t][1] for t in winners]), strict=True)
              if status != RESERVED]  # fmt: skip
    reserved = time.perf_counter()
    if failed:  # e.g. the pool was lost: `shihui draw run ID --resume` finishes (replays are safe)
        log.error("draw of sale %s: %s winners got no voucher", campaign.id, len(failed))
        raise ServiceUnavailable(
            f"{len(failed)} winners' vouchers could not be reserved; "
            "finish with `shihui draw run --resume`.",
            code="draw_incomplete",
        )
    _tell(campaign, by_ticket, winners, outcome)
    log.info("draw of sale %s: read %.1f s, order %.1f s, store %.1f s (%s), reserve %.1f s, "
             "tell winners %.1f s", campaign.id, read - started, ordered - read,
             stored_at - ordered, ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()),
             reserved - stored_at, time.perf_counter() - reserved)  # fmt: skip
    return draw


def _decide(campaign: Campaign, drawn: list[str], by_ticket: dict, stock: int):
    """Walk the order until ``stock`` winners: each candidate's win is counted against their
    quota atomically (quota.lua); one over quota or barred is excluded and the next wins."""
    outcome: dict[str, tuple[str, str | None]] = {}
    winners: list[str] = []
    if not quotas.hot_rules().active:  # no rule and no ban anywhere: the first stock win
        winners = drawn[:stock]
        outcome = dict.fromkeys(drawn, ("waiting", None))
        outcome.update(dict.fromkeys(winners, ("won", None)))
        return outcome, winners
    for t in drawn:
        if len(winners) >= stock:
            outcome[t] = ("waiting", None)
            continue
        try:
            take_quota(campaign, by_ticket[t][1])
        except Problem as exc:
            if exc.code not in EXCLUSION_CODES:
                raise
            outcome[t] = ("excluded", exc.code)
            continue
        outcome[t] = ("won", None)
        winners.append(t)
    return outcome, winners


def _store(drawn, by_ticket, weights, outcome, campaign: Campaign) -> dict[str, float]:
    """Every entry's place, outcome and reason (weight in a weighted sale; winners' ``won_at``
    and ``confirm_by``) in one bulk ``UPDATE ... FROM`` a temporary table. Returns the steps'
    seconds (for the draw's log line)."""
    clock = time.perf_counter()
    rows = []
    for n, t in enumerate(drawn, 1):
        entry_id, member_id = by_ticket[t]
        state, reason = outcome[t]
        rows.append((entry_id, n, state, reason, weights.get(member_id) if weights else None))
    rows.sort()  # in id order: the table's pages (and its id index) are walked in order
    steps = {"rows": time.perf_counter() - clock}
    now = utcnow()
    confirm_by = now + timedelta(hours=campaign.confirm_hours) if campaign.confirm_hours else None
    _store_places(rows, bool(weights), now, confirm_by, steps)
    return steps


# The draw's temporary table (its own connection's): every entry's place, outcome, reason and
# weight. On SQLite ``INTEGER PRIMARY KEY`` makes ``id`` the rowid (a BIGINT key would be a
# second index, and the rows would be walked in the order they were written).
PLACES_COLUMNS = ("position INTEGER NOT NULL, outcome VARCHAR(10) NOT NULL, reason VARCHAR(20), "
                  "weight INTEGER")  # fmt: skip
PLACES_DDL = {
    dialect: f"CREATE TEMPORARY TABLE lottery_places (id {key} PRIMARY KEY, {PLACES_COLUMNS})"
    for dialect, key in (("sqlite", "INTEGER"), ("postgresql", "BIGINT"))
}
PLACES_FILL_SQLITE = "INSERT INTO lottery_places VALUES (?, ?, ?, ?, ?)"
# PostgreSQL: the five columns as array literals in one statement (psycopg's executemany of
# 460,000 rows took 10.8 s of a 500,000-entrant draw; Python lists adapted as arrays, ~5 s).
PLACES_FILL_PG = text("""
    INSERT INTO lottery_places
    SELECT * FROM unnest(CAST(CAST(:ids AS text) AS bigint[]),
                         CAST(CAST(:positions AS text) AS integer[]),
                         CAST(CAST(:outcomes AS text) AS text[]),
                         CAST(CAST(:reasons AS text) AS text[]),
                         CAST(CAST(:weights AS text) AS integer[]))
""")
PLACES_UPDATE = (
    "UPDATE lottery_entries SET position = lottery_places.position, "
    "outcome = lottery_places.outcome, reason = lottery_places.reason{more} "
    "FROM lottery_places WHERE lottery_entries.id = lottery_places.id"
)
# PostgreSQL rewrites every index entry of an updated row anyway (no HOT update: the waiting
# index holds outcome and position), so the winners' times go in the same statement; SQLite
# updates an index only for the columns a statement sets, so it sets them on the winners alone.
WON_SET = (
    ", won_at = CASE WHEN lottery_places.outcome = 'won' "
    "THEN CAST(:won_at AS TIMESTAMP WITH TIME ZONE) END, "
    "confirm_by = CASE WHEN lottery_places.outcome = 'won' "
    "THEN CAST(:confirm_by AS TIMESTAMP WITH TIME ZONE) END"
)
WON_SQLITE = ("UPDATE lottery_entries SET won_at = :won_at, confirm_by = :confirm_by "
              "WHERE id IN (SELECT id FROM lottery_places WHERE outcome = 'won')")  # fmt: skip
SQLITE_CACHE_KIB = 262_144  # the draw's page cache: the waiting index's pages stay in memory


def _array(values) -> str:
    """A PostgreSQL array literal of ints and plain words (outcomes, reason codes) or None."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _store_places(rows: list[tuple], with_weight: bool, won_at, confirm_by,
                  steps: dict | None = None) -> None:  # fmt: skip
    """``rows`` (id, position, outcome, reason, weight), sorted by id, into the entries.

    500,000 entries: the rows reach the temporary table without per-row work in SQLAlchemy
    (SQLite: the driver's executemany of tuples; PostgreSQL: five array literals), the update
    walks the entries in id order, and SQLite gets a 256 MiB page cache for it (the waiting
    list's index is rewritten at random places). The cost left is the indexes' upkeep
    (BENCHMARKS.md, "Draw")."""
    conn = db.session.connection()
    dialect = conn.dialect.name
    run = conn.exec_driver_sql
    steps = {} if steps is None else steps
    clock = time.perf_counter()
    run("DROP TABLE IF EXISTS lottery_places")  # left by a draw that failed here
    run(PLACES_DDL.get(dialect, PLACES_DDL["postgresql"]))
    if dialect == "sqlite":
        cursor = conn.connection.cursor()  # the driver's executemany: 3 times SQLAlchemy's
        try:
            cursor.executemany(PLACES_FILL_SQLITE, rows)
        finally:
            cursor.close()
        cache = run("PRAGMA cache_size").scalar()
        run(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    else:
        cols = list(zip(*rows, strict=True)) if rows else [()] * 5
        names = ("ids", "positions", "outcomes", "reasons", "weights")
        conn.execute(PLACES_FILL_PG, {k: _array(v) for k, v in zip(names, cols, strict=True)})
        run("ANALYZE lottery_places")  # a hash join, not 500,000 guesses from an empty table
    steps["fill"] = time.perf_counter() - clock
    clock = time.perf_counter()
    weight = ", weight = lottery_places.weight" if with_weight else ""
    times = {"won_at": won_at, "confirm_by": confirm_by}
    if dialect == "sqlite":
        try:
            run(PLACES_UPDATE.format(more=weight))
            conn.execute(_timed(WON_SQLITE), times)
        finally:
            run(f"PRAGMA cache_size = {int(cache)}")
    else:
        conn.execute(_timed(PLACES_UPDATE.format(more=weight + WON_SET)), times)
    run("DROP TABLE lottery_places")
    steps["update"] = time.perf_counter() - clock


def _timed(sql: str):
    """``sql`` with its ``won_at`` / ``confirm_by`` parameters typed as the columns are."""
    return text(sql).bindparams(bindparam("won_at", type_=UTCDateTime),
                                bindparam("confirm_by", type_=UTCDateTime))  # fmt: skip


def _payload(campaign: Campaign) -> dict:
    return {"campaign_id": campaign.id, "title": campaign.title}


def _tell(campaign: Campaign, by_ticket: dict, winners: list[str], outcome: dict) -> None:
    """Winners and the excluded are told at once (a winner's confirmation clock runs); the
    waiting list, nearly every entrant of a big sale, is told by :func:`tell_waiting` in an RQ
    job after the draw, so the draw (and the winners' vouchers) do not wait for ~460,000 rows."""
    payload = _payload(campaign)
    won = {by_ticket[t][1] for t in winners}
    key = notice_key(campaign.id)
    notify_many(sorted(won), "lottery.won", {**payload, "confirm_hours": campaign.confirm_hours},
                key=key)  # fmt: skip
    excluded = {by_ticket[t][1]: r for t, (o, r) in outcome.items() if o == "excluded"}
    for reason in EXCLUSION_CODES:
        members = sorted(m for m, r in excluded.items() if r == reason)
        if members:
            notify_many(members, "lottery.excluded", {**payload, "reason": reason}, key=key)
    _queue_tell_waiting(campaign.id)


def notice_key(campaign_id: int) -> str:
    """The key of every draw result notice of the sale: one per member ((member, key) unique)."""
    return f"lottery:{campaign_id}"


def _queue_tell_waiting(campaign_id: int) -> None:
    from marketplace.extensions import get_queue

    try:
        get_queue("default").enqueue("flashsale.jobs.tell_lottery_waiting", campaign_id,
                                     job_timeout=3600)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - Redis down: tell them now, the slow way
        log.warning("waiting-list notices of sale %s not queued (%s): told now", campaign_id, exc)
        tell_waiting(campaign_id)


WAITING_CHUNK = 5000  # notices per transaction: each commit lets the outbox drainer write too


def tell_waiting(campaign_id: int, chunk: int = WAITING_CHUNK) -> int:
    """Tell every member still on the sale's waiting list that the lottery was drawn, in list
    order, ``chunk`` members a transaction. Idempotent: the notices' ``(member, key)`` is
    unique, so a job that runs again (or resumes after a crash) tells nobody twice. Returns the
    number of members on the list (told now or before)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    payload = _payload(campaign)
    members = list(db.session.scalars(
        select(LotteryEntry.member_id)
        .where(LotteryEntry.campaign_id == campaign_id, LotteryEntry.outcome == "waiting")
        .order_by(LotteryEntry.position)
    ))  # fmt: skip
    db.session.rollback()  # no open read transaction: each chunk is delivered and committed
    for start in range(0, len(members), chunk):
        notify_many(members[start : start + chunk], "lottery.waiting", payload,
                    key=notice_key(campaign_id))  # fmt: skip
    return len(members)


def _reserve_all(engine, campaign: Campaign, member_ids: list[int]) -> list[str]:
    """Every winner's voucher, in drawn order, as :func:`_reserve` one by one would take them
    (``StockEngine.reserve_many``: the same script per winner, 500 to a round trip; 40,000
    single calls took 11.5-14.6 s of a 500,000-entrant draw)."""
    requests = [(str(m), 1, DRAW_REQUEST, {"code": new_voucher_code()}) for m in member_ids]
    return [r.status for r in engine.reserve_many(campaign.pool_id, requests)]


def _reserve(engine, campaign: Campaign, member_id: int) -> str:
    result = engine.reserve(campaign.pool_id, str(member_id), 1, DRAW_REQUEST,
                            {"code": new_voucher_code()}, use_cache=False)  # fmt: skip
    return result.status


def pass_on(campaign: Campaign) -> int:
    """Kept for callers of the first version: :func:`flashsale.handon.pass_on`."""
    from .handon import pass_on as run

    return run(campaign)


def exclusions(campaign_id: int) -> list[dict]:
    """The published exclusions: ticket (no identity) and reason, in drawn order."""
    rows = db.session.execute(
        select(LotteryEntry.ticket, LotteryEntry.reason, LotteryEntry.position)
        .where(LotteryEntry.campaign_id == campaign_id, LotteryEntry.outcome == "excluded")
        .order_by(LotteryEntry.position)
    ).all()  # fmt: skip
    return [{"ticket": t, "reason": r, "position": p} for t, r, p in rows]


def public(draw: LotteryDraw) -> dict:
    """What anyone may check: before the draw the commitment, the named round and the weights;
    after it the seed, the beacon value, the entrants hash and the exclusions too."""
    drawn = draw.drawn_at is not None and draw.entrants_hash is not None
    campaign = db.session.get(Campaign, draw.campaign_id)
    return {
        "campaign_id": draw.campaign_id,
        "commitment": draw.commitment,
        "beacon_source": draw.beacon_source,
        "beacon_round": draw.beacon_round,
        "beacon_round_time": beacon.round_time(draw.beacon_round),
        "drawn": drawn,
        "drawn_at": draw.drawn_at.isoformat() if draw.drawn_at else None,
        "seed": draw.seed if drawn else None,
        "beacon_value": draw.beacon_value if drawn else None,
        "entrants_hash": draw.entrants_hash,
        "entrants": draw.entrants,
        "winners": draw.winners,
        "stock": campaign.total_stock,
        "weights": weight_rules(campaign),
        "confirm_hours": campaign.confirm_hours,
        "excluded": exclusions(draw.campaign_id) if drawn else [],
    }


def entrant_lines(campaign_id: int) -> list[str]:
    """The published list: every ticket (with its weight in a weighted sale), sorted."""
    campaign = db.session.get(Campaign, campaign_id)
    is_weighted = weighted(campaign)
    rows = db.session.execute(
        select(LotteryEntry.ticket, LotteryEntry.weight)
        .where(LotteryEntry.campaign_id == campaign_id)
    ).all()  # fmt: skip
    return sorted(entrant_line(t, w, is_weighted) for t, w in rows)


tickets_in_order = entrant_lines  # the first version's name


def verify(campaign_id: int, lines=None, excluded=None) -> list[str]:
    """Recompute the draw from public data; the list of disagreements (empty: verified)."""
    draw = get_draw(campaign_id)
    campaign = db.session.get(Campaign, campaign_id)
    problems = []
    if draw.entrants_hash is None:
        return ["not drawn yet"]
    if commitment_of(draw.seed) != draw.commitment:
        problems.append("the seed does not match the commitment published with the sale")
    lines = lines if lines is not None else entrant_lines(campaign_id)
    if entrants_hash(lines) != draw.entrants_hash:
        problems.append("the entrants list does not match the published entrants hash")
    drawn = order(draw.seed, draw.beacon_value, lines)
    stored = dict(db.session.execute(
        select(LotteryEntry.ticket, LotteryEntry.position)
        .where(LotteryEntry.campaign_id == campaign_id)
    ).all())  # fmt: skip
    moved = [t for n, t in enumerate(drawn, 1) if stored.get(t) != n]
    if moved:
        problems.append(f"{len(moved)} entries are not at their recomputed place")
    if excluded is None:
        excluded = [e["ticket"] for e in exclusions(campaign_id)]
    unknown = set(excluded) - set(drawn)
    if unknown:
        problems.append(f"{len(unknown)} published exclusions are not in the entrants list")
    winners = set(winners_of(drawn, excluded, campaign.total_stock))
    first = set(db.session.scalars(select(LotteryEntry.ticket).where(
        LotteryEntry.campaign_id == campaign_id, LotteryEntry.outcome == "won")))  # fmt: skip
    if first != winners:
        problems.append("the recorded winners differ from the recomputed ones")
    return problems
