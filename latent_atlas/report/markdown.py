"""Markdown tables: the one formatter every report uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A table of `rows` with (key, title, format) columns; only columns some row has; "-" where one lacks it."""
    present = [c for c in columns if any(c[0] in row for row in rows)]
    lines = ["| " + " | ".join(title for _, title, _ in present) + " |",
             "|" + "|".join("---" for _ in present) + "|"]
    for row in rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "-" for key, _, fmt in present]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
