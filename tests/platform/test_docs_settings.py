"""The README's Settings and Commands tables list everything the code reads, so they cannot drift.

Environment reads are found by parsing the source (``env.get("X")``, ``os.environ["X"]`` ...) of
every shipped package and the test harness; commands and options by walking the ``shihui`` CLI.
"""

import ast
import re
from pathlib import Path

import click
import pytest

from marketplace import config as config_module

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [
    "shihui",
    "marketplace",
    "catalogue",
    "flashsale",
    "merchant_portal",
    "messaging",
    "inventory",
    "loadtests",
]
HARNESS = [ROOT / "tests" / "conftest.py"]
ENV_NAMES = {"env", "environ", "os.environ", "web_env"}


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {title}\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def table_rows(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def documented_settings() -> set[str]:
    names: set[str] = set()
    for row in table_rows(readme_section("Settings")):
        names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0]))
    return names


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def env_reads(path: Path) -> set[str]:
    """Names read from the environment in one file: ``<env>.get("X")`` and ``<env>["X"]``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"get", "setdefault", "pop"}
            and _dotted(node.func.value) in ENV_NAMES
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _dotted(node.value) in ENV_NAMES
            and isinstance(node.slice, ast.Constant)
        ):
            found.add(node.slice.value)
    return {name for name in found if isinstance(name, str)}


def config_reads_with_default(path: Path) -> set[str]:
    """App-config keys a feature reads with a fallback: ``<...>.config.get("X", default)``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and _dotted(node.func.value).endswith("config")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(node.args[0].value)
    return found


def shipped_files() -> list[Path]:
    return [p for pkg in SHIPPED for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_the_parser_finds_what_it_should():
    """Guard the guard: known reads are found, so an empty result cannot pass silently."""
    found = env_reads(ROOT / "marketplace" / "config.py")
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAX_CONTENT_LENGTH"} <= found
    assert {"WEB_BIND", "WEB_ACCESS_LOG"} <= env_reads(ROOT / "shihui" / "gunicorn_conf.py")
    assert "TEST_RQ_REDIS_URL" in env_reads(ROOT / "tests" / "conftest.py")
    assert "COVER_MAX_BYTES" in config_reads_with_default(ROOT / "merchant_portal" / "sales.py")
    assert {"SHIHUI_ENV", "TOKEN_TTL_SECONDS"} <= documented_settings()


def test_every_environment_variable_read_is_in_the_readme_settings_table():
    read: dict[str, str] = {}
    for path in [*shipped_files(), *HARNESS]:
        for name in env_reads(path):
            read.setdefault(name, str(path.relative_to(ROOT)))
    for name in config_module.PASSTHROUGH:  # read in a loop, so not visible to the parser
        read.setdefault(name, "marketplace/config.py (PASSTHROUGH)")
    from flashsale.settings import DEFAULTS

    for name in DEFAULTS:  # app config, else os.environ.get(name)
        read.setdefault(name, "flashsale/settings.py")
    missing = {name: where for name, where in read.items() if name not in documented_settings()}
    assert missing == {}, f"add these to the README's Settings table: {missing}"


def test_every_config_key_read_with_a_default_can_be_set_from_the_environment():
    """A tunable a feature reads as ``config.get("X", default)`` is settable and documented."""
    built = set(config_module.load_config({}))
    settable = built | set(config_module.PASSTHROUGH)
    loose = {}
    for path in shipped_files():
        for key in config_reads_with_default(path):
            if key not in settable:
                loose[key] = str(path.relative_to(ROOT))
    assert loose == {}, f"not settable from the environment (add to PASSTHROUGH): {loose}"
    documented = documented_settings()
    tunables = set(config_module.PASSTHROUGH) - documented
    assert tunables == set(), f"PASSTHROUGH names missing from the README: {tunables}"


def _our_commands(app) -> dict[str, click.Command]:
    """Leaf commands of the ``shihui`` CLI defined in this repository (not Flask-Migrate's)."""
    found: dict[str, click.Command] = {}

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        elif (cmd.callback.__module__ or "").split(".")[0] in SHIPPED:
            found[" ".join(path)] = cmd

    walk(app.cli, ["shihui"])
    return found


@pytest.fixture
def cli_commands(app):
    return _our_commands(app)


def test_every_command_and_option_is_in_the_readme_commands_table(cli_commands):
    rows = [row[0] for row in table_rows(readme_section("Commands"))]
    assert len(cli_commands) > 10
    problems = []
    for path, command in sorted(cli_commands.items()):
        row = next((r for r in rows if re.search(rf"`{re.escape(path)}(?=[ `\[])", r)), None)
        if row is None:
            problems.append(f"{path}: no row")
            continue
        for param in command.params:
            if isinstance(param, click.Option):
                long = max(param.opts, key=len)
                if long not in row:
                    problems.append(f"{path}: {long} not in its row")
    assert problems == [], "README Commands table: " + "; ".join(problems)
