"""Union quotas across sales and no-show bans (docs/flashsale.md "Quotas and no-shows").

The union sets rules per scope (``*`` = every sale, or one category): at most ``monthly_limit``
tickets per member per calendar month (the month a sale starts, Asia/Shanghai), and after
``no_show_limit`` unused tickets within ``no_show_window_days`` a bar from the scope's sales for
``ban_days``.

Hot path (claim): no SQL. Everything a member's claims share sits on the **member's** slot,
``<ns>:fsq:{m<member>}:<YYYYMM>`` (counts and one hold per claim request) and
``<ns>:fsq:{m<member>}:ban``, changed by one script (``quota.lua``). A claim takes its hold there
first (ban, quota, count: one atomic step), then asks the stock engine (the sale's slot); a
refusal gives the hold back (``finish``), unless another request with the same id still holds it.
A hold left pending by a crash between the two steps is settled by :func:`reconcile_holds` from
the engine's claim records and SQL, never leaked and never dropped while its claim exists.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from marketplace.errors import Conflict, Forbidden, NotFound, Problem
from marketplace.extensions import db, get_redis
from marketplace.models import record_audit, utcnow

from .models import CATEGORIES, Campaign, NoShowBan, SaleRule, Voucher
from .settings import setting

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCOPES = ("*", *CATEGORIES)
# A pending hold untouched this long has no request in flight (requests time out far sooner:
# gunicorn's 30 s), so the reconciler may settle it from the engine's records.
GRACE_MS = 300_000


# --------------------------------------------------------------------------- keys and script


def _ns() -> str:
    return current_app.config.get("REDIS_NAMESPACE", "shihui")


def member_keys(member_id, month: str) -> list[str]:
    """KEYS of quota.lua: the member's month hash and ban hash (one slot: the ``{m<id>}`` tag)."""
    base = f"{_ns()}:fsq:{{m{member_id}}}"
    return [f"{base}:{month}", f"{base}:ban"]


def rules_key() -> str:
    return f"{_ns()}:fs:rules"


def month_of(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, SHANGHAI).strftime("%Y%m")


def _month_expiry(month: str) -> int:
    """The month hash lives until 40 days after its month ends (the member's page, the
    reconciler), then Redis drops it."""
    start = datetime(int(month[:4]), int(month[4:]), 1, tzinfo=SHANGHAI)
    return int((start + timedelta(days=31 + 40)).timestamp())


def _script():
    ext = current_app.extensions
    script = ext.get("flashsale.quota_script")
    if script is None:
        source = (files("flashsale") / "quota.lua").read_text()
        script = ext["flashsale.quota_script"] = get_redis().register_script(source)
    return script


def _call(keys: list[str], *args) -> list[str]:
    reply = _script()(keys=keys, args=[str(a) for a in args])
    return [r.decode() if isinstance(r, bytes) else r for r in reply]


def _hold_field(campaign_id: int, request_id: str) -> str:
    return f"h:{campaign_id}:{request_id}"


# --------------------------------------------------------------------------- hot path


@dataclass(frozen=True, slots=True)
class HotRules:
    active: bool
    limits: dict[str, int]  # scope -> monthly limit


_NO_RULES = HotRules(False, {})
_lock = threading.Lock()


def hot_rules() -> HotRules:
    """The rules the claim needs, from Redis (``<ns>:fs:rules``, written when an admin saves and
    after a Redis restart), cached per process for ``FLASHSALE_META_TTL``. No hash: no rules."""
    cache = current_app.extensions.setdefault("flashsale.rules", [0.0, _NO_RULES])
    now = time.monotonic()
    if now < cache[0]:
        return cache[1]
    raw = get_redis().hgetall(rules_key())
    fields = {_s(k): _s(v) for k, v in raw.items()}
    rules = HotRules(
        fields.get("on") == "1",
        {k[2:]: int(v) for k, v in fields.items() if k.startswith("q:")},
    )
    with _lock:
        cache[:] = [now + float(setting("FLASHSALE_META_TTL")), rules]
    return rules


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Hold:
    keys: list[str]
    field: str


