"""Bad input, generated (hypothesis): files of CSV, JSON-lines and Parquet sources with rows that are good
(odd unicode, control characters, huge strings, injection-like text, separators inside values) and rows that
are bad on purpose (a value of the wrong type, a required value missing, too many or too few CSV fields,
broken JSON, broken quoting), files with extra or missing columns and empty files. Ingest never fails; every
good row reaches bronze with its values intact, every bad row is in the quarantine with a reason, and each
file's rows read = rows kept + rows quarantined. Which rows are bad is known from how they were written."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c360.cli import main
from c360.config import load_config
from c360.io.delta import read_table
from c360.tables import TABLES, bronze_table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
RUNS = itertools.count()

SOURCE = """sources:
  - name: fz
    kind: person
    format: {fmt}
    path: fz/*
    options: {options}
    id: pid
    schema: {{pid: "string not null", born: "date yyyy-MM-dd", score: "double"}}
    fields: {{first_name: fname, last_name: lname, email: mail, date_of_birth: "to_date(born, 'yyyy-MM-dd')"}}
"""
OPTIONS = {"csv": "{header: true}", "json": "{}", "parquet": "{}"}
COLUMNS = ["pid", "fname", "lname", "mail", "born", "score"]
INJECTION = ["'; DROP TABLE silver.person; --", "${jndi:ldap://example.invalid/a}", "=HYPERLINK(1)",
             "<script>alert(1)</script>", "../../etc/passwd", "%s%s%n", "NULL", "' OR 1=1 --", ""]
#: any character but the ones a line-based text format cannot hold unquoted-and-unescaped in one line
#: (line breaks) or that Spark's CSV reader treats as quote/escape by default
TEXT = st.one_of(
    st.text(st.characters(exclude_characters="\r\n\"\\\u2028\u2029\x85", exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(INJECTION),
    st.integers(5_000, 40_000).map(lambda n: "é" * n),  # a huge value
)
#: how a bad row is bad (certain to be rejected) and formats it applies to
BAD = {"bad_date": ("csv", "json", "parquet"), "bad_double": ("csv", "json", "parquet"),
       "missing_id": ("csv", "json", "parquet"), "extra_field": ("csv",), "missing_field": ("csv",),
       "broken_quote": ("csv",),
       "broken_json": ("json",)}


@st.composite
def rows(draw, fmt: str):
    """(row values, how it is bad or None) for one row."""
    values = {"fname": draw(TEXT), "lname": draw(TEXT), "mail": draw(TEXT),
              "born": draw(st.dates(min_value=pd.Timestamp("1900-01-01").date(),
                                    max_value=pd.Timestamp("2020-12-31").date()).map(str)),
              "score": draw(st.one_of(st.just(""), st.floats(-1e6, 1e6, allow_nan=False).map(repr)))}
    kinds = [k for k, fmts in BAD.items() if fmt in fmts]
    bad = draw(st.one_of(st.none(), st.sampled_from(kinds)))
    if bad == "bad_date":
        values["born"] = draw(st.sampled_from(["31/12/1999", "1999-13-45", "yesterday", "19990101x"]))
    elif bad == "bad_double":
        values["score"] = draw(st.sampled_from(["abc", "1,5", "1.2.3", "--1"]))
    return values, bad


@st.composite
def files(draw, fmt: str):
    """1-3 files of 0-8 rows each; a file may carry an extra column or lack the optional score column."""
    out = []
    for n in range(draw(st.integers(1, 3))):
        drawn = draw(st.lists(rows(fmt), max_size=8))
        if n == 0:  # the first file shows the source's columns: one good row (a JSON schema is inferred from it)
            drawn = [draw(rows(fmt).filter(lambda r: r[1] is None)), *drawn]
        # a later file may lack the optional column, or be empty: no bytes at all (CSV, JSON), no rows (Parquet)
        empty = n > 0 and draw(st.integers(0, 3)) == 0
        out.append({"rows": [] if empty else drawn, "extra": draw(st.booleans()), "empty": empty,
                    "no_score": n > 0 and fmt != "csv" and draw(st.booleans())})
    return out


def _csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _write(folder: Path, fmt: str, spec: list[dict]) -> dict[str, dict]:
    """Write the files; returns pid -> {values, bad, file} for every row written."""
    folder.mkdir(parents=True)
    written: dict[str, dict] = {}
    pids = itertools.count(1)
    for n, f in enumerate(spec):
        cols = [c for c in COLUMNS if not (f["no_score"] and c == "score")] + (["tier"] if f["extra"] else [])
        records = []
        for values, bad in f["rows"]:
            pid = f"R{next(pids)}"
            if bad == "bad_double" and "score" not in cols:  # a file without the column: nothing wrong left
                bad = None
            row = {"pid": "" if bad == "missing_id" else pid, **values, "tier": "gold"}
            written[pid] = {"values": {**values, "pid": pid}, "bad": bad, "file": f"f{n}.{fmt}"}
            records.append((row, bad))
        path = folder / f"f{n}.{fmt}"
        if f["empty"] and fmt != "parquet":
            path.write_bytes(b"")
        elif fmt == "csv":
            with path.open("w", encoding="utf-8") as out:
                out.write(_csv_line(cols))
                for row, bad in records:
                    fields = [row[c] for c in cols]
                    fields = fields + ["surplus"] if bad == "extra_field" else fields[:-1] if bad == "missing_field" \
                        else fields
                    line = _csv_line(fields)
                    if bad == "broken_quote":  # the quote that closes the second field is gone
                        parts = line.split('","')
                        line = '","'.join(parts[:2]) + ',"' + '","'.join(parts[2:])
                    out.write(line)
        elif fmt == "json":
            with path.open("w", encoding="utf-8") as out:
                for row, bad in records:
                    line = json.dumps({c: row[c] for c in cols if not (bad == "missing_id" and c == "pid")},
                                      ensure_ascii=False)
                    out.write((line[: len(line) // 2] if bad == "broken_json" else line) + "\n")
        else:
            frame = pd.DataFrame([{c: (None if bad == "missing_id" and c == "pid" else row[c]) for c in cols}
                                  for row, bad in records], columns=cols, dtype="string")
            frame.to_parquet(path, index=False)
    return written


def _check(spark, tmp: Path, fmt: str, spec: list[dict], seen: set[str]) -> None:
    root = tmp / f"run{next(RUNS)}"
    landing, conf, wh = root / "landing", root / "conf", root / "wh"
    written = _write(landing / "fz", fmt, spec)
    seen.update(w["bad"] or "good" for w in written.values())
    seen.update(k for f in spec for k in ("extra", "empty", "no_score") if f[k])
    seen.update("huge" for w in written.values() if max(len(w["values"][c]) for c in ("fname", "lname", "mail")) > 4000)
    conf.mkdir(parents=True)
    (conf / "sources.yml").write_text(SOURCE.format(fmt=fmt, options=OPTIONS[fmt]))
    assert main(["ingest", "--env", "test", "--conf", str(conf), "--landing", str(landing), "--warehouse", str(wh),
                 "--set", "quality.gates=false"]) == 0
    cfg = load_config("test", conf, conf_root=REPO / "conf", warehouse=str(wh), landing=str(landing))
    kept = {r["pid"]: r.asDict() for r in read_table(spark, cfg, bronze_table("fz")).collect()}
    quarantined = read_table(spark, cfg, TABLES["bronze.quarantine"]).collect()
    assert all(q["reason"] for q in quarantined)
    good = {pid: w for pid, w in written.items() if w["bad"] is None}
    assert set(kept) == set(good)
    for pid, w in good.items():  # every value as written (an empty text may come back as null)
        assert {c: kept[pid][c] or None for c in ("fname", "lname", "mail", "born")} == \
            {c: w["values"][c] or None for c in ("fname", "lname", "mail", "born")}, pid
    assert len(quarantined) == len(written) - len(good)
    log = read_table(spark, cfg, TABLES["bronze.ingest_log"]).collect()
    assert {Path(r["_source_file"]).name for r in log} == {f"f{n}.{fmt}" for n in range(len(spec))}
    for r in log:
        mine = [w for w in written.values() if w["file"] == Path(r["_source_file"]).name]
        assert (r["rows_read"], r["rows_kept"], r["rows_quarantined"]) == (
            len(mine), sum(w["bad"] is None for w in mine), sum(w["bad"] is not None for w in mine))


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_malformed_rows_go_to_quarantine_and_nothing_is_lost(spark, tmp_path_factory, fmt):
    tmp = tmp_path_factory.mktemp(f"fuzz-{fmt}")
    seen: set[str] = set()

    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(spec=files(fmt))
    def check(spec):
        _check(spark, tmp, fmt, spec, seen)

    check()
    # the examples did hold every kind of bad row for the format, the odd files and the huge values
    wanted = {k for k, fmts in BAD.items() if fmt in fmts} | {"good", "extra", "empty", "huge"} | (
        {"no_score"} if fmt != "csv" else set())
    assert wanted <= seen, wanted - seen
