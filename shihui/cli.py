"""The ``shihui`` command: a Flask CLI group (``flask --app shihui`` works the same).

``shihui up`` runs the whole platform locally; ``web``, ``worker`` and ``scheduler`` are the node
roles of a scaled-out deployment (docs/operations.md, deploy/); feature packages add their own
groups in ``register_cli``.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

log = logging.getLogger(__name__)


def _beijing_clock() -> None:
    """Commands and the processes they start log in the time pages show (Asia/Shanghai), not
    the machine's zone (often UTC on servers). A ``TZ`` the operator set is kept. The POSIX form
    "CST-8" needs no tz database (China keeps no daylight saving time)."""
    if "TZ" in os.environ:
        return
    zone = "Asia/Shanghai"
    os.environ["TZ"] = zone if Path("/usr/share/zoneinfo", zone).exists() else "CST-8"
    time.tzset()


def _create_app():
    from . import create_app

    _beijing_clock()
    _ensure_local_redis()
    _instance_secret()
    return create_app()


def _instance_secret() -> None:
    """Commands sign tokens with the same key as the platform ``shihui up`` runs."""
    if os.environ.get("SECRET_KEY"):
        return
    path = Path(os.environ.get("SHIHUI_INSTANCE", "instance")).resolve() / "secret_key"
    if path.exists():
        os.environ["SECRET_KEY"] = path.read_text().strip()


def _ensure_local_redis() -> None:
    """Commands need Redis. Without ``REDIS_URL``, use the server ``shihui up`` runs, else start
    the bundled one for this command only (its data lives under ``instance/redis``)."""
    if os.environ.get("REDIS_URL"):
        return
    from inventory.server import EmbeddedRedis, _ping

    instance = Path(os.environ.get("SHIHUI_INSTANCE", "instance")).resolve()
    port_file = instance / "redis" / "port"
    if port_file.exists():
        port = int(port_file.read_text().strip() or 0)
        if port and _ping(port):
            os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            return
    if len(sys.argv) > 1 and sys.argv[1] in {"up", "web", "--help", "--version", "routes"}:
        return  # `up` starts and owns the server itself; `web` hands REDIS_URL to gunicorn
    server = EmbeddedRedis(instance / "redis", persistent=True, die_with_parent=True).start()
    atexit.register(server.stop)
    os.environ["REDIS_URL"] = server.url


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """Shihui (石惠) platform commands."""


# FlaskGroup's --env-file needs python-dotenv (not installed: settings come from the environment,
# README "Settings") and --app names another application; `shihui` has one factory. Offering
# either would only fail later.
main.params[:] = [p for p in main.params if p.name not in {"env_file", "app"}]


def register_cli(app: Flask) -> None:
    app.cli.add_command(up)
    app.cli.add_command(web)
    app.cli.add_command(worker)
    app.cli.add_command(scheduler)
    app.cli.add_command(demo)
    app.cli.add_command(prepare)
    from catalogue import cli as catalogue_cli
    from flashsale import cli as flashsale_cli
    from loadtests import cli as loadtests_cli
    from marketplace.members import cli as members_cli
    from merchant_portal import cli as merchant_portal_cli

    for module in (members_cli, flashsale_cli, catalogue_cli, merchant_portal_cli, loadtests_cli):
        module.register_cli(app)


@click.command()
@click.option("--bind", default=None, help="host:port (default: WEB_BIND or 127.0.0.1:5000)")
@click.option("--workers", default=None, type=int, help="gunicorn workers (default: WEB_WORKERS)")
def web(bind: str | None, workers: int | None) -> None:
    """The web role: gunicorn serving the app (replaces this process). Needs REDIS_URL."""
    from .roles import exec_web

    exec_web(bind=bind, workers=workers)


@click.command()
@click.option("--burst", is_flag=True, help="Exit when the queues are empty (no drainer).")
@click.option("--queues", default="high,default,low", show_default=True)
@click.option(
    "--drainer/--no-drainer",
    default=True,
    show_default=True,
    help="Also run the outbox drainer in this process (`shihui up` runs it separately).",
)
@click.option("--name", default="", help="Tells apart several worker nodes on one host.")
@with_appcontext
def worker(burst: bool, queues: str, drainer: bool, name: str) -> None:
    """The worker role: an RQ worker (each job in a fresh app context) and, unless --no-drainer,
    the outbox drainer. Outlives Redis and database outages."""
    from .roles import drainer_beside
    from .worker import run_worker

    beside = drainer_beside(name) if drainer else None
    run_worker(current_app._get_current_object(), queues.split(","), burst=burst, beside=beside)


@click.command()
@with_appcontext
def scheduler() -> None:
    """The scheduler role: enqueue the periodic jobs (outbox drain, deadlines, audits) on their
    intervals. Any number may run: one leader at a time enqueues (a lease in the RQ Redis)."""
    from marketplace.extensions import get_rq_redis

    from .scheduling import run_cron

    run_cron(get_rq_redis())


@click.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option("--force", is_flag=True, help="Load even if the database already has data.")
@with_appcontext
def demo_load(force: bool) -> None:
    """Load the demo merchants, members and sales (only into an empty database)."""
    from .demo import database_is_empty, load_demo

    if current_app.config["PRODUCTION"]:
        raise click.ClickException("SHIHUI_ENV=production: demo data is never loaded")
    if not force and not database_is_empty():
        click.echo("database already has data; demo data not loaded (use --force)")
        return
    for line in load_demo():
        click.echo(line)


@click.command()
@click.option("--no-demo", is_flag=True)
@with_appcontext
def prepare(no_demo: bool) -> None:
    """Apply migrations, then load demo data into an empty database."""
    from flask_migrate import upgrade

    from marketplace.auth import revocations

    from .demo import database_is_empty, load_demo

    upgrade()
    click.echo("database schema is up to date")
    if revocations.ensure():
        click.echo("token revocation feed written from SQL")
    if current_app.config["PRODUCTION"]:
        click.echo("production (SHIHUI_ENV=production): demo data is never loaded")
    elif not no_demo and database_is_empty():
        for line in load_demo():
            click.echo(line)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=None, type=int, help="gunicorn workers (default: cores)")
@click.option("--no-demo", is_flag=True, help="Do not load demo data into an empty database.")
def up(host: str, port: int, web_workers: int | None, no_demo: bool) -> None:
    """Run the whole platform: Redis (bundled unless REDIS_URL), migrations, demo data, web,
    worker and scheduler. Ctrl-C stops everything."""
    from .supervisor import run_platform

    sys.exit(run_platform(host=host, port=port, web_workers=web_workers, load_demo=not no_demo))
