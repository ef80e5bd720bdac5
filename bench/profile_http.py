"""Where a web worker's Python time goes while it serves the benchmark: py-spy on every web
worker during a measured wrk run, attributed to the parts of the request, in µs per request.

Used by ``python bench/http_bench.py --profile`` (issue #13: "what the remaining time per request
is spent on, from a profile, in microseconds", in the production shape: gunicorn gthread, 64
connections, the drainer and worker running). ``bench/profile_claim.py`` profiles one process
without sockets under cProfile; this one samples the real servers without slowing them much.

py-spy (a PyPI wheel in the ``dev`` extra) samples each worker ``RATE`` times a second with
``--gil``: only the thread holding the GIL, so a sample is Python (or C called from Python)
running, not a thread waiting for the GIL, a socket or Redis. Each stack is attributed to the
innermost part any of its frames belongs to (``PARTS`` run from a Redis call out to the HTTP
server); µs per request are samples / RATE over the requests served in the sampled window (the
run's rate times the window's length). Kernel time (socket syscalls outside the
interpreter's own code) is not in these figures: compare their total with the web CPU per
request that ``/proc`` gives, the remainder is the kernel's.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path

RATE = 250  # samples per second per worker

# (part, substring of a frame), innermost first: a stack belongs to the first part any of its
# frames matches.
PARTS = [
    ("redis-py: EVALSHA (pack, send, read reply)", "Script.__call__ (redis/commands/core.py"),
    ("redis-py: other commands", "(redis/"),
    ("token check (signature, expiry, revocation)", "verify_token (marketplace/auth/tokens.py"),
    ("engine wrapper (args, result)", "(inventory/"),
    ("claim checks (metadata, budget, code, counters)", "claim (flashsale/claims.py"),
    ("claim handler (response body)", "fast_claim (flashsale/routes_member.py"),
    ("fast lane (app context, headers, metrics)", "FastLane._serve (marketplace/fastlane.py"),
    ("reference view (bench/ref_app.py)", "(bench/ref_app.py"),
    ("reference view (bench/ref_app.py)", "ref_app.py"),
    ("Flask request machinery (context, hooks, routing, response)", "(flask/"),
    ("Flask request machinery (context, hooks, routing, response)", "(werkzeug/"),
    ("fast lane: matching the route", "(marketplace/fastlane.py"),
    ("HTTP server: gunicorn gthread (accept, parse, write, threads)", "(gunicorn/"),
    ("HTTP server: gunicorn gthread (accept, parse, write, threads)", "(concurrent/futures/"),
]
OTHER = "other (threads' own loops, GC, unattributed)"
# Frames that only pass the request on and are in every stack: Flask.__call__ calls
# ``app.wsgi_app``, which is the fast lane in front of Flask's own ``wsgi_app``.
PASS_THROUGH = ("Flask.__call__ (flask/app.py",)


def available() -> str | None:
    """The py-spy executable, or None."""
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, when not on PATH
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def start(pids: list[int], seconds: int, out: Path) -> list[tuple[subprocess.Popen, Path]]:
    """One py-spy per worker, recording ``seconds`` from now into ``out``-<pid>.txt (raw)."""
    exe = available()
    if exe is None:
        raise SystemExit("--profile needs py-spy: pip install -e '.[dev]'")
    runs = []
    for pid in pids:
        path = out.with_name(f"{out.name}-{pid}.txt")
        proc = subprocess.Popen(
            [exe, "record", "-p", str(pid), "-d", str(seconds), "-r", str(RATE), "--gil",
             "--nonblocking", "-f", "raw", "-o", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        runs.append((proc, path))
    return runs


def finish(runs: list[tuple[subprocess.Popen, Path]]) -> collections.Counter:
    """Wait for the recorders; samples per part over every worker."""
    parts: collections.Counter = collections.Counter()
    for proc, path in runs:
        proc.wait(60)
        if path.exists():
            parts.update(attribute(path.read_text()))
    return parts


def attribute(raw: str) -> collections.Counter:
    """Samples per part from py-spy's raw (collapsed stacks) output."""
    parts: collections.Counter = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts[part_of(stack.split(";"))] += int(count)
    return parts


def part_of(frames: list[str]) -> str:
    """The first part in ``PARTS`` order that any frame of the stack matches: the parts run
    from the innermost (a Redis call) to the outermost (the HTTP server), so a stack inside
    the engine call counts as the engine call wherever its own leaf is."""
    frames = [f for f in frames if not f.startswith(PASS_THROUGH)]
    for part, pattern in PARTS:
        if any(pattern in frame for frame in frames):
            return part
    return OTHER


def per_request(parts: collections.Counter, requests: float) -> dict[str, float]:
    """µs of GIL time per request for each part, largest first, and their total."""
    if requests <= 0:
        return {}
    out = {p: n / RATE * 1e6 / requests for p, n in parts.most_common()}
    out["total (Python time per request)"] = sum(parts.values()) / RATE * 1e6 / requests
    return out
