"""``shihui audit CAMPAIGN_ID``, ``shihui flashsale drain [--follow]``, ``... rebuild [ID]`` and
``... queue-rate ID RATE``."""

from __future__ import annotations

import signal
import sys

import click
from flask import Flask
from flask.cli import with_appcontext


@click.command("audit")
@click.argument("campaign_id", type=int)
@click.option("--no-store", is_flag=True, help="Do not record the result for admins.")
@with_appcontext
def audit(campaign_id: int, no_store: bool) -> None:
    """Compare engine counters, the outbox and SQL vouchers of one sale; exit 1 on any problem."""
    from .audit import run_audit

    try:
        result = run_audit(campaign_id, store=not no_store)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"campaign {campaign_id}: stock {result.total_stock}, engine {result.engine_claimed}, "
        f"outbox {result.outbox_claims}, SQL {result.sql_vouchers}, "
        f"re-persisted {result.repersisted}, re-cancelled {result.recancelled}"
    )
    for problem in result.problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if not result.ok:
        sys.exit(1)
    click.echo("OK: every ticket is accounted for")


@click.group("flashsale")
def flashsale() -> None:
    """Flash-sale operations."""


@flashsale.command("drain")
@click.option("--follow", is_flag=True, help="Keep draining until SIGTERM (low latency).")
@click.option("--name", default="", help="Consumer name suffix: one per drainer on a host.")
@with_appcontext
def drain(follow: bool, name: str) -> None:
    """Persist the engine's outbox into voucher rows (the RQ job does one pass too)."""
    from marketplace.gcfreeze import freeze_startup_objects

    from .jobs import drain_outbox
    from .jobs import follow as follow_outbox

    if not follow:
        click.echo(f"persisted {drain_outbox(kind='cli')} outbox entries")
        return
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    freeze_startup_objects()  # a full collection took up to 320 ms of CPU mid-rush (gcfreeze.py)
    follow_outbox(stop=lambda: bool(stopping), name=name)


@flashsale.command("rebuild")
@click.argument("campaign_ids", nargs=-1, type=click.IntRange(1, 2**63 - 1))
@with_appcontext
def rebuild(campaign_ids: tuple[int, ...]) -> None:
    """Merge SQL's vouchers back into the engine (after Redis lost data); all live sales by
    default. Exit 1 if a sale is oversold, a member is above the limit or a claim id is foreign."""
    from .recovery import reconcile_pools

    bad = False
    reports = reconcile_pools(list(campaign_ids) or None)
    unknown = sorted(set(campaign_ids) - {r["campaign_id"] for r in reports})
    if unknown:  # a typo must not look like "nothing to restore"
        click.echo(f"no published sale with id {', '.join(map(str, unknown))}", err=True)
    for r in reports:
        click.echo(
            f"campaign {r['campaign_id']}: restored {r['added']} claims, {r['known']} known"
            + (", pool reopened" if r["created"] else "")
        )
        for name in ("deficit", "request_clashes", "over_limit", "mismatched"):
            if r[name]:
                bad = bad or name != "request_clashes"
                click.echo(f"PROBLEM: campaign {r['campaign_id']} {name}: {r[name]}", err=True)
    if bad:
        sys.exit(1)
    if unknown:
        sys.exit(2)


@flashsale.command("queue-rate")
@click.argument("campaign_id", type=click.IntRange(1, 2**63 - 1))
@click.argument("rate", type=click.FloatRange(0.1, 100_000))
@with_appcontext
def queue_rate(campaign_id: int, rate: float) -> None:
    """Set a waiting room's admissions per second (takes effect at once, also while live)."""
    from marketplace.errors import Problem

    from .services import set_admission_rate

    try:
        campaign = set_admission_rate(None, campaign_id, rate)
    except (LookupError, Problem) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {campaign.id}: admission rate {campaign.admission_rate} per second")


@click.group("draw")
def draw() -> None:
    """Lottery draws: run one, verify one from its public record."""


@draw.command("run")
@click.argument("campaign_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--beacon-value", help="Offline fallback: the named drand round's randomness (hex).")
@click.option("--resume", is_flag=True, help="Finish a draw that stopped half-way.")
@with_appcontext
def draw_run(campaign_id: int, beacon_value: str | None, resume: bool) -> None:
    """Draw a lottery sale after registration closed (once)."""
    from marketplace.errors import Problem

    from . import lottery
    from .models import Campaign
    from .services import db

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"no sale {campaign_id}")
    try:
        record = lottery.run_draw(campaign, beacon_value=beacon_value, resume=resume)
    except (Problem, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {campaign_id}: {record.entrants} entrants, {record.winners} winners, "
               f"entrants hash {record.entrants_hash}")  # fmt: skip


@draw.command("verify")
@click.argument("campaign_id", type=click.IntRange(1, 2**63 - 1))
@with_appcontext
def draw_verify(campaign_id: int) -> None:
    """Recompute a draw from its public record (seed, beacon, entrants); exit 1 on a mismatch."""
    from marketplace.errors import Problem

    from . import lottery

    try:
        problems = lottery.verify(campaign_id)
        record = lottery.public(lottery.get_draw(campaign_id))
    except Problem as exc:
        raise click.ClickException(str(exc)) from None
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"OK: commitment {record['commitment'][:16]}... matches the seed; "
               f"{record['entrants']} entrants hash to {record['entrants_hash'][:16]}...; "
               f"order and {record['winners']} winners recomputed")  # fmt: skip


def register_cli(app: Flask) -> None:
    app.cli.add_command(draw)
    app.cli.add_command(audit)
    app.cli.add_command(flashsale)
