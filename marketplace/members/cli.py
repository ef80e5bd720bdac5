"""``shihui members import FILE`` and ``shihui admin create USERNAME``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext


@click.group("members")
def members() -> None:
    """Members and cards."""


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_roster(file: Path) -> None:
    """Import a roster CSV (card_no,name,id_number,phone,branch,region) in this process."""
    from . import importer

    data = file.read_bytes()
    imp = importer.new_import(file.name, data)
    try:
        total = len(importer.read_rows(data)[0])
    except importer.RosterError as exc:
        raise click.ClickException(str(exc)) from None
    with click.progressbar(length=total, label=f"importing {file.name}") as bar:
        done = [0]

        def progress(i):
            bar.update(i.processed - done[0])
            done[0] = i.processed

        importer.run_import(imp, data, on_progress=progress)
    click.echo(
        f"import {imp.id}: {imp.created} created, {imp.skipped_existing} already present, "
        f"{imp.rejected} rejected ({imp.encoding})"
    )
    if imp.rejected:
        click.echo("rejected rows:")
        for line in importer.rejected_csv(imp).lstrip("\ufeff").splitlines()[1:21]:
            click.echo("  " + line)


@click.group("admin")
def admin() -> None:
    """Union administrators."""


@admin.command("create")
@click.argument("username")
@click.option("--password", help="Prompted (with confirmation) when omitted.")
@with_appcontext
def create_admin(username: str, password: str | None) -> None:
    """Create an admin account."""
    from ..auth.services import create_account
    from ..errors import Problem

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        account = create_account(username, password, "admin")
    except Problem as exc:
        detail = exc.detail or "; ".join(
            f"{k}: {' '.join(v)}" for k, v in exc.extra.get("errors", {}).items()
        )
        raise click.ClickException(detail) from None
    click.echo(f"admin {account.username!r} created (account {account.id})")


def register_cli(app: Flask) -> None:
    from ..orgs.cli import create_branch_admin, orgs

    admin.add_command(create_branch_admin)
    app.cli.add_command(members)
    app.cli.add_command(admin)
    app.cli.add_command(orgs)
