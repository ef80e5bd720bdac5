"""``shihui loadtest``: prepare data for Locust runs."""

from __future__ import annotations

import csv
import time
from datetime import date
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

DEFAULT_PASSWORD = "loadtest-pass"  # noqa: S105 - load-test members only


@click.group("loadtest")
def loadtest() -> None:
    """Prepare load-test data."""


@loadtest.command("members")
@click.option("--count", type=click.IntRange(1, 10_000_000), default=1000, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV of card_no,token for Locust.",
)
@click.option(
    "--password",
    default=DEFAULT_PASSWORD,
    show_default=True,
    help="Shared password of every load-test member.",
)
@click.option("--region", default="130102", show_default=True)
@with_appcontext
def members(count: int, out: Path, password: str, region: str) -> None:
    """Create COUNT activated members in bulk and write their ready bearer tokens."""
    from marketplace.auth.passwords import hash_password
    from marketplace.auth.tokens import issue_token
    from marketplace.members.bulk import BulkSpec, create_members
    from marketplace.members.identity import valid_region

    if not valid_region(region):
        raise click.BadParameter(f"unknown region code {region}", param_hint="--region")
    started = time.perf_counter()
    spec = BulkSpec(
        card_prefix="888800",
        id_region="110105",
        birth_start=date(1950, 1, 1),
        region=region,
        branch="压测",
        phone_prefix="199",
    )
    shared_hash = hash_password(password)  # one argon2 hash for all: hashing 100k would take hours
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        out.open("w", newline="", encoding="utf-8") as fh,
        click.progressbar(length=count, label="creating members") as bar,
    ):
        writer = csv.writer(fh)
        writer.writerow(["card_no", "token"])
        for n, principal in enumerate(create_members(spec, count, shared_hash), 1):
            writer.writerow([principal.card_no, issue_token(None, principal)["access_token"]])
            if n % 1000 == 0:
                bar.update(1000)
        bar.update(count % 1000)
    elapsed = time.perf_counter() - started
    click.echo(f"{count} members in {elapsed:.1f} s ({count / elapsed:,.0f}/s); tokens in {out}")


@loadtest.command("prepare")
@click.option("--members", type=click.IntRange(1, 10_000_000), default=50_000, show_default=True)
@click.option("--stock", type=click.IntRange(1, 10_000_000), default=5_000, show_default=True)
@click.option("--limit", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--starts-in", type=click.IntRange(0, 86_400), default=15, show_default=True,
              help="Seconds until the sale opens.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("loadtest-results/current"), show_default=True)  # fmt: skip
@click.option("--region", default="130102", show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["first_come", "queue"]),
    default="first_come",
    show_default=True,
    help="queue: a sale with a waiting room, open from now.",
)
@click.option(
    "--admission-rate",
    type=click.FloatRange(0.1, 100_000),
    default=50.0,
    show_default=True,
    help="Waiting room admissions per second (queue mode).",
)
@with_appcontext
def prepare(members: int, stock: int, limit: int, starts_in: int, out: Path, region: str,
            mode: str, admission_rate: float) -> None:  # fmt: skip
    """Members with tokens, clerks, and a published sale opening in a few seconds."""
    from .prepare import prepare_sale

    started = time.perf_counter()
    with click.progressbar(length=members, label="creating members") as bar:
        sale = prepare_sale(members, stock, limit, starts_in, out, region=region,
                            progress=bar.update, mode=mode,
                            admission_rate=admission_rate)  # fmt: skip
    click.echo(
        f"sale {sale['campaign_id']}: {stock} tickets, limit {limit}, opens {sale['starts_at']}; "
        f"{members} members in {time.perf_counter() - started:.1f} s; files in {out}"
    )


@loadtest.command("audit")
@click.option("--data-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("loadtest-results/current"), show_default=True)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@with_appcontext
def audit(data_dir: Path, as_json: bool) -> None:
    """Check every ticket of a rehearsal; exits 1 on any violation."""
    import json

    from .prepare import audit_rehearsal

    verdict = audit_rehearsal(data_dir)
    if as_json:
        click.echo(json.dumps(verdict, ensure_ascii=False))
    else:
        for key, value in verdict.items():
            click.echo(f"{key:>16}: {value}")
    if not verdict["ok"]:
        for problem in verdict["problems"]:
            click.echo(f"VIOLATION: {problem}", err=True)
        raise SystemExit(1)


def register_cli(app: Flask) -> None:
    app.cli.add_command(loadtest)