def take(rules: HotRules, meta, member_id, request_id: str) -> Hold | None:
    """Take the member's quota for one claim of ``meta``'s sale (one script call on the member's
    slot). None when no rule applies or the request's hold already counts (a replay); raises
    403 ``no_show_ban`` / 409 ``quota_exceeded``. A returned hold must be :func:`finish`-ed if
    the stock engine refuses the claim."""
    if not rules.active:
        return None
    month = month_of(meta.starts_at)
    keys = member_keys(member_id, month)
    field = _hold_field(meta.id, request_id)
    cat = meta.category or "other"
    reply = _call(keys, "take", field, cat, rules.limits.get("*", ""), rules.limits.get(cat, ""),
                  _month_expiry(month))  # fmt: skip
    status = reply[0]
    if status in ("taken", "joined"):
        return Hold(keys, field)
    if status == "held":
        return None
    if status == "banned":
        raise ban_problem(reply[1], int(reply[2]))
    if status == "quota":
        raise quota_problem(reply[1], int(reply[2]), month)
    raise Problem(f"unexpected quota answer {status}", status=503)


def quota_problem(scope: str, limit: int, month: str) -> Problem:
    return Conflict(
        "You have had as many tickets this month as the union allows.",
        code="quota_exceeded",
        scope=scope,
        monthly_limit=limit,
        month=f"{month[:4]}-{month[4:]}",
    )


def check(rules: HotRules, meta, member_id) -> None:
    """Refuse as :func:`take` would (403 ``no_show_ban``, 409 ``quota_exceeded``) without
    counting: a lottery registration, whose ticket is counted only if it is drawn (the draw's
    :func:`take` is the atomic step; this is the early, honest answer)."""
    if not rules.active:
        return
    month = month_of(meta.starts_at)
    keys = member_keys(member_id, month)
    cat = meta.category or "other"
    client = get_redis()
    now_ms = time.time() * 1000
    for scope, until in zip(("*", cat), client.hmget(keys[1], "*", cat), strict=True):
        if until is not None and int(until) > now_ms:
            raise ban_problem(scope, int(until))
    counts = [int(v or 0) for v in client.hmget(keys[0], "all", f"c:{cat}")]
    for scope, count in zip(("*", cat), counts, strict=True):
        limit = rules.limits.get(scope)
        if limit is not None and count >= limit:
            raise quota_problem(scope, limit, month)


def finish(hold: Hold | None) -> None:
    """The stock refused the claim: give its hold back (unless another request still has it)."""
    if hold is not None:
        _call(hold.keys, "finish", hold.field)


def ban_problem(scope: str, until_ms: int) -> Problem:
    until = datetime.fromtimestamp(until_ms / 1000, UTC)
    local = until.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    what = "these sales" if scope == "*" else f"{scope} sales"
    return Forbidden(
        f"Too many of your free tickets went unused: you cannot take part in {what} "
        f"until {local} (Beijing time).",
        code="no_show_ban",
        scope=scope,
        until=until.isoformat(),
    )


# --------------------------------------------------------------------------- off the hot path


def refund(campaign: Campaign, member_id: int, request_id: str | None) -> bool:
    """A cancelled voucher gives its ticket back to the member's quota (once)."""
    if not request_id:
        return False
    keys = member_keys(member_id, month_of(campaign.starts_at.timestamp()))
    return _call(keys, "refund", _hold_field(campaign.id, request_id))[0] == "refunded"


def restore(campaign: Campaign, member_id: int, request_id: str | None) -> bool:
    """Count a voucher SQL has but Redis lost (after a Redis restart), once."""
    if not request_id:
        return False
    month = month_of(campaign.starts_at.timestamp())
    keys = member_keys(member_id, month)
    reply = _call(keys, "restore", _hold_field(campaign.id, request_id), campaign.category,
                  _month_expiry(month))  # fmt: skip
    return reply[0] == "restored"


def usage(member_id: int, months: list[str]) -> dict[str, dict[str, int]]:
    """The member's counted tickets per month and scope (``*`` and each category)."""
    out = {}
    client = get_redis()
    for month in months:
        raw = client.hgetall(member_keys(member_id, month)[0])
        fields = {_s(k): _s(v) for k, v in raw.items()}
        out[month] = {("*" if k == "all" else k[2:]): int(v) for k, v in fields.items()
                      if (k == "all" or k.startswith("c:")) and int(v)}  # fmt: skip
    return out


