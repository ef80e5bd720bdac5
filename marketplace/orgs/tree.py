"""Building, editing and asking the organisation tree."""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import String, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from .models import Org

ROOT_NAME = "市总工会"
# Which kind of node may hang under which (the city is the one root).
PARENT_KIND = {"district": "city", "branch": "district"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------- asking


def org_of(member) -> Org | None:
    """The node ``member`` belongs to (a branch, or the district when no branch was named)."""
    return db.session.get(Org, member.org_id) if member.org_id else None


def subtree_ids(org: Org):
    """A select of the ids of ``org`` and every node under it (use in ``.in_(...)``)."""
    return select(Org.id).where(Org.path.startswith(org.path, autoescape=True))


def is_within(admin_org: Org | None, org: Org | None) -> bool:
    """Whether ``org`` lies in the subtree managed from ``admin_org`` (None: the whole city)."""
    if admin_org is None:
        return True
    return org is not None and org.path.startswith(admin_org.path)


def ancestor_ids(org: Org) -> list[int]:
    """The ids from the root down to ``org`` itself, read off its path (no query)."""
    return [int(part) for part in org.path.strip("/").split("/") if part]


def scope_of(principal) -> Org | None:
    """The node a caller manages: None for the city admin (everything), the bound node for a
    branch admin; any other role manages nothing (403)."""
    from ..auth.models import Account

    if principal.role == "admin":
        return None
    if principal.role == "branch_admin":
        org_id = db.session.scalar(select(Account.org_id).where(Account.id == principal.account_id))
        org = db.session.get(Org, org_id) if org_id else None
        if org is not None:
            return org
    raise Forbidden("This account manages no union organisation.")


def get_org(org_id: int, within: Org | None = None) -> Org:
    """The node ``org_id``, 404 when it does not exist or lies outside ``within``."""
    org = db.session.get(Org, org_id)
    if org is None or not is_within(within, org):
        raise NotFound("No such organisation.")
    return org


def children_counts(ids) -> dict[int, int]:
    rows = db.session.execute(
        select(Org.parent_id, func.count()).where(Org.parent_id.in_(ids)).group_by(Org.parent_id)
    )
    return dict(rows.all())


# --------------------------------------------------------------------------- building


def _set_path(org: Org, parent: Org | None) -> None:
    db.session.flush()  # the id
    org.path = f"{parent.path if parent else '/'}{org.id}/"


def root() -> Org:
    """The city federation, created on first use."""
    org = db.session.scalar(select(Org).where(Org.kind == "city"))
    if org is not None:
        return org
    name = current_app.config.get("ORG_ROOT_NAME", ROOT_NAME)
    try:
        with db.session.begin_nested():
            org = Org(kind="city", name=name)
            db.session.add(org)
            _set_path(org, None)
    except IntegrityError:  # another process created it at the same moment
        return db.session.scalar(select(Org).where(Org.kind == "city"))
    return org


def _child(parent: Org, kind: str, name: str, region: str | None = None) -> Org:
    org = db.session.scalar(select(Org).where(Org.parent_id == parent.id, Org.name == name))
    if org is not None:
        return org
    try:
        with db.session.begin_nested():
            org = Org(parent_id=parent.id, kind=kind, name=name, region=region)
            db.session.add(org)
            _set_path(org, parent)
    except IntegrityError:  # a concurrent import made it
        return db.session.scalar(select(Org).where(Org.parent_id == parent.id, Org.name == name))
    return org


def district(region: str) -> Org:
    """The district/county union of a region code (named after the region), created on use."""
    from ..members import identity

    city = root()
    org = db.session.scalar(
        select(Org).where(Org.parent_id == city.id, Org.kind == "district", Org.region == region)
    )
    if org is not None:
        return org
    name = identity.regions().get(region, {}).get("name_zh") or region
    return _child(city, "district", name, region)


def ensure_branch(region: str, branch: str, cache: dict | None = None) -> int:
    """The id of the node a roster row with ``region`` and ``branch`` belongs to: the branch
    named ``branch`` under the region's district (created on first sight), or the district
    itself when ``branch`` is empty."""
    key = (region, branch)
    if cache is not None and key in cache:
        return cache[key]
    node = district(region)
    if branch:
        node = _child(node, "branch", branch[:100])
    if cache is not None:
        cache[key] = node.id
    return node.id


def assign_members() -> int:
    """Give every member without a node the node of their roster ``region`` and ``branch``
    (members imported before the tree existed). Commits; returns how many were assigned."""
    from ..members.models import Member

    pairs = db.session.execute(
        select(Member.region, Member.branch).where(Member.org_id.is_(None)).distinct()
    ).all()
    done = 0
    for region, branch in pairs:
        org_id = ensure_branch(region, branch or "")
        result = db.session.execute(
            update(Member)
            .where(Member.org_id.is_(None), Member.region == region, Member.branch == branch)
            .values(org_id=org_id)
        )
        done += result.rowcount or 0
        db.session.commit()
    return done


# --------------------------------------------------------------------------- editing


def _clean_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 100 or _CONTROL.search(name):
        raise ValidationFailed(
            errors={"name": ["Trimmed: 1-100 characters, no control characters."]}
        )
    return name


def _check_parent(kind: str, parent: Org | None) -> None:
    if kind not in PARENT_KIND:
        raise ValidationFailed(
            errors={"parent_id": ["The city federation has no parent."]}, code="bad_parent"
        )
    if parent is None or parent.kind != PARENT_KIND[kind]:
        raise ValidationFailed(
            errors={"parent_id": [f"A {kind} hangs under a {PARENT_KIND[kind]}."]},  # documented
            code="bad_parent",
        )


def _unique(parent_id: int, name: str, exclude: int | None = None) -> None:
    clash = db.session.scalar(
        select(Org.id).where(Org.parent_id == parent_id, Org.name == name, Org.id != (exclude or 0))
    )
    if clash is not None:
        raise Conflict("A sibling organisation already has this name.", code="org_name_taken")


def create_org(parent_id: int, kind: str, name, region: str | None = None) -> Org:
    parent = db.session.get(Org, parent_id) if parent_id else None
    _check_parent(kind, parent)
    name = _clean_name(name)
    _unique(parent.id, name)
    if kind == "district":
        from ..members import identity

        if region is not None and not identity.valid_region(region):
            raise ValidationFailed(errors={"region": ["Unknown region code."]})
    else:
        region = None
    org = Org(parent_id=parent.id, kind=kind, name=name, region=region)
    db.session.add(org)
    _set_path(org, parent)
    db.session.commit()
    return org


def rename_org(org: Org, name) -> Org:
    name = _clean_name(name)
    if org.parent_id is not None:
        _unique(org.parent_id, name, exclude=org.id)
    org.name = name
    db.session.commit()
    return org


def move_org(org: Org, parent_id: int) -> Org:
    """Hang ``org`` (and its subtree) under another node of the right kind."""
    parent = db.session.get(Org, parent_id) if parent_id else None
    _check_parent(org.kind, parent)
    _unique(parent.id, org.name, exclude=org.id)
    old, new = org.path, f"{parent.path}{org.id}/"
    org.parent_id = parent.id
    db.session.execute(
        update(Org)
        .where(Org.path.startswith(old, autoescape=True))
        .values(path=literal(new, String).concat(func.substr(Org.path, len(old) + 1, type_=String)))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(org)
    return org


def delete_org(org: Org) -> None:
    """Delete an empty node: no children, members or admins, and nothing else naming it
    (announcements, conversations: the foreign keys say so) — else 409 ``org_not_empty``."""
    from ..auth.models import Account
    from ..members.models import Member

    if org.kind == "city":
        raise Conflict("The city federation cannot be deleted.", code="org_not_empty")
    busy = (
        db.session.scalar(select(Org.id).where(Org.parent_id == org.id).limit(1))
        or db.session.scalar(select(Member.id).where(Member.org_id == org.id).limit(1))
        or db.session.scalar(select(Account.id).where(Account.org_id == org.id).limit(1))
    )
    if busy:
        raise Conflict(
            "Only an empty organisation can be deleted (no sub-organisations, members or admins).",
            code="org_not_empty",
        )
    db.session.delete(org)
    try:
        db.session.commit()
    except IntegrityError:  # still named by announcements, conversations, saved replies...
        db.session.rollback()
        raise Conflict(
            "This organisation is still referred to (announcements, conversations).",
            code="org_not_empty",
        ) from None
