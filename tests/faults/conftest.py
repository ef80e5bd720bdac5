"""Fault suite harness: runs only when asked for with ``-m fault``; figures printed at the end.

Why not in the default ``make test``: each scenario starts a whole platform (supervisor, gunicorn,
RQ worker, scheduler, drainer, its own Redis) and rushes a sale for up to 25 s, so the suite takes
minutes on two cores, and the database blip needs PostgreSQL. CI runs it in its own step on a
dedicated PostgreSQL database (``.ci/run``) with ``SHIHUI_REQUIRE=postgres,faults``, where it
fails instead of skipping when it cannot run. Locally:

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/faults pytest -m fault -s

Without ``TEST_DATABASE_URL`` it runs on SQLite and skips the database blip.
Figures: a table after the run, and JSON in ``<pytest basetemp>/faults.json`` (and in
``$FAULTS_REPORT`` when set).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import required

from .stack import FaultStack

FIGURES: list[dict] = []
COLUMNS = (
    "tickets_given", "vouchers_sql", "unsold", "client_errors", "members_without_answer",
    "vouchers_missing_at_30s", "replay_changed", "members_over_limit", "hand_steps",
)  # fmt: skip


def fault_suite_selected(config) -> bool:
    """True when ``-m`` asks for the fault marker (not merely fails to exclude it)."""
    expr = config.getoption("markexpr") or ""
    return bool(re.search(r"(?<!not )\bfault\b", expr)) or required("faults")


@pytest.fixture(autouse=True)
def _only_when_asked(request):
    if not fault_suite_selected(request.config):
        pytest.skip("fault suite (minutes, whole platform per scenario): run with -m fault")


@pytest.fixture
def stack(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url and required("postgres"):
        pytest.fail("SHIHUI_REQUIRE=postgres but TEST_DATABASE_URL is not set")
    fault_stack = FaultStack(tmp_path, url)
    try:
        yield fault_stack
    finally:
        orphans = fault_stack.close()
        if orphans:
            print(f"killed {len(orphans)} processes that outlived the supervisor: {orphans}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault suite figures")
    write(f"{'scenario':<24}" + "".join(f"{c[:14]:>16}" for c in COLUMNS))
    for row in FIGURES:
        write(f"{row['scenario']:<24}" + "".join(f"{row.get(c)!s:>16}" for c in COLUMNS))
    for row in FIGURES:
        if row.get("violations"):
            write(f"{row['scenario']}: " + " | ".join(v[:160] for v in row["violations"]))
    paths = [Path(str(config._tmp_path_factory.getbasetemp())) / "faults.json"]
    if os.environ.get("FAULTS_REPORT"):
        paths.append(Path(os.environ["FAULTS_REPORT"]))
    for path in paths:
        path.write_text(json.dumps(FIGURES, indent=2, default=str))
        write(f"figures written to {path}")
