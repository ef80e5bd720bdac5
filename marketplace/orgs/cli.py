"""``shihui orgs seed|tree`` and ``shihui admin create-branch-admin``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("orgs")
def orgs() -> None:
    """Union organisations (city federation, districts, branches)."""


@orgs.command("seed")
@with_appcontext
def seed() -> None:
    """Build the tree from the members' roster region and branch, and attach them to it."""
    from .tree import assign_members

    click.echo(f"{assign_members()} members attached to their branch")


@orgs.command("tree")
@with_appcontext
def show_tree() -> None:
    """Print the tree: id, kind, name, members."""
    from .routes import visible_orgs

    for org in visible_orgs(None):
        indent = "  " * org["depth"]
        click.echo(f"{indent}{org['id']:>6} {org['kind']:<8} {org['name']} ({org['members']})")


@click.command("create-branch-admin")
@click.argument("username")
@click.option("--org", "org_id", type=int, required=True, help="The node it manages (id).")
@click.option("--password", help="Prompted (with confirmation) when omitted.")
@with_appcontext
def create_branch_admin(username: str, org_id: int, password: str | None) -> None:
    """Create a branch admin bound to one organisation node (it manages its subtree)."""
    from ..errors import Problem
    from .routes import create_branch_admin as create

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        account = create(username, password, org_id)
    except Problem as exc:
        detail = exc.detail or "; ".join(
            f"{k}: {' '.join(v)}" for k, v in exc.extra.get("errors", {}).items()
        )
        raise click.ClickException(detail) from None
    click.echo(f"branch admin {account.username!r} created for org {org_id} (account {account.id})")
