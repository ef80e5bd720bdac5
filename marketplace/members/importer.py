"""Roster import: decode, validate and insert members and cards in set-based batches.

One transaction per batch writes the batch's members, cards, rejected rows *and* the import's
counters, so a job that dies half-way resumes exactly where the last commit left it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import insert, select

from .. import orgs
from ..extensions import db
from ..models import utcnow
from . import identity
from .models import Card, Member, MemberImport, MemberImportError

COLUMNS = ("card_no", "name", "id_number", "phone", "branch", "region")
REQUIRED = ("card_no", "name", "id_number", "phone", "region")
# Optional columns: ``hardship`` (困难职工; 1 / yes / true / 是 marks the member, lottery
# weights in flashsale/lottery.py). A roster without it imports as before.
OPTIONAL = ("hardship",)
TRUTHY = {"1", "y", "yes", "true", "是"}
# Header cells may read ``卡号 card_no`` (the template the admin console hands out), ``卡号`` or
# ``card_no``: the key, else the Chinese name, decides the column.
HEADER_NAMES = {
    "card_no": "卡号",
    "name": "姓名",
    "id_number": "身份证号",
    "phone": "手机号",
    "branch": "所属工会",
    "region": "地区代码",
    "hardship": "困难职工",
}
MAX_LEN = {"card_no": 19, "name": 50, "id_number": 18, "phone": 20, "branch": 100, "region": 6}
BATCH_SIZE = 2000

MESSAGES = {
    "missing_field": "Required field is empty: {field}",
    "field_too_long": "Field is too long: {field}",
    "bad_card_number": "Card number must have 16-19 digits",
    "bad_card_checksum": "Card number check digit is wrong",
    "bad_id_number": "ID number must be 18 characters with a valid birth date",
    "bad_id_checksum": "ID number check digit is wrong",
    "bad_phone": "Phone is not a mainland mobile number",
    "bad_region": "Unknown region code",
    "duplicate_card": "Card number already belongs to another person",
    "duplicate_person": "This person already holds another card",
    "bad_characters": "Row contains NUL bytes or control characters",
    "undecodable": "Row contains bytes that are not valid {field} text",
    "bad_row": "Row cannot be read as CSV",
}

# NUL and other C0/C1 controls (tab aside) that PostgreSQL text refuses or spreadsheets mangle.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ESCAPED = re.compile(r"[\udc80-\udcff]")  # bytes the decoder could not read (surrogateescape)


class RosterError(ValueError):
    """The file as a whole cannot be imported (encoding, header)."""


@dataclass
class Rejected:
    row_no: int
    code: str
    message: str
    row: dict


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312).

    Undecodable bytes do not fail the file: they come back as lone surrogates (surrogateescape)
    and only the rows holding them are rejected. A file that is mostly valid UTF-8 stays UTF-8.
    """
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    utf8 = data.decode("utf-8-sig", errors="surrogateescape")
    bad = len(_ESCAPED.findall(utf8))
    if bad * 10 < sum(b >= 0x80 for b in data):  # a few stray bytes in a UTF-8 file
        return utf8, "utf-8"
    return data.decode("gb18030", errors="surrogateescape"), "gb18030"


