"""Roster import against hostile files: clear ID numbers never leak, bad rows never fail the
import, the upload is deleted when the job is over, and full-width digits are no second identity."""

import csv
import io

import pytest

from marketplace.extensions import db
from marketplace.members import importer, jobs
from marketplace.members.models import Member, MemberImport, MemberImportError
from tests.members.helpers import admin_token, bearer
from tests.members.test_import import count, good, roster, run_jobs, status, upload

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def leaked(text: str, id_number: str) -> bool:
    """True if the first 14 characters of the ID number (in any digit form) are in ``text``."""
    head = id_number[:14]
    return head in text or head.translate(FULL_WIDTH) in text


def rejected_csv(client, token, import_id) -> str:
    link = status(client, token, import_id)["rejected_csv_url"]
    return client.get(link, headers=bearer(token)).data.decode("utf-8-sig")


def test_shifted_columns_never_show_an_id_number(client, app_ctx):
    token = admin_token(client)
    p1, p2, p3, p4 = good(1), good(2), good(3), good(4)
    rows = [
        # columns shifted left by one: the ID lands in the name column, the phone in id_number
        [p1["card_no"], p1["id_number"], p1["phone"], p1["branch"], p1["region"], ""],
        # shifted right: the ID lands in the phone column
        ["", p2["card_no"], p2["name"], p2["id_number"], p2["phone"], p2["region"]],
        # an ID in full-width digits, and one with spaces, in the branch and card columns
        [p3["card_no"], p3["name"], "x", p3["phone"], p3["id_number"].translate(FULL_WIDTH), ""],
        [
            f"{p4['id_number'][:6]} {p4['id_number'][6:14]} {p4['id_number'][14:]}",
            p4["name"],
            p4["id_number"],
            p4["phone"],
            "",
            p4["region"],
        ],
    ]
    import_id = upload(client, token, roster(rows)).get_json()["id"]
    run_jobs()
    body = status(client, token, import_id)
    assert body["counts"]["rejected"] == 4
    stored = " ".join(
        str(e.row) + e.message for e in db.session.scalars(db.select(MemberImportError))
    )
    download = rejected_csv(client, token, import_id)
    for person in (p1, p2, p3, p4):
        assert not leaked(str(body), person["id_number"])
        assert not leaked(stored, person["id_number"])
        assert not leaked(download, person["id_number"])
    assert "*" * 14 + p1["id_number"][-4:] in download  # masked, with the last four kept
    by_row = {r["row_no"]: r for r in csv.DictReader(io.StringIO(download))}
    assert by_row["2"]["card_no"] == p1["card_no"]  # a card number stays readable
    assert by_row["2"]["id_number"] == "*" * 14 + p1["phone"][-4:]


def test_bad_rows_are_row_errors_and_the_import_finishes(client, app_ctx):
    token = admin_token(client)
    body = roster([good(1), good(2, name="张\x00三"), good(3)]).decode()
    big = "x" * (200 * 1024)  # over the csv module's 128 KiB field limit
    body += roster([good(4, branch=big), good(5)]).decode().split("\r\n", 1)[1]
    data = body.encode("utf-8")
    # an undecodable byte (not UTF-8, and the file is mostly UTF-8) inside one row's name
    data += roster([good(6, name="李@")]).split(b"\r\n", 1)[1].replace(b"@", b"\xff")
    data += roster([good(7)]).split(b"\r\n", 1)[1]
    import_id = upload(client, token, data).get_json()["id"]
    run_jobs()
    body = status(client, token, import_id)
    assert body["status"] == "done", body
    assert body["encoding"] == "utf-8"
    assert {e["row_no"]: e["code"] for e in body["errors"]} == {
        3: "bad_characters",
        5: "field_too_long",
        7: "undecodable",
    }
    assert body["counts"] == {"created": 4, "skipped_existing": 0, "rejected": 3}
    download = rejected_csv(client, token, import_id)
    assert "\x00" not in download and "\ufffd" in download
    assert len(download) < 10_000  # the 200 KiB field is cut, not echoed back


