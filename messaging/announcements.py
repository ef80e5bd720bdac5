"""Announcements (通知公告): written by the city, district and branch admins, read by members.

Publishing is O(1): one row holding the audience as a predicate, whatever its size. A member's
inbox is an indexed query over announcements whose ``audience_key`` is one of the member's own
keys; reading writes one marker row. See docs/messages.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, true
from sqlalchemy.dialects import postgresql, sqlite

from marketplace import orgs
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.images import check_image
from marketplace.members.models import Card, Member
from marketplace.models import record_audit, utcnow
from marketplace.orgs import Org
from marketplace.pagination import Page
from marketplace.permissions import Actor

from . import badge, markdown, realtime
from .models import LINK_KINDS, Announcement, AnnouncementRead

COVER_MAX_BYTES = 512 * 1024
MAX_BODY = 20_000
MAX_AHEAD = timedelta(days=366)
LINK_TABLES = {"sale": "campaigns", "offer": "offers", "groupbuy": "groupbuys"}


class AudienceOutOfScope(Forbidden):
    code = "audience_out_of_scope"


# --------------------------------------------------------------------------- members


@dataclass(frozen=True)
class Reader:
    """A member as the inbox sees them: their audience keys and whether their card is active."""

    member_id: int
    keys: tuple[str, ...]
    activated: bool


def reader(principal) -> Reader:
    """The audience keys of the calling member: everyone, their organisation and each of its
    ancestors, their region. One query (member joined to its organisation)."""
    row = db.session.execute(
        select(Member.region, Org.path)
        .outerjoin(Org, Org.id == Member.org_id)
        .where(Member.id == principal.member_id)
    ).first()
    if row is None:
        raise NotFound("No such member.")
    keys = ["all", f"region:{row.region}"]
    if row.path:
        keys += [f"org:{part}" for part in row.path.strip("/").split("/")]
    return Reader(principal.member_id, tuple(keys), bool(principal.card_active))


def _visible(r: Reader, now: datetime):
    """The inbox predicate: published, not withdrawn, aimed at one of the member's keys."""
    conditions = [
        Announcement.audience_key.in_(r.keys),
        Announcement.publish_at <= now,
        Announcement.withdrawn_at.is_(None),
    ]
    if not r.activated:
        conditions.append(Announcement.activated_only.is_(False))
    return and_(*conditions)


def inbox(principal, page: int = 1, per_page: int = 20) -> Page:
    """One page of the member's announcements, newest first: dicts of ``id``, ``title``,
    ``publish_at``, ``read_at`` (only the columns the list shows; bodies stay on disk)."""
    r = reader(principal)
    now = utcnow()
    stmt = (
        select(
            Announcement.id, Announcement.title, Announcement.publish_at, AnnouncementRead.read_at
        )
        .outerjoin(
            AnnouncementRead,
            and_(
                AnnouncementRead.announcement_id == Announcement.id,
                AnnouncementRead.member_id == r.member_id,
            ),
        )
        .where(_visible(r, now))
        .order_by(Announcement.publish_at.desc(), Announcement.id.desc())
    )
    total = db.session.scalar(select(func.count()).where(_visible(r, now)))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=[row._asdict() for row in rows], page=page, per_page=per_page,
                total=total or 0)  # fmt: skip


def unread_count(principal) -> int:
    r = reader(principal)
    read = exists().where(
        AnnouncementRead.announcement_id == Announcement.id,
        AnnouncementRead.member_id == r.member_id,
    )
    return db.session.scalar(select(func.count()).where(_visible(r, utcnow()), ~read)) or 0


def open_for_member(principal, announcement_id: int) -> Announcement:
    """The announcement if the member is in its audience (else 404); marks it read."""
    r = reader(principal)
    found = db.session.scalar(
        select(Announcement).where(Announcement.id == announcement_id, _visible(r, utcnow()))
    )
    if found is None:
        raise NotFound("No such announcement.")
    mark_read(r.member_id, found.id)
    return found


