"""The rehearsal report's rates come from the run's request log (issue #18 item 7): a two-second
rush draws as a spike, not as Locust's flat 0.0 history; the wait before the opening is shown
apart, not averaged into the rate; the outcome legend is never cut off."""

from __future__ import annotations

import csv
import json

from loadtests.report import history_from_log, table_from_log, write_report

T0 = 1_700_000_000.0
OPENS = T0 + 30


def rush_log() -> list[tuple[float, str, float, bool]]:
    polls = [(T0 + i, "/api/v1/flashsales/[id]", 5.0, False) for i in range(30)]
    claims = [(OPENS + i * 0.004, "/api/v1/flashsales/[id]/claims", 20.0 + i % 50, i % 100 == 0)
              for i in range(500)]  # fmt: skip
    return polls + claims


def test_a_short_rush_draws_as_a_spike_with_its_failures():
    rows = history_from_log(rush_log())
    assert len(rows) == 32  # second 0 .. 31: the waiting seconds and the two seconds of the rush
    rates = [int(r["Requests/s"]) for r in rows]
    assert rates[:30] == [1] * 30
    assert rates[30] == 250 and rates[31] == 250
    assert sum(int(r["Failures/s"]) for r in rows) == 5
    assert rows[30]["99%"] == "69" and rows[0]["50%"] == "5"


def test_rates_count_from_the_opening_and_the_wait_is_apart():
    table = {r["Name"]: r for r in table_from_log(rush_log(), OPENS)}
    claims = table["/api/v1/flashsales/[id]/claims"]
    assert claims["Request Count"] == "500" and claims["Failure Count"] == "5"
    assert 240 < float(claims["Requests/s"]) < 260  # 500 in 2 s; over the 32 s run it reads 16
    assert table["Aggregated"]["before"] == "30"
    assert table["/api/v1/flashsales/[id]"]["Request Count"] == "0"
    whole = {r["Name"]: r for r in table_from_log(rush_log(), None)}
    assert whole["Aggregated"]["Request Count"] == "530"


def test_report_from_the_log_names_the_opening_and_keeps_legends_whole(tmp_path):
    with (tmp_path / "requests.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(("start", "name", "ms", "failed"))
        out.writerows((f"{t:.3f}", n, ms, int(f)) for t, n, ms, f in rush_log())
    (tmp_path / "sale.json").write_text(json.dumps({"starts_at_epoch": OPENS}))
    counts = {"won": 100, "sold_out": 3_210, "limit_reached": 1_234, "rate_limited": 7}
    (tmp_path / "outcomes.json").write_text(json.dumps({"counts": counts}))
    page = write_report(tmp_path, {"scenario": "rush"}, {"ok": True}).read_text()
    assert "Before the sale opened: 30 s of waiting on the page, 30 requests" in page
    assert "the sale opens" in page and "sale opens" in page
    for outcome, count in counts.items():
        assert f"{outcome} ({count:,})" in page or f"{outcome} ({count})" in page
    assert "…" not in page.split("Claim outcomes")[1]
    assert "<td>500</td>" in page
