"""Roster import over the API with a real RQ worker; encodings, errors, idempotency, download."""

import csv
import io

import pytest
from rq import SimpleWorker

from marketplace.extensions import db, get_queue, get_rq_redis
from marketplace.members import importer, jobs
from marketplace.members.models import Card, Member, MemberImport
from tests.conftest import start_worker
from tests.members.helpers import admin_token, bearer, details

HEADER = ["card_no", "name", "id_number", "phone", "branch", "region"]
URL = "/api/v1/admin/member-imports"


def roster(rows, encoding="utf-8", header=HEADER) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    for r in rows:
        w.writerow([r[c] for c in HEADER] if isinstance(r, dict) else r)
    return out.getvalue().encode(encoding)


def good(n, **kw):
    return details(n, branch="长安区总工会") | kw


def run_jobs():
    SimpleWorker([get_queue()], connection=get_rq_redis()).work(burst=True)


def upload(client, token, data, name="roster.csv"):
    return client.post(
        URL,
        headers=bearer(token),
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def status(client, token, import_id):
    return client.get(f"{URL}/{import_id}", headers=bearer(token)).get_json()


def count(model):
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_import_runs_in_a_real_worker_process(client, app_ctx, app_config):
    token = admin_token(client)
    resp = upload(client, token, roster([good(n) for n in range(1, 6)]))
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["status"] == "queued"
    proc = start_worker(app_config, "--burst")
    assert proc.wait(60) == 0
    db.session.expire_all()
    body = status(client, token, body["id"])
    assert body["status"] == "done"
    assert body["progress"] == {"processed": 5, "total": 5}
    assert body["counts"] == {"created": 5, "skipped_existing": 0, "rejected": 0}
    assert count(Member) == 5 and count(Card) == 5
    assert not jobs.upload_path(body["id"]).exists()  # clear ID numbers are not kept


def test_every_rejection_code_is_reported(client, app_ctx):
    token = admin_token(client)
    d1 = good(1)
    bad_id = d1["id_number"][:17] + ("1" if d1["id_number"][17] != "1" else "2")
    rows = [
        good(1),
        good(2, id_number=bad_id),  # row 3: bad checksum
        good(3, id_number=d1["id_number"]),  # row 4: same person, another card
        good(4, card_no=d1["card_no"]),  # row 5: card of another person
        good(5, name=""),  # row 6: missing field
        good(6, card_no="6217000000000069"[:-1] + "0"),  # row 7: bad Luhn
        good(7, region="999999"),  # row 8
        good(8, name="x" * 10_000),  # row 9: 10 KB name
        good(9, name="Robert'); DROP TABLE members;--"),  # row 10: stored verbatim
        good(10, name="张三😀"),  # row 11: stored verbatim
        good(1),  # row 12: same row again -> skipped
    ]
    data = roster(rows)
    import_id = upload(client, token, data).get_json()["id"]
    run_jobs()
    body = status(client, token, import_id)
    codes = {e["row_no"]: e["code"] for e in body["errors"]}
    assert codes == {
        3: "bad_id_checksum",
        4: "duplicate_person",
        5: "duplicate_card",
        6: "missing_field",
        7: "bad_card_checksum",
        8: "bad_region",
        9: "field_too_long",
    }
    assert body["counts"] == {"created": 3, "skipped_existing": 1, "rejected": 7}
    names = set(db.session.scalars(db.select(Member.name)))
    assert {"Robert'); DROP TABLE members;--", "张三😀"} <= names


def test_reimporting_the_same_file_creates_nothing_twice(client, app_ctx):
    token = admin_token(client)
    data = roster([good(n) for n in range(1, 21)] + [good(99, region="000000")])
    first = upload(client, token, data).get_json()["id"]
    run_jobs()
    second = upload(client, token, data).get_json()["id"]
    run_jobs()
    assert status(client, token, first)["counts"] == {
        "created": 20,
        "skipped_existing": 0,
        "rejected": 1,
    }
    assert status(client, token, second)["counts"] == {
        "created": 0,
        "skipped_existing": 20,
        "rejected": 1,
    }
    assert count(Member) == 20 and count(Card) == 20


def test_job_is_idempotent_and_resumes_after_a_crash(app_ctx):
    data = roster([good(n) for n in range(1, 11)])
    imp = importer.new_import("r.csv", data)
    jobs.store_upload(imp.id, data)

    def crash(i):
        if i.processed == 4:
            raise RuntimeError("worker died")

    with pytest.raises(RuntimeError):
        importer.run_import(imp, data, batch_size=4, on_progress=crash)
    db.session.rollback()
    assert count(Member) == 4
    jobs.run_import(imp.id)  # the retry resumes after the committed batch
    jobs.run_import(imp.id)  # and a second run changes nothing
    imp = db.session.get(MemberImport, imp.id)
    assert (imp.status, imp.created, imp.processed) == ("done", 10, 10)
    assert count(Member) == 10


@pytest.mark.parametrize(
    "encoding,bom", [("gb18030", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b"")]
)
def test_chinese_encodings(client, app_ctx, encoding, bom):
    token = admin_token(client)
    rows = [good(1, name="欧阳修", branch="裕华区总工会"), good(2, name="䶮龘")]
    if encoding == "gbk":
        rows = rows[:1]
    import_id = upload(client, token, bom + roster(rows, encoding)).get_json()["id"]
    run_jobs()
    body = status(client, token, import_id)
    assert body["encoding"] == ("utf-8" if encoding == "utf-8" else "gb18030")
    assert body["counts"]["created"] == len(rows)
    assert "欧阳修" in set(db.session.scalars(db.select(Member.name)))
    assert "裕华区总工会" in set(db.session.scalars(db.select(Member.branch)))


def test_rejected_rows_download(client, app_ctx):
    token = admin_token(client)
    d = good(2)
    bad = d["id_number"][:17] + ("1" if d["id_number"][17] != "1" else "2")
    data = roster([good(1), good(2, id_number=bad, name="=HYPERLINK(1)"), good(3, phone="")])
    import_id = upload(client, token, data).get_json()["id"]
    run_jobs()
    link = status(client, token, import_id)["rejected_csv_url"]
    resp = client.get(link, headers=bearer(token))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert [(r["row_no"], r["code"]) for r in rows] == [
        ("3", "bad_id_checksum"),
        ("4", "missing_field"),
    ]
    assert rows[0]["id_number"] == "*" * 14 + bad[-4:]  # never the clear ID number
    assert rows[0]["name"] == "'=HYPERLINK(1)"  # no formulas in spreadsheets


def test_bad_header_fails_the_import(client, app_ctx):
    token = admin_token(client)
    import_id = upload(client, token, roster([["1", "2"]], header=["card", "who"])).get_json()["id"]
    run_jobs()
    body = status(client, token, import_id)
    assert body["status"] == "failed" and "card_no" in body["failure"]


def test_uploads_larger_than_the_global_body_limit_are_accepted(client, app_ctx):
    token = admin_token(client)
    rows = [good(n) for n in range(1, 16_001)]
    data = roster(rows)
    assert len(data) > app_ctx.config["MAX_CONTENT_LENGTH"]
    assert upload(client, token, data).status_code == 202


def test_upload_limit_and_missing_file(client, app_ctx):
    token = admin_token(client)
    app_ctx.config["UPLOAD_MAX_BYTES"] = 1000
    assert upload(client, token, b"x" * 5000).status_code == 413
    resp = client.post(URL, headers=bearer(token), data={}, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert upload(client, token, b"").status_code == 422


def test_unknown_import_is_404(client, app_ctx):
    token = admin_token(client)
    assert client.get(f"{URL}/12345", headers=bearer(token)).status_code == 404
