"""Fill zh_CN msgstrs from a small TSV of "msgid<TAB>msgstr" lines and compile the catalogue.

A msgid with a context (``pgettext("tab", "Home")``) is written ``[tab] Home``.

Usage: python scripts/translate.py [entries.tsv]   (without a file it only compiles)
Run `make i18n` first to extract new strings; missing translations are listed at the end.
"""

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "marketplace/translations/zh/LC_MESSAGES/messages.po"


def main() -> int:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    if len(sys.argv) > 1:
        for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                msgid, msgstr = line.split("\t", 1)
                context = None
                if msgid.startswith("[") and "] " in msgid:
                    context, msgid = msgid[1:].split("] ", 1)
                message = catalog.get(msgid, context=context)
                if message is not None:
                    message.string = msgstr
                    message.flags.discard("fuzzy")
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True, no_location=True)
    with PO.with_suffix(".mo").open("wb") as fh:
        write_mo(fh, catalog)
    missing = [(m.context, m.id) for m in catalog if m.id and not m.string]
    for context, msgid in missing:
        print(f"untranslated: [{context}] {msgid}" if context else f"untranslated: {msgid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
