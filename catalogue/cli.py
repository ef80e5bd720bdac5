"""``shihui catalogue rebuild``: group-buy pools back from SQL (after a Redis loss or the upgrade
that gave group-buys their own namespace)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext


@click.group("catalogue")
def catalogue() -> None:
    """Catalogue and group-buy operations."""


@catalogue.command("rebuild")
@with_appcontext
def rebuild() -> None:
    """Rebuild the pools of open group-buys and forming teams from SQL where Redis has none, and
    delete group-buy pools an older version left in the flash-sale namespace."""
    from .pools import rebuild_pools

    report = rebuild_pools()
    click.echo(
        f"{report['open_pools']} open pools, {report['rebuilt']} rebuilt from SQL, "
        f"{report['legacy_deleted']} old group-buy pools deleted from the flash-sale namespace"
    )


def register_cli(app: Flask) -> None:
    app.cli.add_command(catalogue)
