"""The rehearsal report marks injected faults on its time charts (issue #15): one legend entry
and one dot per fault, at the second it happened, named in the dot's tooltip."""

from __future__ import annotations

import re

from loadtests.report import latency_chart, throughput_chart


def history(seconds: int, t0: float = 1_000.0) -> list[dict]:
    return [
        {"Timestamp": str(t0 + i), "Requests/s": str(100 + i), "Failures/s": "0",
         "50%": "10", "95%": "20", "99%": str(30 + i)}
        for i in range(seconds)
    ]  # fmt: skip


def test_each_fault_is_a_named_dot_at_its_second():
    rows = history(30)
    marks = [{"kind": "web", "what": "kill -9 web0", "at": 1_010.2},
             {"kind": "master", "what": "kill -9 master 2", "at": 1_020.7}]  # fmt: skip
    for svg in (throughput_chart(rows, marks), latency_chart(rows, marks)):
        assert "fault: web" in svg and "fault: master" in svg
        assert "kill -9 web0" in svg and "kill -9 master 2" in svg
        # one dot per fault, its tooltip naming the fault, at the second it happened
        dots = re.findall(r'<desc class="label">([^<]*)</desc><circle cx="([0-9.]+)"', svg)
        named = {label: float(x) for label, x in dots if label.startswith("kill -9")}
        assert set(named) == {"kill -9 web0", "kill -9 master 2"}
        # x grows with time: the web fault (second 10) left of the master fault (second 21)
        assert named["kill -9 web0"] < named["kill -9 master 2"]
    plain = throughput_chart(rows)
    assert "fault:" not in plain
