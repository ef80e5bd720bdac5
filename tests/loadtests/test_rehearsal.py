"""The rehearsal tooling: prepare, audit (which must catch a lost ticket), and the one-command
run end to end (platform, Locust, audit, report)."""

import csv
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from loadtests.prepare import audit_rehearsal, prepare_sale
from loadtests.report import read_request_log, table_from_log


def _claim_some(client, out, count):
    with (out / "tokens.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:count]
    sale = json.loads((out / "sale.json").read_text())
    codes = []
    for row in rows:
        resp = client.post(
            f"/api/v1/flashsales/{sale['campaign_id']}/claims",
            headers={
                "Authorization": f"Bearer {row['token']}",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        if resp.status_code == 201:
            codes.append(resp.get_json()["voucher"]["code"])
        else:
            assert resp.get_json()["code"] == "sold_out", resp.get_json()
    return codes


def _record(out, codes, members, refused):
    counts = {"created": len(codes), "sold_out": refused}
    (out / "outcomes.json").write_text(json.dumps({"counts": counts, "members": members}))
    (out / "codes.txt").write_text("".join(f"{c}\n" for c in codes))


def test_prepare_then_audit_passes_and_catches_a_lost_ticket(app_ctx, client, tmp_path):
    sale = prepare_sale(members=12, stock=8, limit=1, starts_in=0, out=tmp_path, clerks=1)
    assert sale["stock"] == 8 and (tmp_path / "clerks.csv").exists()
    time.sleep(1.1)  # the sale opens at the next whole second
    codes = _claim_some(client, tmp_path, 12)
    assert len(codes) == 8
    _record(tmp_path, codes, members=12, refused=4)
    verdict = audit_rehearsal(tmp_path)
    assert verdict["ok"], verdict["problems"]
    assert verdict["claims_sql"] == verdict["engine_claimed"] == verdict["outbox_claims"] == 8

    _record(tmp_path, [*codes, "LOST0000LOST0000"], members=12, refused=4)
    verdict = audit_rehearsal(tmp_path)
    assert not verdict["ok"]
    assert any("no voucher row" in p for p in verdict["problems"])


def test_audit_catches_unmet_demand(app_ctx, client, tmp_path):
    prepare_sale(members=10, stock=8, limit=1, starts_in=0, out=tmp_path, clerks=1)
    time.sleep(1.1)
    codes = _claim_some(client, tmp_path, 5)
    _record(tmp_path, codes, members=7, refused=0)  # 7 members pressed, only 5 claims exist
    verdict = audit_rehearsal(tmp_path)
    assert not verdict["ok"]
    assert any("demand 7" in p for p in verdict["problems"])


@pytest.mark.slow
def test_one_command_rehearsal_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests.rehearsal", "--members", "300", "--stock", "100",
         "--users", "30", "--spawn-rate", "30", "--run-time", "10s", "--starts-in", "4",
         "--web-workers", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "current"
    report = (run / "report.html").read_text()
    assert "PASSED" in report and report.count("<svg") >= 4
    audit = json.loads(
        report.split("<h2>Audit</h2><pre>")[1].split("</pre>")[0].replace("&quot;", '"')
    )
    assert audit["claims_sql"] == 100 and audit["codes_from_201"] == 100
    for name in ("locust_stats.csv", "locust_stats_history.csv", "stock.csv", "codes.txt"):
        assert (run / name).exists(), name
    # The request log the report's rates come from: every press, timed, rates from the opening.
    log = read_request_log(run / "requests.csv")
    assert len([r for r in log if r[1].endswith("/claims")]) >= 100
    assert "the sale opens" in report
    aggregated = table_from_log(log, json.loads((run / "sale.json").read_text())["starts_at_epoch"])
    assert float(aggregated[-1]["Requests/s"]) > 0


# Loaded as sitecustomize into every process the rehearsal starts; only `shihui loadtest audit`
# acts on it: it reports one code that no voucher row has, as if a 201 had been lost.
LOSE_A_TICKET = """
import sys
if sys.argv[1:3] == ["loadtest", "audit"]:
    data_dir = sys.argv[sys.argv.index("--data-dir") + 1]
    with open(data_dir + "/codes.txt", "a") as fh:
        fh.write("LOST0000LOST0000\\n")
"""


@pytest.mark.slow
def test_rehearsal_exits_1_when_the_audit_fails(tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(LOSE_A_TICKET)
    env = dict(os.environ, PYTHONPATH=str(hook))
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests.rehearsal", "--members", "20", "--stock", "5",
         "--users", "4", "--spawn-rate", "4", "--run-time", "3s", "--starts-in", "2",
         "--web-workers", "1", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=400, env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "audit: FAILED" in proc.stdout
    report = (tmp_path / "out" / "current" / "report.html").read_text()
    assert "LOST0000LOST0000" in report and "no voucher row" in report
