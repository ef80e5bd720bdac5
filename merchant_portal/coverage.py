"""The union's own figures: find a member (masked), and card coverage per district and branch.

Coverage counts, for each organisation node, the roster (members), the cards issued (members
holding a live or frozen card) and the cards activated (members whose card is ``active``),
rolled up the tree by the nodes' materialised paths. The target is the share of the roster that
should carry an activated card: ``COVERAGE_TARGET_FIRST_YEAR`` (default 0.35, the launch
announcement said 30-40 %) until a year after ``COVERAGE_LAUNCH`` (ISO date, default the
earliest card issued), ``COVERAGE_TARGET_LATER`` (default 0.85) after.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import distinct, func, select

from marketplace.extensions import db
from marketplace.members import identity
from marketplace.members.identity import mask_name
from marketplace.members.models import Card, Member
from marketplace.models import record_audit, utcnow
from marketplace.orgs import Org, subtree_ids

MAX_RESULTS = 50
_PHONE = re.compile(r"^1\d{10}$")
_CARD = re.compile(r"^\d{16,19}$")


# --------------------------------------------------------------------------- search


def mask_card(card_no: str) -> str:
    return card_no[:4] + " **** " + card_no[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


def classify(query: str) -> str:
    """What the admin typed: ``card``, ``phone``, ``id`` or ``name``."""
    compact = query.replace(" ", "")
    if identity.valid_resident_id(compact):  # checked first: an 18-digit card is not an ID
        return "id"
    if _CARD.match(compact):
        return "card"
    if _PHONE.match(compact):
        return "phone"
    return "name"


def search(query: str, scope: Org | None, actor) -> tuple[str, list[dict]]:
    """Members matching ``query`` within ``scope`` (None: the whole city), masked; the search
    itself is audit-logged with the kind and a masked query, never the clear value."""
    from marketplace.members.services import hash_id

    query = query.strip()
    kind = classify(query)
    compact = query.replace(" ", "")
    stmt = select(Member).order_by(Member.id).limit(MAX_RESULTS)
    if kind == "card":
        stmt = stmt.join(Card, Card.member_id == Member.id).where(Card.card_no == compact)
    elif kind == "id":
        stmt = stmt.where(Member.id_hash == hash_id(compact))
    elif kind == "phone":
        stmt = stmt.where(Member.phone == compact)
    else:
        stmt = stmt.where(Member.name.contains(query, autoescape=True))
    if scope is not None:
        stmt = stmt.where(Member.org_id.in_(subtree_ids(scope)))
    members = list(db.session.scalars(stmt))
    names = _org_names({m.org_id for m in members if m.org_id})
    rows = [_masked(m, names) for m in members]
    shown = {"card": mask_card, "phone": mask_phone, "id": lambda v: identity.mask_id(v[-4:])}
    record_audit(
        "member.search", "member_search", kind, actor=actor,
        data={"kind": kind, "query": shown.get(kind, mask_name)(compact), "results": len(rows),
              "scope_org_id": scope.id if scope else None},
    )  # fmt: skip
    db.session.commit()
    return kind, rows


def _org_names(ids) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Org.id, Org.name).where(Org.id.in_(ids))).all())


def _masked(member: Member, names: dict[int, str]) -> dict:
    card = member.current_card
    return {
        "id": member.id,
        "name": mask_name(member.name),
        "card_no": mask_card(card.card_no) if card else "",
        "card_status": card.status if card else None,
        "phone": mask_phone(member.phone),
        "id_number": identity.mask_id(member.id_last4),
        "org": names.get(member.org_id, ""),
    }


# --------------------------------------------------------------------------- coverage


@dataclass
class Row:
    org: Org
    roster: int = 0
    issued: int = 0
    activated: int = 0

    @property
    def rate(self) -> float:
        return self.activated / self.roster if self.roster else 0.0


def launch_date() -> date:
    configured = current_app.config.get("COVERAGE_LAUNCH")
    if configured:
        return date.fromisoformat(str(configured))
    first = db.session.scalar(select(func.min(Card.issued_at)))
    return (first or utcnow()).date()


def target(today: date | None = None) -> float:
    """The share of the roster that should carry an activated card now."""
    today = today or utcnow().date()
    first_year = today < launch_date() + timedelta(days=365)
    key = "COVERAGE_TARGET_FIRST_YEAR" if first_year else "COVERAGE_TARGET_LATER"
    return float(current_app.config.get(key, 0.35 if first_year else 0.85))


def coverage(scope: Org | None) -> list[Row]:
    """One row per district and branch in ``scope`` (and the scope node itself first), each
    counting its whole subtree; sorted by path so branches follow their district."""
    nodes_stmt = select(Org).where(Org.kind != "city").order_by(Org.path)
    if scope is not None:
        nodes_stmt = select(Org).where(Org.id.in_(subtree_ids(scope))).order_by(Org.path)
    nodes = list(db.session.scalars(nodes_stmt))
    live = Card.status.in_(("issued", "active", "frozen"))
    per_org = db.session.execute(
        select(
            Member.org_id,
            func.count(distinct(Member.id)),
            func.count(distinct(Member.id)).filter(live),
            func.count(distinct(Member.id)).filter(Card.status == "active"),
        )
        .outerjoin(Card, Card.member_id == Member.id)
        .where(Member.org_id.is_not(None))
        .group_by(Member.org_id)
    ).all()
    paths = dict(db.session.execute(select(Org.id, Org.path)).all())
    rows = {n.id: Row(n) for n in nodes}
    for org_id, roster, issued, activated in per_org:
        for ancestor in (int(p) for p in paths.get(org_id, "").strip("/").split("/") if p):
            row = rows.get(ancestor)
            if row is not None:
                row.roster += roster
                row.issued += issued
                row.activated += activated
    return list(rows.values())


def roster_total(scope: Org | None) -> int:
    stmt = select(func.count()).select_from(Member)
    if scope is not None:
        stmt = stmt.where(Member.org_id.in_(subtree_ids(scope)))
    return db.session.scalar(stmt) or 0


def trend(scope: Org | None, months: int = 12) -> list[tuple[str, int]]:
    """Cumulative activated cards at the end of each of the last ``months`` months (UTC)."""
    stmt = (
        select(Card.activated_at)
        .join(Member, Member.id == Card.member_id)
        .where(Card.activated_at.is_not(None), Card.status == "active")
    )
    if scope is not None:
        stmt = stmt.where(Member.org_id.in_(subtree_ids(scope)))
    stamps = sorted(_aware(t) for t in db.session.scalars(stmt))
    now = utcnow()
    ends = []
    year, month = now.year, now.month
    for _ in range(months):
        ends.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    series = []
    for year, month in reversed(ends):
        nxt = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
        series.append((f"{year}-{month:02d}", sum(1 for t in stamps if t < nxt)))
    return series


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


HEADERS = {
    "zh": ("区县", "基层工会", "会员人数", "已发卡", "已激活", "激活率", "目标", "是否达标"),
    "en": ("District", "Branch", "Roster", "Cards issued", "Cards activated", "Activation rate",
           "Target", "Target met"),
}  # fmt: skip


def coverage_csv(rows: list[Row], goal: float, lang: str = "zh") -> str:
    """The coverage table as CSV (UTF-8 with a BOM so Excel reads the Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADERS["en" if lang == "en" else "zh"])
    yes, no = ("yes", "no") if lang == "en" else ("是", "否")
    districts = {r.org.id: r.org.name for r in rows if r.org.kind == "district"}
    for r in rows:
        parent = districts.get(r.org.parent_id, "")
        district, branch = (r.org.name, "") if r.org.kind != "branch" else (parent, r.org.name)
        writer.writerow([district, branch, r.roster, r.issued, r.activated, f"{r.rate:.1%}",
                         f"{goal:.0%}", yes if r.rate >= goal else no])  # fmt: skip
    return out.getvalue()