def reconcile_holds(grace_ms: int = GRACE_MS) -> dict:
    """Settle pending holds nobody touched for ``grace_ms``: kept when the engine (or SQL, for a
    retired sale) has the claim, given back otherwise. Conditional on the hold being unchanged
    since it was read, so a request that joined it meanwhile wins. Walks the quota keys with
    SCAN (every node of a cluster)."""
    client = get_redis()
    from .hotpath import get_engine

    engine = get_engine()
    report = {"kept": 0, "released": 0, "skipped": 0}
    now_ms = int(time.time() * 1000)
    prefix = f"{_ns()}:fsq:"
    for key in client.scan_iter(match=prefix + "*", count=500):
        key = _s(key)
        if key.endswith(":ban"):
            continue
        member = key[len(prefix) + 2 : key.index("}")]
        for f, v in client.hgetall(key).items():
            f, v = _s(f), _s(v)
            if not f.startswith("h:") or not v.startswith("p|"):
                continue
            touched = int(v.split("|")[2])
            if now_ms - touched < grace_ms:
                continue
            _, campaign_id, request_id = f.split(":", 2)
            won = engine.has_request(campaign_id, member, request_id) or _in_sql(
                int(campaign_id), int(member), request_id
            )
            keys = [key, key.rsplit(":", 1)[0] + ":ban"]
            answer = _call(keys, "settle", f, touched, "won" if won else "lost", grace_ms)[0]
            if answer == "settled":
                report["kept" if won else "released"] += 1
            else:
                report["skipped"] += 1
    if report["released"]:
        log.warning("quota holds of lost claims given back: %s", report)
    return report


def _in_sql(campaign_id: int, member_id: int, request_id: str) -> bool:
    return (
        db.session.scalar(
            select(Voucher.id).where(
                Voucher.campaign_id == campaign_id,
                Voucher.member_id == member_id,
                Voucher.request_id == request_id,
            )
        )
        is not None
    )


# --------------------------------------------------------------------------- rules (admin)


def rules() -> list[SaleRule]:
    return list(db.session.scalars(select(SaleRule).order_by(SaleRule.scope)))


def set_rule(actor, scope: str, values: dict) -> SaleRule:
    if scope not in SCOPES:
        raise NotFound("No such scope.", code="unknown_scope")
    rule = db.session.get(SaleRule, scope) or SaleRule(scope=scope, no_show_window_days=365)
    for name in ("monthly_limit", "no_show_limit", "no_show_window_days", "ban_days"):
        if name in values:
            setattr(rule, name, values[name])
    if rule.no_show_window_days is None:
        rule.no_show_window_days = 365
    if (rule.no_show_limit is None) != (rule.ban_days is None):
        raise Problem("Set both no_show_limit and ban_days, or neither.", code="incomplete_rule")
    rule.updated_at, rule.updated_by = utcnow(), getattr(actor, "id", None)
    db.session.add(rule)
    record_audit("sale_rule.set", "sale_rule", scope, actor=actor, data=_rule_dict(rule))
    db.session.commit()
    publish_rules()
    return rule


def delete_rule(actor, scope: str) -> None:
    rule = db.session.get(SaleRule, scope)
    if rule is None:
        raise NotFound("No rule for this scope.", code="not_found")
    db.session.delete(rule)
    record_audit("sale_rule.delete", "sale_rule", scope, actor=actor)
    db.session.commit()
    publish_rules()


def _rule_dict(rule: SaleRule) -> dict:
    return {
        "scope": rule.scope,
        "monthly_limit": rule.monthly_limit,
        "no_show_limit": rule.no_show_limit,
        "no_show_window_days": rule.no_show_window_days,
        "ban_days": rule.ban_days,
    }


def publish_rules() -> None:
    """Write the rules the claim reads into Redis (after every change and a Redis restart).
    ``on`` is set while any rule or any active ban exists: then claims check bans and quotas."""
    all_rules = rules()
    now = utcnow()
    any_ban = db.session.scalar(
        select(NoShowBan.id).where(NoShowBan.lifted_at.is_(None), NoShowBan.until > now).limit(1)
    )
    fields = {"on": "1" if (all_rules or any_ban) else "0"}
    fields.update({f"q:{r.scope}": r.monthly_limit for r in all_rules if r.monthly_limit})
    client = get_redis()
    pipe = client.pipeline(transaction=True)
    pipe.delete(rules_key())
    pipe.hset(rules_key(), mapping=fields)
    pipe.execute()
    current_app.extensions.pop("flashsale.rules", None)


# --------------------------------------------------------------------------- no-shows


