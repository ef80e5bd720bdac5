"""Who reviews what: the one place that decides a reviewer's steps and branches.

Review has two steps. The **branch check** (``submitted`` -> ``checked``) is done by the union
of the member's branch (``Member.branch``, copied onto the application when it is submitted);
the **city decision** (``checked`` -> ``approved`` / ``rejected``) by the city union.

Today only the ``admin`` role exists, and a city admin does both steps for every branch. When
the ``branch_admin`` role lands (marketplace/orgs), it plugs in here and only here:
``reviewer_scope`` returns ``Scope(steps=("branch",), branches=(<their branch>,))`` for a
branch admin, and the permission table (``service.review`` and ``service.document`` in
marketplace/permissions.py) adds the role. Queues, detail pages, decisions and document
downloads all ask :func:`reviewer_scope` and :func:`can_review`, so nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, true

STEPS = ("branch", "city")
STEP_OF_STATUS = {"submitted": "branch", "checked": "city"}


@dataclass(frozen=True)
class Scope:
    steps: tuple[str, ...]
    branches: tuple[str, ...] | None  # None: every branch


def reviewer_scope(principal) -> Scope | None:
    """The steps and branches ``principal`` reviews; None when they review nothing."""
    if principal.role == "admin":  # the city union: both steps, every branch
        return Scope(steps=STEPS, branches=None)
    return None


def can_see(principal, application) -> bool:
    scope = reviewer_scope(principal)
    return scope is not None and (scope.branches is None or application.branch in scope.branches)


def can_review(principal, application, step: str) -> bool:
    scope = reviewer_scope(principal)
    return can_see(principal, application) and scope is not None and step in scope.steps


def branch_filter(principal, column):
    """A WHERE clause limiting ``column`` (an application's branch) to the reviewer's branches."""
    scope = reviewer_scope(principal)
    if scope is None:
        return false()
    if scope.branches is None:
        return true()
    return column.in_(scope.branches)
