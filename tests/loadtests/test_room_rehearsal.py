"""The waiting-room rehearsal: the KS test against known values, and a reduced run end to end
(platform, members joining before the start, polling as told, claiming when admitted, audit,
report with the room's charts and the KS p-value)."""

import json
import math
import random
import subprocess
import sys

import pytest

from loadtests.room_report import figures, kolmogorov_q, ks_2samp


def test_kolmogorov_distribution_at_known_points():
    # Critical values of the Kolmogorov distribution: P(K > 1.358) = 0.05, P(K > 1.628) = 0.01.
    assert kolmogorov_q(1.358) == pytest.approx(0.05, abs=0.001)
    assert kolmogorov_q(1.628) == pytest.approx(0.01, abs=0.0005)
    assert kolmogorov_q(0.0) == 1.0


def test_ks_tells_same_from_shifted_samples():
    rng = random.Random(7)
    a = [rng.random() for _ in range(400)]
    b = [rng.random() for _ in range(600)]
    d, p = ks_2samp(a, b)
    assert d < 0.1 and p > 0.05
    d, p = ks_2samp([x + 0.2 for x in a], b)
    assert d > 0.15 and p < 1e-6
    assert math.isnan(ks_2samp([], b)[1])


def test_figures_use_only_members_who_joined_before_the_start():
    records = [
        {"joined": 1.0, "admitted": 12.0, "outcome": "won"},
        {"joined": 2.0, "admitted": 13.0, "outcome": "sold_out"},
        {"joined": 3.0, "admitted": None, "outcome": "sold_out"},
        {"joined": 11.0, "admitted": 15.0, "outcome": "won"},  # after the start: not in the test
    ]
    f = figures(records, starts_at=10.0)
    assert (f["joined_before_start"], f["winners_joined_before_start"]) == (3, 1)
    assert f["waits_seconds"] == [2.0, 3.0, 4.0]  # from the start, or the join if later


@pytest.mark.slow
def test_waiting_room_rehearsal_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests.rehearsal", "--scenario", "room", "--members", "301",
         "--stock", "60", "--users", "300", "--spawn-rate", "300", "--starts-in", "10",
         "--admission-rate", "30", "--max-poll", "1", "--run-time", "22s",
         "--web-workers", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "current"
    report = (run / "report.html").read_text()
    assert "PASSED" in report and "Waiting room" in report and "p = " in report
    assert report.count("<svg") >= 5
    audit = json.loads(
        report.split("<h2>Audit</h2><pre>")[1].split("</pre>")[0].replace("&quot;", '"')
    )
    assert audit["claims_sql"] == 60 == audit["codes_from_201"]  # zero oversell, zero lost
    records = json.loads((run / "room_members.json").read_text())
    sale = json.loads((run / "sale.json").read_text())
    f = figures(records, sale["starts_at_epoch"])
    assert f["joined_before_start"] >= 250, f
    assert f["winners_joined_before_start"] == 60
    assert f["ks_p_value"] is not None
    assert (run / "room.csv").read_text().count("\n") >= 10
    print(f"room rehearsal: {f['joined_before_start']} early, KS p = {f['ks_p_value']}, "
          f"median wait {f['median_wait_seconds']} s, {f['polls']} polls")  # fmt: skip
