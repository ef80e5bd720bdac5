"""Commands log in the time members' pages show (issue #18 item 7: the CLI printed UTC while
pages showed Beijing time); an operator's TZ wins."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "import logging, time; from shihui.cli import _beijing_clock; _beijing_clock(); "
    "print(time.strftime('%z'), logging.Formatter('%(asctime)s').formatTime("
    "logging.makeLogRecord({'created': 0.0}), '%H:%M'))"
)


def run(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TZ"}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env},
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def test_commands_log_in_beijing_time_unless_tz_is_set():
    assert run() == "+0800 08:00"  # the epoch, 00:00 UTC, is 08:00 in Beijing
    assert run(TZ="UTC") == "+0000 00:00"
