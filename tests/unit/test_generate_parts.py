"""The generator's parts on their own: malformed rows break the column they name, whatever its position."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from c360.generate.mess import CSV_BREAKERS, csv_value, inject, json_value_prefix
from c360.generate.output import Written, write_csv


def test_a_value_breaker_finds_its_column_by_name():
    brk = csv_value("impossible_date", "dob", "31/02/1990")
    for columns in (["id", "dob", "name"], ["name", "x", "y", "z", "id", "dob"]):
        line = ",".join(f"v_{c}" for c in columns)
        kind, broken = brk(line, columns)
        row = next(csv.reader([broken]))
        assert kind == "impossible_date" and row[columns.index("dob")] == "31/02/1990"
        assert [v for c, v in zip(columns, row, strict=True) if c != "dob"] == [f"v_{c}" for c in columns if c != "dob"]
    kind, broken = json_value_prefix("bad_type", "event_ts", "not-a-time")('{"id":"1","event_ts":"2025-01-01"}', [])
    assert broken == '{"id":"1","event_ts":"not-a-time2025-01-01"}'


def test_inject_returns_what_it_broke_and_is_seeded():
    body = [f"{i},a,b,c,d" for i in range(2000)]
    first, kinds = inject(np.random.default_rng(3), body, ["i", "a", "b", "c", "d"], 0.05, CSV_BREAKERS)
    again, _ = inject(np.random.default_rng(3), body, ["i", "a", "b", "c", "d"], 0.05, CSV_BREAKERS)
    changed = [i for i, (a, b) in enumerate(zip(body, first, strict=True)) if a != b]
    assert first == again and len(changed) == len(kinds) and 50 <= len(kinds) <= 150
    assert set(kinds) == {"wrong_column_count"} and body[0] == "0,a,b,c,d"  # the input list is left alone


def test_written_files_count_rows_and_malformed_ones(tmp_path):
    df = pd.DataFrame({"id": range(500), "dob": ["01/01/1990"] * 500})
    rows, kinds = write_csv(np.random.default_rng(1), df, tmp_path / "x.csv", 0.1,
                            [csv_value("impossible_date", "dob", "31/02/1990")])
    written = Written()
    written.add("crm", rows, tmp_path / "x.csv", kinds)
    back = pd.read_csv(io.StringIO((tmp_path / "x.csv").read_text()), dtype=str)
    assert rows == 500 and written.rows == {"crm": 500}
    assert (back["dob"] == "31/02/1990").sum() == len(kinds) == len(written.malformed) > 0
    assert written.malformed[0] == {"source": "crm", "file": "x.csv", "kind": "impossible_date"}
