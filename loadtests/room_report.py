"""The waiting-room part of the rehearsal report: queue length and admissions over time (sampled
from the server), each member's wait, and whether winning was independent of how early a member
joined before the start (a two-sample Kolmogorov-Smirnov test, standard library only)."""

from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path

import pygal
from pygal.style import CleanStyle


def ks_2samp(a: list[float], b: list[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: ``(D, p)``, two-sided, with the asymptotic
    distribution of sqrt(n_e) * D (n_e = n m / (n + m)) and Stephens' small-sample correction
    ``(sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) * D``; the p-value is
    Q(l) = 2 * sum_{j>=1} (-1)^(j-1) exp(-2 j^2 l^2)."""
    if not a or not b:
        return math.nan, math.nan
    xs, ys = sorted(a), sorted(b)
    n, m = len(xs), len(ys)
    i = j = 0
    d = 0.0
    while i < n and j < m:
        value = min(xs[i], ys[j])
        while i < n and xs[i] <= value:
            i += 1
        while j < m and ys[j] <= value:
            j += 1
        d = max(d, abs(i / n - j / m))
    ne = n * m / (n + m)
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    return d, kolmogorov_q(lam)


def kolmogorov_q(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution (1 for lam near 0)."""
    if lam < 1e-3:
        return 1.0
    total, sign = 0.0, 1.0
    for k in range(1, 101):
        term = sign * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
        sign = -sign
    return max(0.0, min(1.0, 2.0 * total))


def read_samples(path: Path) -> list[tuple[float, int, int, int]]:
    """``room.csv``: time, queued (joined so far), admitted (places let in), remaining stock."""
    if not path.exists():
        return []
    with path.open() as fh:
        return [(float(t), int(q), int(a), int(r)) for t, q, a, r in csv.reader(fh)]


def figures(records: list[dict], starts_at: float) -> dict:
    """Waits, outcomes and the KS test of winners' join times against all early entrants."""
    early = [r for r in records if r.get("joined") and r["joined"] < starts_at]
    winners = [r["joined"] for r in early if r.get("outcome") == "won"]
    everyone = [r["joined"] for r in early]
    d, p = ks_2samp(winners, everyone)
    waits = [r["admitted"] - max(r["joined"], starts_at) for r in records
             if r.get("admitted") and r.get("joined")]  # fmt: skip
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r.get("outcome", "?")] = outcomes.get(r.get("outcome", "?"), 0) + 1
    return {
        "members": len(records),
        "joined_before_start": len(early),
        "winners_joined_before_start": len(winners),
        "ks_d": None if math.isnan(d) else round(d, 4),
        "ks_p_value": None if math.isnan(p) else round(p, 4),
        "waits_seconds": sorted(round(w, 2) for w in waits),
        "median_wait_seconds": round(sorted(waits)[len(waits) // 2], 2) if waits else None,
        "outcomes": outcomes,
        "polls": sum(r.get("polls", 0) for r in records),
    }


def _chart(kind, title: str, **kw):
    return kind(style=CleanStyle, title=title, height=320, show_dots=False, x_label_rotation=30,
                show_minor_x_labels=False, truncate_label=-1, **kw)  # fmt: skip


def room_chart(samples: list[tuple[float, int, int, int]], starts_at: float) -> str:
    chart = _chart(pygal.Line, "Waiting room over time (s from the start)")
    chart.x_labels = [f"{t - starts_at:.0f}" for t, *_ in samples]
    chart.x_labels_major = chart.x_labels[:: max(1, len(samples) // 10)]
    chart.add("in the queue (not admitted)", [max(0, q - a) for _, q, a, _ in samples])
    chart.add("admitted so far", [a for _, _, a, _ in samples])
    chart.add("stock left", [r for *_, r in samples])
    return chart.render(is_unicode=True)


def wait_chart(waits: list[float]) -> str:
    """How long each admitted member waited after the start (or its join), in 1 s buckets."""
    chart = _chart(pygal.Bar, "Wait until admitted (s): members")
    if not waits:
        return chart.render(is_unicode=True)
    top = int(max(waits)) + 1
    width = max(1, math.ceil(top / 30))
    buckets = [0] * (top // width + 1)
    for w in waits:
        buckets[int(max(0.0, w)) // width] += 1
    chart.x_labels = [f"{k * width}" for k in range(len(buckets))]
    chart.add("members", buckets)
    return chart.render(is_unicode=True)


def section(run_dir: Path, sale: dict) -> tuple[str, dict]:
    """The HTML section and its figures, or ``("", {})`` when the run had no waiting room."""
    path = run_dir / "room_members.json"
    if not path.exists():
        return "", {}
    records = json.loads(path.read_text())
    starts_at = float(sale.get("starts_at_epoch", 0))
    f = figures(records, starts_at)
    samples = read_samples(run_dir / "room.csv")
    shown = {k: v for k, v in f.items() if k != "waits_seconds"}
    body = f"""<h2>Waiting room</h2>
<p>Fairness: for the {f["joined_before_start"]} members who joined before the start, the join
times of the {f["winners_joined_before_start"]} winners against all of them — two-sample
Kolmogorov-Smirnov D = {f["ks_d"]}, <strong>p = {f["ks_p_value"]}</strong> (a small p, say
below 0.01, would mean winning depended on how early a member joined).</p>
<pre>{html.escape(json.dumps(shown, indent=2))}</pre>
<div class="grid">
<figure>{room_chart(samples, starts_at) if samples else "<p>no room samples</p>"}</figure>
<figure>{wait_chart(f["waits_seconds"])}</figure>
</div>"""
    return body, f
