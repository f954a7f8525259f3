"""Comparing two local warehouses table by table (the cluster, crash and idempotency tests): every Delta table
under a warehouse, its version, and its rows as sorted text without the columns that carry a run's id or time
or a model's training time."""

from __future__ import annotations

import re
from pathlib import Path

#: columns that differ between any two runs of the same inputs: the run's id and clock, a model's training
#: time (and what embeds it), the run's own timing
VOLATILE = frozenset({"run_id", "_ingested_at", "at", "updated_at", "sessionized_at", "content_hash", "version",
                      "model_version", "model_versions", "trained_at", "checked_at", "requested_at",
                      "time_travel_until", "seconds", "started_at", "finished_at", "created_at", "scored_at"})
_COMMIT = re.compile(r"^\d{20}\.json$")


def tables(warehouse: Path) -> dict[str, Path]:
    """``layer/name`` -> folder of every Delta table under a local warehouse (not its system folder)."""
    return {log.parent.relative_to(warehouse).as_posix(): log.parent for log in sorted(warehouse.rglob("_delta_log"))
            if not log.relative_to(warehouse).as_posix().startswith("_")}


def version(table: Path) -> int | None:
    """The newest commit; None for a folder whose first commit never happened (a write killed before it)."""
    return max((int(p.name[:-5]) for p in (table / "_delta_log").iterdir() if _COMMIT.match(p.name)), default=None)


def versions(warehouse: Path) -> dict[str, int]:
    """``layer/name`` -> newest version of every table with at least one commit."""
    found = {name: version(path) for name, path in tables(warehouse).items()}
    return {name: v for name, v in found.items() if v is not None}


def _plain(v):
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return sorted((_plain(k), _plain(x)) for k, x in v.items())
    if hasattr(v, "asDict"):
        return _plain(v.asDict())
    return v


def rows(df) -> list[str]:
    """The frame's rows as sorted text, without the volatile columns, floats to 6 places."""
    cols = sorted(c for c in df.columns if c not in VOLATILE)
    return sorted(repr(_plain(r)) for r in df.select(*cols).collect())


def table_rows(spark, table: Path, at_version: int | None = None) -> list[str]:
    reader = spark.read.format("delta")
    if at_version is not None:
        reader = reader.option("versionAsOf", at_version)
    return rows(reader.load(str(table)))


def assert_same(spark, got: Path, want: Path, names: list[str] | None = None) -> None:
    """Every table of ``want`` (or the ``names`` given, which must have rows) exists in ``got`` with the same
    columns and rows."""
    want_tables, got_tables = tables(want), tables(got)
    for name in names or sorted(want_tables):
        assert name in got_tables, f"{name}: missing in {got}"
        a = spark.read.format("delta").load(str(got_tables[name]))
        b = spark.read.format("delta").load(str(want_tables[name]))
        assert sorted(a.columns) == sorted(b.columns), name
        expected = rows(b)
        assert expected or not names, f"{name}: no rows to compare"
        assert rows(a) == expected, name
