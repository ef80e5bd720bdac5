"""The zh-CN catalogue is complete and the compiled .mo matches the .po that is committed."""

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ZH = Path(__file__).resolve().parents[2] / "marketplace/translations/zh/LC_MESSAGES"


def test_every_string_has_a_chinese_translation():
    with (ZH / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []


def test_compiled_catalogue_is_up_to_date():
    with (ZH / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert compiled.getvalue() == (ZH / "messages.mo").read_bytes(), (
        "run: python scripts/translate.py"
    )