def test_gb18030_file_with_a_broken_byte(client, app_ctx):
    token = admin_token(client)
    data = roster([good(1, name="欧阳修"), good(2, name="王@"), good(3, name="䶮龘")], "gb18030")
    data = data.replace(b"@", b"\x80")  # 0x80 is not a GB18030 lead byte
    import_id = upload(client, token, data).get_json()["id"]
    run_jobs()
    body = status(client, token, import_id)
    assert (body["status"], body["encoding"]) == ("done", "gb18030")
    assert [(e["row_no"], e["code"]) for e in body["errors"]] == [(3, "undecodable")]
    assert {"欧阳修", "䶮龘"} <= set(db.session.scalars(db.select(Member.name)))


def test_full_width_digits_are_the_same_person(client, app_ctx):
    token = admin_token(client)
    p1, p2, p3 = good(1), good(2), good(3)
    wide_id = p1["id_number"].translate(FULL_WIDTH)
    rows = [
        p1,
        good(2, id_number=wide_id),  # same person as row 2, other card: refused
        good(1, card_no=p1["card_no"].translate(FULL_WIDTH)),  # p1's card again: skipped
        good(3, phone=p3["phone"].translate(FULL_WIDTH), region=p3["region"].translate(FULL_WIDTH)),
        good(4, id_number=good(4)["id_number"].translate(ARABIC_INDIC)),  # not a digit to us
    ]
    import_id = upload(client, token, roster(rows)).get_json()["id"]
    run_jobs()
    body = status(client, token, import_id)
    assert {e["row_no"]: e["code"] for e in body["errors"]} == {
        3: "duplicate_person",
        6: "bad_id_number",
    }
    assert body["counts"] == {"created": 2, "skipped_existing": 1, "rejected": 2}
    member = db.session.scalars(db.select(Member).where(Member.name == p3["name"])).one()
    assert (member.phone, member.region) == (p3["phone"], p3["region"])
    del p2
    # and a later file with the ASCII spelling of a full-width-imported person is a duplicate
    later = upload(client, token, roster([good(5, id_number=p3["id_number"])])).get_json()["id"]
    run_jobs()
    assert [e["code"] for e in status(client, token, later)["errors"]] == ["duplicate_person"]


def test_upload_is_deleted_after_success_and_after_a_bad_file(client, app_ctx):
    token = admin_token(client)
    ok = upload(client, token, roster([good(1)])).get_json()["id"]
    bad = upload(client, token, roster([["1"]], header=["nope"])).get_json()["id"]
    assert jobs.upload_path(ok).exists() and jobs.upload_path(bad).exists()
    run_jobs()
    assert status(client, token, ok)["status"] == "done"
    assert status(client, token, bad)["status"] == "failed"
    assert not jobs.upload_path(ok).exists() and not jobs.upload_path(bad).exists()


def test_upload_is_kept_for_a_retry_and_deleted_after_the_last(client, app_ctx, monkeypatch):
    token = admin_token(client)
    import_id = upload(client, token, roster([good(1)])).get_json()["id"]

    def broken(*_args, **_kwargs):
        raise RuntimeError("database went away")  # an internal error, not a bad file

    monkeypatch.setattr(importer, "run_import", broken)
    run_jobs()  # the first try fails; RQ schedules a retry
    imp = db.session.get(MemberImport, import_id)
    db.session.refresh(imp)
    assert imp.status == "queued" and "retried" in imp.failure
    assert jobs.upload_path(import_id).exists()
    with pytest.raises(RuntimeError):
        jobs.run_import(import_id)  # outside RQ: no retries left, the last attempt
    db.session.refresh(imp)
    assert imp.status == "failed" and "upload the file again" in imp.failure
    assert not jobs.upload_path(import_id).exists()
    assert count(Member) == 0
