"""DVC plot files: rows of named columns, checked before they are written.

DVC draws a plot file by column name. A row without the column a plot reads
drops that whole revision from `dvc plots show/diff`: the chart comes out
empty, without an error. So every writer checks its rows against the columns
it promises and fails naming the file, the row and the column instead.
Optional columns are written for every row (empty in CSV, null in JSON) for
the same reason: a plot that reads them must find them in every row.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from latent_atlas.io import write_text


def checked_rows(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, optional: Iterable[str] = (),
                 where: str | Path = "plot file") -> list[dict[str, Any]]:
    """The rows with exactly `columns`, in that order; absent optional ones as None.

    A row missing a required column, holding it as None or a non-finite
    number, or carrying a column not promised, is a bug in the code that
    built it: ValueError naming the file, the row and the column.
    """
    optional = frozenset(optional)
    unknown = optional - set(columns)
    if unknown:
        raise ValueError(f"{where}: optional columns {sorted(unknown)} are not among the columns {list(columns)}")
    out = []
    for number, row in enumerate(rows, 1):
        extra = sorted(set(row) - set(columns))
        if extra:
            raise ValueError(f"{where}: row {number} has columns {extra} that are not among {list(columns)}")
        for column in columns:
            value = row.get(column)
            if column in optional:
                continue
            if value is None:
                raise ValueError(f"{where}: row {number} has no value in column {column!r}; "
                                 "a plot reading it would drop the whole revision")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{where}: row {number} has {value} in column {column!r}; plot files hold "
                                 "finite numbers only")
        out.append({column: row.get(column) for column in columns})
    return out


def write_json_rows(path: str | Path, rows: Iterable[dict[str, Any]], columns: Sequence[str], *,
                    optional: Iterable[str] = ()) -> Path:
    """A JSON list of row objects, DVC's plot format, atomically; the rows checked first."""
    table = checked_rows(rows, columns, optional=optional, where=path)
    return write_text(path, json.dumps(table, indent=1) + "\n")


def csv_text(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, optional: Iterable[str] = (),
             where: str | Path = "plot file") -> str:
    """The checked rows as CSV, a header of `columns`; None is an empty cell."""
    table = checked_rows(rows, columns, optional=optional, where=where)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in table)
    return out.getvalue()
