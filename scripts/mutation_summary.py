"""Per-module mutation counts from ``mutmut results --all true`` (stdin) as a Markdown table.

Usage: mutmut results --all true | python scripts/mutation_summary.py
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

COLUMNS = ("killed", "survived", "timeout", "no tests", "not checked")


def main() -> None:
    counts: dict[str, Counter] = defaultdict(Counter)
    for line in sys.stdin:
        name, _, status = line.strip().rpartition(": ")
        if not name:
            continue
        module = re.sub(r"\.(x_|xǁ).*$", "", name)
        counts[module][status] += 1
    total = Counter()
    print("| module | " + " | ".join(COLUMNS) + " | score (killed+timeout)/(checked) |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        print(_row(module, c))
    print(_row("**all**", total))


def _row(label: str, c: Counter) -> str:
    checked = c["killed"] + c["survived"] + c["timeout"]
    score = f"{100 * (c['killed'] + c['timeout']) / checked:.1f}%" if checked else "n/a"
    return f"| {label} | " + " | ".join(str(c[k]) for k in COLUMNS) + f" | {score} |"


if __name__ == "__main__":
    main()