def mark_read(member_id: int, announcement_id: int) -> None:
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(
        dialect.insert(AnnouncementRead)
        .values(member_id=member_id, announcement_id=announcement_id, read_at=utcnow())
        .on_conflict_do_nothing()
    )
    db.session.commit()
    badge.forget(member_id)


# --------------------------------------------------------------------------- admins


def _clean_text(value, field: str, limit: int) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value or len(value) > limit:
        raise ValidationFailed(errors={field: [f"1 to {limit} characters."]})
    return value


def _audience(scope: Org | None, data: dict) -> dict:
    """The stored audience of ``data``, within the admin's subtree (else 403
    ``audience_out_of_scope``). A branch admin's default audience is its own node."""
    kind = data.get("audience") or ("all" if scope is None else "org")
    if kind == "all" or kind == "region":
        if scope is not None:
            raise AudienceOutOfScope("Only the city admin can address everyone or a region.")
        if kind == "all":
            return {"audience": "all", "audience_key": "all"}
        from marketplace.members import identity

        region = data.get("audience_region") or ""
        if not identity.valid_region(region):
            raise ValidationFailed(errors={"audience_region": ["Unknown region code."]})
        return {"audience": "region", "audience_region": region, "audience_key": f"region:{region}"}
    if kind != "org":
        raise ValidationFailed(errors={"audience": ["One of all, org, region."]})
    org_id = data.get("audience_org_id") or (scope.id if scope is not None else None)
    org = db.session.get(Org, org_id) if org_id else None
    if org is None:
        raise NotFound("No such organisation.")
    if not orgs.is_within(scope, org):
        raise AudienceOutOfScope("That organisation is outside the one you manage.")
    return {"audience": "org", "audience_org_id": org.id, "audience_key": f"org:{org.id}"}


def _link(data: dict) -> dict:
    kind, link_id = data.get("link_kind"), data.get("link_id")
    if not kind:
        return {"link_kind": None, "link_id": None}
    if kind not in LINK_KINDS or not link_id:
        raise ValidationFailed(errors={"link_kind": ["sale, offer or groupbuy, with link_id."]})
    table = db.metadata.tables[LINK_TABLES[kind]]
    if db.session.scalar(select(table.c.id).where(table.c.id == link_id)) is None:
        raise NotFound(f"No such {kind}.")
    return {"link_kind": kind, "link_id": link_id}


def create(principal, data: dict, cover: bytes | None = None) -> Announcement:
    """Write an announcement: one row, whatever the audience's size (publishing is O(1))."""
    scope = orgs.scope_of(principal)
    now = utcnow()
    publish_at = data.get("publish_at") or now
    if publish_at.tzinfo is None:
        raise ValidationFailed(errors={"publish_at": ["Give a time zone."]})
    if publish_at > now + MAX_AHEAD:
        raise ValidationFailed(errors={"publish_at": ["At most a year ahead."]})
    body = _clean_text(data.get("body"), "body", MAX_BODY)
    fields = {
        "title": _clean_text(data.get("title"), "title", 200),
        "body_md": body,
        "body_html": markdown.render(body),
        "activated_only": bool(data.get("activated_only")),
        "publish_at": max(publish_at, now),
        "author_id": principal.account_id,
        "author_org_id": scope.id if scope is not None else orgs.root().id,
        **_audience(scope, data),
        **_link(data),
    }
    if cover:
        fields["cover_type"] = check_image(cover, COVER_MAX_BYTES)
        fields["cover"] = cover
    announcement = Announcement(**fields)
    db.session.add(announcement)
    db.session.flush()
    record_audit("announcement.create", "announcement", announcement.id, actor=Actor(principal),
                 data={"audience": fields["audience_key"]})  # fmt: skip
    db.session.commit()
    announce(announcement)
    return announcement


def announce(announcement: Announcement) -> None:
    """Open pages of the audience hear of it (one event, whatever the audience's size) and the
    badges count again; one published for later does this at its time (an RQ job)."""
    if announcement.publish_at > utcnow():
        _announce_later(announcement)
        return
    badge.announcements_changed()
    realtime.to_audience(announcement.audience_key,
                         {"type": "announcement", "announcement_id": announcement.id})  # fmt: skip


