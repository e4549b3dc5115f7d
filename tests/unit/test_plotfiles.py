"""latent_atlas.plotfiles: rows checked against their columns before DVC reads them."""

from __future__ import annotations

import csv
import io
import json

import pytest

from latent_atlas.plotfiles import checked_rows, csv_text, write_json_rows

COLUMNS = ("series", "x", "y")


def test_rows_keep_the_column_order_and_fill_optional_ones():
    rows = checked_rows([{"y": 2.0, "x": 1, "series": "a"}, {"series": "b", "x": 2}], COLUMNS, optional=["y"])
    assert rows == [{"series": "a", "x": 1, "y": 2.0}, {"series": "b", "x": 2, "y": None}]
    assert [list(row) for row in rows] == [list(COLUMNS)] * 2


@pytest.mark.parametrize(("row", "message"), [
    ({"series": "a", "x": 1}, "row 2 has no value in column 'y'"),
    ({"series": "a", "x": 1, "y": None}, "row 2 has no value in column 'y'"),
    ({"series": "a", "x": 1, "y": float("nan")}, "row 2 has nan in column 'y'"),
    ({"series": "a", "x": 1, "y": 1.0, "z": 0}, r"row 2 has columns \['z'\]"),
])
def test_a_bad_row_names_the_file_the_row_and_the_column(tmp_path, row, message):
    path = tmp_path / "noise.json"
    with pytest.raises(ValueError, match=message) as info:
        write_json_rows(path, [{"series": "a", "x": 0, "y": 0.5}, row], COLUMNS)
    assert str(path) in str(info.value)
    assert not path.exists()  # nothing half-true is written


def test_json_rows_are_what_dvc_reads(tmp_path):
    path = write_json_rows(tmp_path / "p.json", [{"series": "a", "x": 1, "y": 0.25}], COLUMNS)
    assert json.loads(path.read_text()) == [{"series": "a", "x": 1, "y": 0.25}]


def test_csv_writes_optional_gaps_as_empty_cells():
    text = csv_text([{"series": "a", "x": 1, "y": 0.5}, {"series": "b", "x": 2}], COLUMNS, optional=["y"])
    assert list(csv.DictReader(io.StringIO(text))) == [{"series": "a", "x": "1", "y": "0.5"},
                                                       {"series": "b", "x": "2", "y": ""}]
