"""Who reviews what: the one place that decides a reviewer's steps and members.

Review has two steps. The **branch check** (``submitted`` -> ``checked``) is done by the union
of the member's branch; the **city decision** (``checked`` -> ``approved`` / ``rejected``) by the
city union.

- The city admin (``admin``) does both steps, for every member.
- A branch admin (``branch_admin``, bound to an organisation node, see
  :func:`marketplace.orgs.scope_of`) does the branch check only, for members whose node
  (``Member.org_id``) lies in its subtree: a branch admin its branch, a district admin every
  branch under the district. The branch *name* copied onto an application is for display only:
  names are unique under one district, not across the city, so the scope is always the
  applicant's ``org_id``, read from ``members`` when asked.

Queues, detail pages, decisions, document downloads, slot rosters and cover incidents all ask
:func:`reviewer_scope` through :func:`can_see`, :func:`can_review` and :func:`member_filter`;
anything outside the scope answers 404, a step outside it 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, select, true

from marketplace import orgs
from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.members.models import Member

STEPS = ("branch", "city")
STEP_OF_STATUS = {"submitted": "branch", "checked": "city"}


@dataclass(frozen=True)
class Scope:
    steps: tuple[str, ...]
    org: orgs.Org | None  # None: every member; else members whose node lies under ``org``


def reviewer_scope(principal) -> Scope | None:
    """The steps and members ``principal`` reviews; None when they review nothing."""
    if principal.role == "admin":  # the city union: both steps, every member
        return Scope(steps=STEPS, org=None)
    if principal.role == "branch_admin":
        try:
            org = orgs.scope_of(principal)
        except Forbidden:  # a branch admin bound to no node reviews nothing
            return None
        return Scope(steps=("branch",), org=org)
    return None


def _member_in(scope: Scope, member_id: int) -> bool:
    if scope.org is None:
        return True
    org_id = db.session.scalar(select(Member.org_id).where(Member.id == member_id))
    return org_id is not None and orgs.is_within(scope.org, db.session.get(orgs.Org, org_id))


def can_see(principal, obj) -> bool:
    """Whether ``principal`` reviews ``obj`` (an application, incident or booking: anything
    with a ``member_id``)."""
    scope = reviewer_scope(principal)
    return scope is not None and _member_in(scope, obj.member_id)


def can_review(principal, application, step: str) -> bool:
    scope = reviewer_scope(principal)
    return scope is not None and step in scope.steps and can_see(principal, application)


def member_filter(principal, column):
    """A WHERE clause limiting ``column`` (a ``member_id``) to the reviewer's members."""
    scope = reviewer_scope(principal)
    if scope is None:
        return false()
    if scope.org is None:
        return true()
    return column.in_(select(Member.id).where(Member.org_id.in_(orgs.subtree_ids(scope.org))))
