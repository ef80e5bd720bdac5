"""Union organisations: the city federation, district/county unions and grassroots branches.

A tree of :class:`~.models.Org` rows kept as a materialised path (``/1/5/23/``), so a subtree is
one prefix test and a node's ancestors are read off its own path without a query. Members belong
to one node (``members.org_id``: a branch, or the district when the roster named no branch);
branch admins are bound to one node (``accounts.org_id``) and manage its subtree.

The public surface other packages use (union services, messaging):

- :func:`org_of` (member -> Org), :func:`subtree_ids` (Org -> select of ids),
  :func:`is_within` (admin's org, org -> bool), :func:`ancestor_ids` (Org -> list of ids),
- :func:`scope_of` (principal -> the Org it manages, or None for the city admin).
"""

from .models import KINDS, Org
from .tree import (
    ancestor_ids,
    assign_members,
    create_org,
    delete_org,
    ensure_branch,
    is_within,
    move_org,
    org_of,
    rename_org,
    root,
    scope_of,
    subtree_ids,
)

__all__ = [
    "KINDS",
    "Org",
    "ancestor_ids",
    "assign_members",
    "create_org",
    "delete_org",
    "ensure_branch",
    "is_within",
    "move_org",
    "org_of",
    "rename_org",
    "root",
    "scope_of",
    "subtree_ids",
]
