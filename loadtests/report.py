"""The rehearsal report: one HTML page with charts drawn server-side (pygal SVG) from the run's
request log (``requests.csv``, loadtests/common/requestlog.py; Locust's CSV history for runs
without one), the outcomes the rush recorded, the stock samples and the audit verdict."""

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


def read_request_log(path: Path) -> list[tuple[float, str, float, bool]]:
    """``(start epoch s, name, ms, failed)`` per request, from ``requests.csv``."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [(float(r["start"]), r["name"], float(r["ms"]), r["failed"] == "1")
                for r in csv.DictReader(fh)]  # fmt: skip


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def history_from_log(log: list[tuple[float, str, float, bool]]) -> list[dict]:
    """One row per second from the first request to the last, shaped like Locust's history rows:
    the requests that started in that second, its failures and latency percentiles. Seconds with
    no request are rows of zeros, so a short rush draws as the spike it was."""
    if not log:
        return []
    first = int(min(t for t, *_ in log))
    buckets: dict[int, list[tuple[float, bool]]] = {}
    for t, _name, ms, failed in log:
        buckets.setdefault(int(t) - first, []).append((ms, failed))
    rows = []
    for second in range(max(buckets) + 1):
        calls = buckets.get(second, [])
        times = sorted(ms for ms, _ in calls)
        rows.append({"Timestamp": str(first + second), "Requests/s": str(len(calls)),
                     "Failures/s": str(sum(1 for _, failed in calls if failed)),
                     **{f"{int(q * 100)}%": f"{_percentile(times, q):.0f}" if times else ""
                        for q in (0.5, 0.95, 0.99)}})  # fmt: skip
    return rows


def table_from_log(log: list[tuple[float, str, float, bool]], opens_at: float | None) -> list[dict]:
    """Rows of the request table from the log. Rates count from the sale's opening (or a name's
    first request, if later) to its last request: the minutes members spent waiting on the page
    before the opening are shown apart, not averaged into the rush."""
    by_name: dict[str, list[tuple[float, float, bool]]] = {}
    for t, name, ms, failed in log:
        by_name.setdefault(name, []).append((t, ms, failed))
    rows = []
    for name in sorted(by_name, key=lambda n: -len(by_name[n])) + ["Aggregated"]:
        calls = by_name.get(name) or [(t, ms, failed) for t, _n, ms, failed in log]
        during = [c for c in calls if opens_at is None or c[0] >= opens_at]
        start = min((c[0] for c in during), default=0.0)
        span = max((c[0] for c in during), default=0.0) - start
        times = sorted(ms for _, ms, _ in during)
        rows.append({"Name": name, "Request Count": str(len(during)),
                     "Failure Count": str(sum(1 for c in during if c[2])),
                     "Requests/s": f"{len(during) / max(span, 1.0):.1f}",
                     "50%": f"{_percentile(times, 0.5):.0f}",
                     "95%": f"{_percentile(times, 0.95):.0f}",
                     "99%": f"{_percentile(times, 0.99):.0f}",
                     "Max Response Time": f"{times[-1]:.0f}" if times else "0",
                     "before": str(len(calls) - len(during))})  # fmt: skip
    return rows


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
        series = mark.get("series") or f"fault: {mark['kind']}"
        chart.add(series, values, show_dots=True, dots_size=7, stroke=False)


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
    # Legends below the pie, one per line and never truncated: "limit_reached (1234)" was cut off
    # beside it.
    chart = pygal.Pie(
        style=CleanStyle,
        title="Claim outcomes",
        height=380,
        inner_radius=0.4,
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        truncate_legend=-1,
    )
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
    sale_path = run_dir / "sale.json"
    sale = json.loads(sale_path.read_text()) if sale_path.exists() else {}
    opens_at = sale.get("starts_at_epoch")
    log = read_request_log(run_dir / "requests.csv")
    if log:
        history = history_from_log(log)
        stats = table_from_log(log, opens_at)
    else:  # a run from before the request log
        history = read_history(run_dir / "locust_stats_history.csv")
        stats = read_stats(run_dir / "locust_stats.csv")
    marks = list(marks or [])
    if opens_at and history:
        marks.append({"at": opens_at, "kind": "open", "series": "sale opens",
                      "what": "the sale opens"})  # fmt: skip
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
    waiting = ""
    if log and opens_at:
        before = [t for t, *_ in log if t < opens_at]
        if before:
            waiting = (f"<p>Before the sale opened: {opens_at - min(before):.0f} s of waiting on "
                       f"the page, {len(before)} requests (page loads and polls), shown apart: "
                       "the rates below count from the opening.</p>")  # fmt: skip
    verdict = "PASSED" if audit.get("ok") else "FAILED"
    from .room_report import section

    room_html, _ = section(run_dir, sale)
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
<h2>Requests</h2>{waiting}<table><tr><th>name</th><th>requests</th><th>failures</th><th>req/s</th>
<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>{rows}</table>
<p>Every request: requests.csv; Locust's CSVs: locust_stats.csv, locust_stats_history.csv,
locust_failures.csv in this folder.</p>
</body></html>"""
    out = run_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