def sweep_no_shows(now: datetime | None = None) -> list[NoShowBan]:
    """Ban members whose unused, expired tickets reached a rule's ``no_show_limit``.

    A no-show is a voucher still ``issued`` after its ``valid_until``. Counted within the rule's
    window and only after the member's previous ban in that scope began (a ban uses up the
    no-shows that caused it). Idempotent; audit-logged (``no_show.ban``)."""
    now = now or utcnow()
    created = []
    for rule in rules():
        if not rule.no_show_limit or not rule.ban_days:
            continue
        since = now - timedelta(days=rule.no_show_window_days)
        stmt = (
            select(Voucher.member_id, Voucher.valid_until)
            .join(Campaign, Campaign.id == Voucher.campaign_id)
            .where(Voucher.status == "issued", Voucher.valid_until < now,
                   Voucher.valid_until >= since)
        )  # fmt: skip
        if rule.scope != "*":
            stmt = stmt.where(Campaign.category == rule.scope)
        by_member: dict[int, list[datetime]] = {}
        for member_id, valid_until in db.session.execute(stmt):
            by_member.setdefault(member_id, []).append(valid_until)
        for member_id, ends in by_member.items():
            if len(ends) < rule.no_show_limit:
                continue
            last = db.session.scalar(
                select(NoShowBan)
                .where(NoShowBan.member_id == member_id, NoShowBan.scope == rule.scope)
                .order_by(NoShowBan.created_at.desc())
                .limit(1)
            )
            if last is not None:
                if last.active(now):
                    continue
                ends = [e for e in ends if e > last.created_at]
            if len(ends) < rule.no_show_limit:
                continue
            ban = NoShowBan(member_id=member_id, scope=rule.scope, no_shows=len(ends),
                            created_at=now, until=now + timedelta(days=rule.ban_days))  # fmt: skip
            db.session.add(ban)
            db.session.flush()
            record_audit("no_show.ban", "member", member_id,
                         data={"ban": ban.id, "scope": rule.scope, "no_shows": len(ends),
                               "until": ban.until.isoformat()})  # fmt: skip
            created.append(ban)
    db.session.commit()
    sync_bans()
    if created:
        publish_rules()
    return created


def sync_bans(member_id: int | None = None) -> int:
    """Write active bans from SQL into the members' ban hashes (one member: rewritten whole)."""
    now = utcnow()
    stmt = select(NoShowBan).where(NoShowBan.lifted_at.is_(None), NoShowBan.until > now)
    if member_id is not None:
        stmt = stmt.where(NoShowBan.member_id == member_id)
        get_redis().delete(member_keys(member_id, "0")[1])
    client = get_redis()
    n = 0
    for ban in db.session.scalars(stmt):
        key = member_keys(ban.member_id, "0")[1]
        until_ms = int(ban.until.timestamp() * 1000)
        client.hset(key, ban.scope, until_ms)
        client.expireat(key, int(ban.until.timestamp()) + 60)
        n += 1
    return n


def lift(actor, ban_id: int, reason: str) -> NoShowBan:
    ban = db.session.get(NoShowBan, ban_id)
    if ban is None:
        raise NotFound("No such ban.", code="not_found")
    if ban.lifted_at is not None:
        raise Conflict("This ban was already lifted.", code="already_lifted")
    ban.lifted_at, ban.lifted_by, ban.lift_reason = utcnow(), getattr(actor, "id", None), reason
    record_audit("no_show.lift", "member", ban.member_id, actor=actor,
                 data={"ban": ban.id, "scope": ban.scope, "reason": reason})  # fmt: skip
    db.session.commit()
    sync_bans(ban.member_id)
    return ban


def bans(member_id: int | None = None, active_only: bool = True) -> list[NoShowBan]:
    stmt = select(NoShowBan).order_by(NoShowBan.created_at.desc())
    if member_id is not None:
        stmt = stmt.where(NoShowBan.member_id == member_id)
    if active_only:
        stmt = stmt.where(NoShowBan.lifted_at.is_(None), NoShowBan.until > utcnow())
    return list(db.session.scalars(stmt.limit(500)))


def ban_dict(ban: NoShowBan) -> dict:
    return {
        "id": ban.id,
        "member_id": ban.member_id,
        "scope": ban.scope,
        "no_shows": ban.no_shows,
        "created_at": ban.created_at.isoformat(),
        "until": ban.until.isoformat(),
        "lifted_at": ban.lifted_at.isoformat() if ban.lifted_at else None,
        "lift_reason": ban.lift_reason,
    }


def restore_after_restart() -> dict:
    """After Redis lost data: the rules hash, the bans, and the counts of this and last month's
    vouchers (a voucher whose hold Redis still has is not counted twice)."""
    publish_rules()
    n_bans = sync_bans()
    now = utcnow()
    first = now.astimezone(SHANGHAI).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since = (first - timedelta(days=1)).replace(day=1).astimezone(UTC)
    rows = db.session.execute(
        select(Campaign, Voucher.member_id, Voucher.request_id)
        .join(Voucher, Voucher.campaign_id == Campaign.id)
        .where(Campaign.starts_at >= since, Voucher.status != "cancelled")
    )
    restored = sum(restore(c, m, r) for c, m, r in rows)
    return {"bans": n_bans, "restored": restored}
