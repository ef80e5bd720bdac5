"""The rehearsal report: one HTML page with charts drawn server-side (pygal SVG) from Locust's
CSV history, the outcomes the rush recorded, the stock samples and the audit verdict."""

from __future__ import annotations

import csv
import html
import json
from datetime import UTC, datetime
from pathlib import Path

import pygal
from pygal.style import CleanStyle


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cell(value: str) -> str:
    number = _float(value)
    if number is None or number.is_integer():
        return value
    return f"{number:,.1f}"


def read_history(path: Path) -> list[dict]:
    """Aggregated rows of ``*_stats_history.csv``, one per second of the run."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [row for row in csv.DictReader(fh) if row.get("Name") == "Aggregated"]


def read_stats(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _chart(kind, title: str, **kw):
    return kind(style=CleanStyle, title=title, height=320, show_dots=False, x_label_rotation=30,
                show_minor_x_labels=False, truncate_label=-1, **kw)  # fmt: skip


def add_marks(chart, history: list[dict], marks: list[dict], height: float) -> None:
    """One series per injected fault (``{"at": epoch seconds, "kind": ...}``): a single large
    dot at the second it happened, at the top of the chart, named in the legend and the tooltip
    (the cluster rehearsal's faults, loadtests/cluster.py)."""
    times = [_float(r["Timestamp"]) or 0 for r in history]
    for mark in marks:
        if not times:
            break
        nearest = min(range(len(times)), key=lambda i: abs(times[i] - mark["at"]))
        values = [None] * len(times)
        values[nearest] = {"value": height, "label": mark.get("what", mark["kind"])}
        chart.add(f"fault: {mark['kind']}", values, show_dots=True, dots_size=7, stroke=False)


def _peak(series: list[list[float | None]]) -> float:
    return max((v for values in series for v in values if v is not None), default=1.0) or 1.0


def throughput_chart(history: list[dict], marks: list[dict] | None = None) -> str:
    chart = _chart(pygal.Line, "Requests/s")
    t0 = _float(history[0]["Timestamp"]) if history else 0
    chart.x_labels = [f"{(_float(r['Timestamp']) or 0) - t0:.0f}s" for r in history]
    chart.x_labels_major = chart.x_labels[:: max(1, len(history) // 10)]
    rates = [_float(r["Requests/s"]) for r in history]
    failures = [_float(r["Failures/s"]) for r in history]
    chart.add("requests/s", rates)
    chart.add("failures/s", failures)
    add_marks(chart, history, marks or [], _peak([rates, failures]))
    return chart.render(is_unicode=True)


def latency_chart(history: list[dict], marks: list[dict] | None = None) -> str:
    chart = _chart(pygal.Line, "Latency (ms)")
    t0 = _float(history[0]["Timestamp"]) if history else 0
    chart.x_labels = [f"{(_float(r['Timestamp']) or 0) - t0:.0f}s" for r in history]
    chart.x_labels_major = chart.x_labels[:: max(1, len(history) // 10)]
    lines = []
    for pct in ("50%", "95%", "99%"):
        lines.append([_float(r.get(pct)) for r in history])
        chart.add(f"p{pct[:-1]}", lines[-1])
    add_marks(chart, history, marks or [], _peak(lines))
    return chart.render(is_unicode=True)


def stock_chart(samples: list[tuple[float, int]]) -> str:
    chart = _chart(pygal.Line, "Stock left")
    t0 = samples[0][0] if samples else 0
    chart.x_labels = [f"{t - t0:.1f}s" for t, _ in samples]
    chart.x_labels_major = chart.x_labels[:: max(1, len(samples) // 10)]
    chart.add("remaining", [left for _, left in samples])
    return chart.render(is_unicode=True)


def outcome_chart(counts: dict[str, int]) -> str:
    chart = pygal.Pie(style=CleanStyle, title="Claim outcomes", height=320, inner_radius=0.4)
    for outcome, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        chart.add(f"{outcome} ({count})", count)
    return chart.render(is_unicode=True)


STYLE = """
body { font-family: system-ui, "WenQuanYi Zen Hei", sans-serif; max-width: 1100px; margin: auto;
       padding: 1rem }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1rem }
table { border-collapse: collapse; width: 100% }
td, th { border-bottom: 1px solid #ddd; padding: .3rem; text-align: right }
td:first-child, th:first-child { text-align: left }
.verdict { color: #fff; padding: .5rem 1rem; border-radius: 8px }
.PASSED { background: #1a7f37 } .FAILED { background: #c8102e }
"""


def write_report(
    run_dir: Path, settings: dict, audit: dict, marks: list[dict] | None = None
) -> Path:
    history = read_history(run_dir / "locust_stats_history.csv")
    stats = read_stats(run_dir / "locust_stats.csv")
    outcomes = {}
    if (run_dir / "outcomes.json").exists():
        outcomes = json.loads((run_dir / "outcomes.json").read_text()).get("counts", {})
    samples = []
    if (run_dir / "stock.csv").exists():
        with (run_dir / "stock.csv").open() as fh:
            samples = [(float(t), int(left)) for t, left in csv.reader(fh)]
    columns = ("Name", "Request Count", "Failure Count", "Requests/s", "50%", "95%", "99%",
               "Max Response Time")  # fmt: skip
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in stats
    )
    verdict = "PASSED" if audit.get("ok") else "FAILED"
    from .room_report import section

    sale_path = run_dir / "sale.json"
    room_html, _ = section(run_dir, json.loads(sale_path.read_text()) if sale_path.exists() else {})
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Shihui sale rehearsal {html.escape(run_dir.name)}</title>
<style>{STYLE}</style></head><body>
<h1>Sale rehearsal <span class="verdict {verdict}">{verdict}</span></h1>
<p>{html.escape(datetime.now(UTC).isoformat(timespec="seconds"))} ·
{html.escape(json.dumps(settings, ensure_ascii=False))}</p>
<h2>Audit</h2><pre>{html.escape(json.dumps(audit, indent=2, ensure_ascii=False))}</pre>
<div class="grid">
<figure>{throughput_chart(history, marks) if history else "<p>no history</p>"}</figure>
<figure>{latency_chart(history, marks) if history else "<p>no history</p>"}</figure>
<figure>{stock_chart(samples) if samples else "<p>no stock samples</p>"}</figure>
<figure>{outcome_chart(outcomes) if outcomes else "<p>no outcomes</p>"}</figure>
</div>
{room_html}
<h2>Requests</h2><table><tr><th>name</th><th>requests</th><th>failures</th><th>req/s</th>
<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>{rows}</table>
<p>Locust CSVs: locust_stats.csv, locust_stats_history.csv, locust_failures.csv in this folder.</p>
</body></html>"""
    out = run_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
