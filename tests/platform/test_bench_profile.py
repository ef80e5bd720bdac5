"""bench/profile_http.py: how py-spy's collapsed stacks become µs per request by part (the
figures docs/performance.md quotes for issue #13). The stacks are in py-spy's ``raw`` format:
frames root first, ``;``-separated, then a space and the sample count."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import profile_http  # noqa: E402 - bench/ is not a package

GUNICORN = "handle (gunicorn/workers/gthread.py:281)"
LANE = "FastLane._serve (marketplace/fastlane.py:137)"
CLAIM = "claim (flashsale/claims.py:125)"
ENGINE = "StockEngine.reserve (inventory/engine.py:243)"
SCRIPT = "Script.__call__ (redis/commands/core.py:10936)"
RECV = "read_response (redis/_parsers/hiredis.py:238)"


def raw(*stacks: tuple[list[str], int]) -> str:
    return "\n".join(";".join(frames) + f" {n}" for frames, n in stacks) + "\n"


def test_a_stack_counts_for_its_innermost_part_wherever_its_leaf_is():
    parts = profile_http.attribute(raw(
        ([GUNICORN, LANE, CLAIM, ENGINE, SCRIPT, RECV], 7),  # leaf in redis-py's parser
        ([GUNICORN, LANE, CLAIM, ENGINE], 3),  # the engine's own Python
        ([GUNICORN, LANE, CLAIM], 2),
        ([GUNICORN, LANE], 1),
        ([GUNICORN], 5),
        (["select (selectors.py:468)"], 1),
    ))  # fmt: skip
    assert parts == {
        "redis-py: EVALSHA (pack, send, read reply)": 7,
        "engine wrapper (args, result)": 3,
        "claim checks (metadata, budget, code, counters)": 2,
        "fast lane (app context, headers, metrics)": 1,
        "HTTP server: gunicorn gthread (accept, parse, write, threads)": 5,
        profile_http.OTHER: 1,
    }


def test_per_request_divides_samples_by_the_rate_and_the_requests():
    parts = profile_http.attribute(raw(([GUNICORN, LANE, CLAIM], 500), ([GUNICORN], 250)))
    # 500 samples at 250 Hz = 2 s over 10,000 requests = 200 µs each; 250 samples = 100 µs
    out = profile_http.per_request(parts, 10_000)
    assert out["claim checks (metadata, budget, code, counters)"] == pytest.approx(200.0)
    server = "HTTP server: gunicorn gthread (accept, parse, write, threads)"
    assert out[server] == pytest.approx(100.0)
    assert out["total (Python time per request)"] == pytest.approx(300.0)
    assert list(out)[0].startswith("claim checks")  # largest first
    assert profile_http.per_request(parts, 0) == {}


def test_lines_that_are_not_stacks_are_ignored():
    text = "\n" + raw(([GUNICORN], 4)) + "garbage without a count\n;; x\n"
    assert profile_http.attribute(text) == {
        "HTTP server: gunicorn gthread (accept, parse, write, threads)": 4
    }


def test_the_flask_call_every_request_passes_through_does_not_decide_the_part():
    """``Flask.__call__`` -> the fast lane's ``__call__`` -> Flask's ``wsgi_app``: a request the
    lane hands on is Flask's, one it matches is the lane's."""
    outer = ["Flask.__call__ (flask/app.py:1536)", "FastLane.__call__ (marketplace/fastlane.py:99)"]
    parts = profile_http.attribute(raw(
        ([GUNICORN, *outer, "Flask.wsgi_app (flask/app.py:1511)"], 2),
        ([GUNICORN, *outer], 3),
        ([GUNICORN, *outer, LANE], 4),
    ))  # fmt: skip
    assert parts == {
        "Flask request machinery (context, hooks, routing, response)": 2,
        "fast lane: matching the route": 3,
        "fast lane (app context, headers, metrics)": 4,
    }
