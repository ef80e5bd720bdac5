"""``shihui merchants create``: an approved merchant and its owner login (for operators)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from marketplace.merchants import CATEGORIES


@click.group("merchants")
def merchants() -> None:
    """Merchants created by an operator and approved at once (others apply at /merchant/apply)."""


@merchants.command("create")
@click.argument("name")
@click.option("--name-en", default=None)
@click.option("--category", type=click.Choice(CATEGORIES), required=True)
@click.option("--region", required=True, help="6-digit region code")
@click.option("--address", default="")
@click.option("--owner", "owner", required=True, help="username of the owner login")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create(name, name_en, category, region, address, owner, password) -> None:
    """Create an approved merchant NAME (zh-CN) and its owner account."""
    from marketplace.errors import Problem
    from marketplace.merchants import create_merchant

    try:
        merchant, account = create_merchant(
            name_zh=name, name_en=name_en, category=category, region=region,
            address=address, owner=owner, password=password,
        )  # fmt: skip
    except (Problem, ValueError) as exc:
        raise click.ClickException(getattr(exc, "detail", None) or str(exc)) from None
    click.echo(f"merchant {merchant.id} {merchant.name_zh} approved; owner {account.username}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(merchants)