def _announce_later(announcement: Announcement) -> None:
    import logging

    import redis.exceptions

    from marketplace.extensions import get_queue

    from .jobs import announcement_due

    try:
        get_queue("default").enqueue_at(
            announcement.publish_at, announcement_due, announcement.id,
            job_id=f"announce-{announcement.id}", result_ttl=600,
        )  # fmt: skip
    except (redis.exceptions.RedisError, OSError) as exc:  # badges catch up within BADGE_TTL
        logging.getLogger(__name__).warning("announcement %s not scheduled for pages (%s)",
                                            announcement.id, exc)  # fmt: skip


def set_cover(principal, announcement_id: int, cover: bytes) -> Announcement:
    announcement = get_for_admin(principal, announcement_id)
    announcement.cover_type = check_image(cover, COVER_MAX_BYTES)
    announcement.cover = cover
    db.session.commit()
    return announcement


def _admin_filter(scope: Org | None):
    if scope is None:
        return true()
    return Announcement.author_org_id.in_(orgs.subtree_ids(scope))


def get_for_admin(principal, announcement_id: int) -> Announcement:
    """An announcement written in the admin's subtree (else 404)."""
    found = db.session.scalar(
        select(Announcement).where(
            Announcement.id == announcement_id, _admin_filter(orgs.scope_of(principal))
        )
    )
    if found is None:
        raise NotFound("No such announcement.")
    return found


def admin_list(principal, page: int = 1, per_page: int = 20) -> Page:
    stmt = select(Announcement).where(_admin_filter(orgs.scope_of(principal)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = db.session.scalars(
        stmt.order_by(Announcement.publish_at.desc(), Announcement.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total or 0)


def withdraw(principal, announcement_id: int) -> Announcement:
    """Take an announcement out of every inbox (its read markers stay, for the record)."""
    announcement = get_for_admin(principal, announcement_id)
    if announcement.withdrawn_at is not None:
        raise Conflict("Already withdrawn.", code="already_withdrawn")
    announcement.withdrawn_at = utcnow()
    record_audit("announcement.withdraw", "announcement", announcement.id, actor=Actor(principal))
    db.session.commit()
    if announcement.publish_at <= announcement.withdrawn_at:  # it was in inboxes: badges drop
        badge.announcements_changed()
        realtime.to_audience(announcement.audience_key,
                             {"type": "withdrawn", "announcement_id": announcement.id})  # fmt: skip
    return announcement


def _audience_members(a: Announcement):
    """A where-clause over ``members`` selecting the announcement's audience."""
    conditions = []
    if a.audience == "org":
        org = db.session.get(Org, a.audience_org_id)
        conditions.append(Member.org_id.in_(orgs.subtree_ids(org)))
    elif a.audience == "region":
        conditions.append(Member.region == a.audience_region)
    if a.activated_only:
        conditions.append(exists().where(Card.member_id == Member.id, Card.status == "active"))
    return and_(true(), *conditions)


def read_stats(principal, announcement_id: int, limit: int = 30) -> dict:
    """How many of the audience have read it, per organisation node the members belong to
    (the ``limit`` largest nodes; the totals count everyone)."""
    a = get_for_admin(principal, announcement_id)
    audience = dict(
        db.session.execute(
            select(Member.org_id, func.count()).where(_audience_members(a)).group_by(Member.org_id)
        ).all()
    )
    reads = dict(
        db.session.execute(
            select(Member.org_id, func.count())
            .join(AnnouncementRead, AnnouncementRead.member_id == Member.id)
            .where(AnnouncementRead.announcement_id == a.id)
            .group_by(Member.org_id)
        ).all()
    )
    top = sorted(audience, key=lambda k: (-audience[k], k or 0))[:limit]
    names = dict(
        db.session.execute(select(Org.id, Org.name).where(Org.id.in_([k for k in top if k]))).all()
    )
    rows = [
        {"org_id": k, "name": names.get(k, "—"), "audience": audience[k], "read": reads.get(k, 0)}
        for k in top
    ]
    return {
        "announcement_id": a.id,
        "audience": sum(audience.values()),
        "read": sum(reads.values()),
        "by_org": rows,
    }