def read_rows(data: bytes) -> tuple[list[tuple[int, dict]], str]:
    """(line number, row dict) for each non-blank data row, and the detected encoding.

    A row the CSV parser refuses becomes ``{"_error": "bad_row"}`` so it is reported, not fatal.
    """
    text, encoding = decode(data)
    # The default limit (128 KiB per field) would abort the whole file on one long field; the
    # upload is already bounded, and check_row rejects long fields as row errors.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error:
        raise RosterError("The header row cannot be read as CSV.") from None
    if header is None:
        raise RosterError("The file is empty.")
    names = [header_key(h) for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise RosterError(f"Header row lacks columns: {', '.join(missing)}")
    index = [(c, names.index(c)) for c in COLUMNS + OPTIONAL if c in names]
    rows = []
    while True:
        try:
            values = next(reader, None)
        except csv.Error:
            rows.append((reader.line_num, {c: "" for c in COLUMNS} | {"_error": "bad_row"}))
            continue
        if values is None:
            break
        if not any(v.strip() for v in values):
            continue
        row = {c: (values[i].strip() if i < len(values) else "") for c, i in index}
        rows.append((reader.line_num, row))
    return rows, encoding


def header_key(cell: str) -> str:
    """The column a header cell names: ``card_no``, ``卡号`` and ``卡号 card_no`` (or
    ``卡号(card_no)``) all give ``card_no``; anything else comes back folded as it was."""
    folded = cell.strip().lstrip("\ufeff").lower()
    if folded in HEADER_NAMES:
        return folded
    for word in re.split(r"[\s()（）/:：]+", folded):
        if word in HEADER_NAMES:
            return word
    by_name = {zh: key for key, zh in HEADER_NAMES.items()}
    first = re.split(r"[\s()（）/:：]+", folded)[0] if folded else ""
    return by_name.get(folded) or by_name.get(first) or folded


def template_csv() -> str:
    """A roster to fill in: bilingual headers this importer reads, one made-up example row
    (checksum-valid numbers), UTF-8 with a BOM so Excel shows the Chinese. The long numbers
    end in a tab, which Excel keeps as text instead of 6.2E+15; the importer strips it."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([f"{HEADER_NAMES[c]} {c}" for c in COLUMNS + OPTIONAL])
    card = identity.make_card_no("62", 1)
    resident = identity.make_resident_id("130102", "19900101", 1)
    writer.writerow([card + "\t", "张三", resident + "\t", "13800138000\t",
                     "某某公司工会", "130102", "否"])  # fmt: skip
    return out.getvalue()


def _clean(value: str) -> str:
    """A cell fit for storage and display: controls and undecodable bytes as U+FFFD, anything
    ID-shaped masked, at most 200 characters."""
    value = _ESCAPED.sub("\ufffd", _CONTROL.sub("\ufffd", value))
    return identity.mask_id_like(value)[:200]


def _masked(row: dict) -> dict:
    out = {c: _clean(row.get(c, "")) for c in COLUMNS}
    id_number = identity.fold(row.get("id_number", ""))
    out["id_number"] = identity.mask_id(_clean(id_number[-4:])) if id_number else ""
    return out


def _reject(row_no: int, row: dict, code: str, field: str = "") -> Rejected:
    return Rejected(row_no, code, MESSAGES[code].format(field=field), _masked(row))


def _bad_text(row_no: int, row: dict, encoding: str):
    if row.get("_error"):
        return _reject(row_no, row, row["_error"])
    values = [row[c] for c in COLUMNS]
    if any(_ESCAPED.search(v) for v in values):
        return _reject(row_no, row, "undecodable", encoding.upper())
    if any(_CONTROL.search(v) for v in values):
        return _reject(row_no, row, "bad_characters")
    return None


def check_row(row_no: int, row: dict, key: bytes, encoding: str = "utf-8"):
    """A normalised candidate dict, or a Rejected."""
    bad = _bad_text(row_no, row, encoding)
    if bad is not None:
        return bad
    for field in REQUIRED:
        if not row[field]:
            return _reject(row_no, row, "missing_field", field)
    for field, limit in MAX_LEN.items():
        if len(row[field]) > limit:
            return _reject(row_no, row, "field_too_long", field)
    card_no = identity.normalise_card(row["card_no"])
    if not identity.card_format_ok(card_no):
        return _reject(row_no, row, "bad_card_number")
    if not identity.luhn_ok(card_no):
        return _reject(row_no, row, "bad_card_checksum")
    id_number = identity.normalise_id(row["id_number"])
    if not identity.id_format_ok(id_number):
        return _reject(row_no, row, "bad_id_number")
    if not identity.id_checksum_ok(id_number):
        return _reject(row_no, row, "bad_id_checksum")
    phone = identity.normalise_phone(row["phone"])
    if not identity.valid_phone(phone):
        return _reject(row_no, row, "bad_phone")
    if not identity.valid_region(identity.fold(row["region"])):
        return _reject(row_no, row, "bad_region")
    return {
        "row_no": row_no,
        "raw": row,
        "card_no": card_no,
        "name": row["name"],
        "id_hash": identity.id_hash(key, id_number),
        "id_last4": id_number[-4:],
        "phone": phone,
        "branch": row["branch"],
        "region": identity.fold(row["region"]),
        "hardship": row.get("hardship", "").strip().lower() in TRUTHY,
    }


def _existing(candidates: list[dict]) -> tuple[dict[str, str], set[str]]:
    """card_no -> owner's id_hash for known cards, and the id hashes of known people."""
    cards = {c["card_no"] for c in candidates}
    hashes = {c["id_hash"] for c in candidates}
    card_owner = dict(
        db.session.execute(
            select(Card.card_no, Member.id_hash)
            .join(Member, Member.id == Card.member_id)
            .where(Card.card_no.in_(cards))
        ).all()
    )
    people = set(db.session.scalars(select(Member.id_hash).where(Member.id_hash.in_(hashes))))
    return card_owner, people


def _classify(candidates, seen_cards: dict[str, str], seen_people: set[str]):
    card_owner, people = _existing(candidates)
    fresh, skipped, rejected = [], 0, []
    for c in candidates:
        owner = card_owner.get(c["card_no"], seen_cards.get(c["card_no"]))
        if owner is not None:
            if owner == c["id_hash"]:
                skipped += 1  # already imported (this file again, or an earlier row)
            else:
                rejected.append(_reject(c["row_no"], c["raw"], "duplicate_card"))
        elif c["id_hash"] in people or c["id_hash"] in seen_people:
            rejected.append(_reject(c["row_no"], c["raw"], "duplicate_person"))
        else:
            seen_cards[c["card_no"]] = c["id_hash"]
            seen_people.add(c["id_hash"])
            fresh.append(c)
    return fresh, skipped, rejected


def _insert(
    imp: MemberImport, fresh: list[dict], rejected: list[Rejected], org_cache: dict | None = None
) -> None:
    now = utcnow()
    if fresh:
        org_cache = {} if org_cache is None else org_cache
        member_rows = [
            {
                k: c[k]
                for k in ("name", "id_hash", "id_last4", "phone", "branch", "region", "hardship")
            }  # fmt: skip
            | {
                "import_id": imp.id,
                "created_at": now,
                # The row's branch under its region's district, created on first sight.
                "org_id": orgs.ensure_branch(c["region"], c["branch"], org_cache),
            }
            for c in fresh
        ]
        ids = (
            db.session.execute(
                insert(Member.__table__).returning(
                    Member.__table__.c.id, sort_by_parameter_order=True
                ),
                member_rows,
            )
            .scalars()
            .all()
        )
        db.session.execute(
            insert(Card.__table__),
            [
                {"card_no": c["card_no"], "member_id": mid, "status": "issued", "issued_at": now}
                for c, mid in zip(fresh, ids, strict=True)
            ],
        )
    if rejected:
        db.session.execute(
            insert(MemberImportError.__table__),
            [
                {
                    "import_id": imp.id,
                    "row_no": r.row_no,
                    "code": r.code,
                    "message": r.message,
                    "row": r.row,
                }
                for r in rejected
            ],
        )


def run_import(
    imp: MemberImport,
    data: bytes,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[MemberImport], None] | None = None,
) -> MemberImport:
    """Import ``data`` into ``imp``, resuming after ``imp.processed`` rows (idempotent)."""
    if imp.status == "done":
        return imp
    try:
        rows, encoding = read_rows(data)
    except RosterError as exc:
        imp.status, imp.failure, imp.finished_at = "failed", str(exc), utcnow()
        db.session.commit()
        raise
    imp.encoding, imp.total, imp.status, imp.failure = encoding, len(rows), "running", None
    db.session.commit()
    key = current_app.config["ID_HASH_KEY"].encode()
    seen_cards: dict[str, str] = {}
    seen_people: set[str] = set()
    org_cache: dict = {}
    for start in range(imp.processed, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        checked = [check_row(n, row, key, encoding) for n, row in batch]
        candidates = [c for c in checked if isinstance(c, dict)]
        rejected = [c for c in checked if isinstance(c, Rejected)]
        fresh, skipped, duplicates = (
            _classify(candidates, seen_cards, seen_people) if candidates else ([], 0, [])
        )
        rejected += duplicates
        rejected.sort(key=lambda r: r.row_no)
        _insert(imp, fresh, rejected, org_cache)
        imp.processed = start + len(batch)
        imp.created += len(fresh)
        imp.skipped_existing += skipped
        imp.rejected += len(rejected)
        db.session.commit()
        if on_progress:
            on_progress(imp)
    imp.status, imp.finished_at = "done", utcnow()
    db.session.commit()
    return imp


def new_import(filename: str, data: bytes, created_by: int | None = None) -> MemberImport:
    imp = MemberImport(
        filename=filename[:255] or "roster.csv",
        sha256=hashlib.sha256(data).hexdigest(),
        created_by=created_by,
    )
    db.session.add(imp)
    db.session.commit()
    return imp


def rejected_csv(
    imp: MemberImport,
    describe: Callable[[str, str], str] | None = None,
    names: dict | None = None,
) -> str:
    """The rejected rows (ID numbers masked) with their errors, UTF-8 with a BOM for Excel.

    By default the stable English keys and messages (API, CLI). The admin console passes
    ``describe(code, message)`` and ``names`` (a word for ``row_no``, ``code``, ``message`` and
    each column) to give the file in the page's language."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    keys = ["row_no", "code", "message", *COLUMNS]
    writer.writerow([str(names.get(k, k)) for k in keys] if names else keys)
    errors = db.session.scalars(
        select(MemberImportError)
        .where(MemberImportError.import_id == imp.id)
        .order_by(MemberImportError.row_no)
    )
    for err in errors:
        # _clean again: rows stored before masking covered every column come out masked too.
        values = [_cell(_clean(str(err.row.get(c, "")))) for c in COLUMNS]
        message = describe(err.code, err.message) if describe else err.message
        writer.writerow([err.row_no, err.code, message, *values])
    return out.getvalue()


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in values that came from the upload."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
