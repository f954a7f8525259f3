"""Every read and write of a c360 Delta table. Writes are idempotent:

- ``merge``: MERGE on the table's keys (null-safe) — update matched rows, insert new ones. The source must
  be unique on the keys; a duplicate key is an error naming the table and the key, never a silent pick.
- ``insert_new``: MERGE that only inserts rows whose keys are not there yet (bronze: append once per hash).
- ``overwrite``: replace the whole table (or, with ``replace_where``, only the rows matching a predicate).
"""

from __future__ import annotations

import json
import re
import threading

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from c360.config import C360Config
from c360.errors import C360Error, MissingColumnError
from c360.io import files, tracking
from c360.io.tracking import Touched
from c360.tables import TableSpec, WriteMode, all_tables

__all__ = ["Touched", "exists", "read_optional", "read_table", "version_of", "write_table"]


class DuplicateKeyError(C360Error, ValueError):
    pass


_COMMIT = re.compile(r"^\d{20}\.json$")
#: (session, table) -> location registered in that session's catalog
_REGISTERED: dict[tuple[int, str], str] = {}
#: catalog entries are made one at a time (tables are written from several threads: c360.parallel)
_CATALOG_LOCK = threading.Lock()


def _exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def path_version(spark: SparkSession, path: str) -> int | None:
    """The newest commit in the table's log (``_delta_log/<version>.json``), from one listing of the log folder:
    no Spark job. None when there is no table."""
    commits = [int(n[:-5]) for n in files.names_in(spark, files.join(path, "_delta_log")) if _COMMIT.match(n)]
    return max(commits) if commits else None


def exists(spark: SparkSession, cfg: C360Config, spec: TableSpec) -> bool:
    """Whether the table has been written (Delta's own check, on any filesystem)."""
    path = spec.path(cfg)
    tracking.note_read(spec.fqn, lambda: path_version(spark, path))
    return _exists(spark, path)


def read_table(spark: SparkSession, cfg: C360Config, spec: TableSpec) -> DataFrame:
    if not exists(spark, cfg, spec):
        raise C360Error(f"table {spec.fqn} does not exist at {spec.path(cfg)}; run `c360 {spec.producer}` first")
    return spark.read.format("delta").load(spec.path(cfg))


def read_optional(spark: SparkSession, cfg: C360Config, spec: TableSpec) -> DataFrame | None:
    """The table, or None when it has not been written yet (for inputs a job can do without)."""
    return read_table(spark, cfg, spec) if exists(spark, cfg, spec) else None


def check_columns(df: DataFrame, spec: TableSpec) -> None:
    for col in spec.columns:
        if col not in df.columns:
            raise MissingColumnError(col, f"table {spec.fqn}", df.columns)


def _check_unique(df: DataFrame, spec: TableSpec) -> None:
    dupes = df.groupBy(*spec.keys).count().filter("count > 1").limit(3).collect()
    if dupes:
        keys = [{k: r[k] for k in spec.keys} for r in dupes]
        raise DuplicateKeyError(f"{spec.fqn}: rows to write are not unique on {list(spec.keys)}: e.g. {keys}")


def write_table(spark: SparkSession, cfg: C360Config, spec: TableSpec, df: DataFrame,
                mode: WriteMode | None = None, replace_where: str | None = None,
                check_unique: bool = True, update_when: str | None = None, delete_flag: str | None = None,
                delete_missing: bool = False) -> dict:
    """Write ``df`` to the table idempotently; creates and registers the table on the first write.

    ``update_when``: with ``merge``, a condition on ``t`` (target) and ``s`` (source) for replacing a matched
    row, e.g. ``"s.updated_at >= t.updated_at"`` so that a late, older version never overwrites a newer one.
    ``delete_flag``: with ``merge``, a boolean source column (not written): a matched row whose flag is true
    is deleted, so one MERGE replaces, adds and removes rows atomically.
    ``delete_missing``: with ``merge``, target rows whose keys are not in ``df`` are deleted (the table becomes
    ``df``, touching only the rows that differ).

    Returns Delta's operation metrics of the commit (``numTargetRowsInserted``, ``numOutputRows``, ...).
    """
    if delete_flag:
        flag = F.coalesce(F.col(delete_flag), F.lit(False))
        if not exists(spark, cfg, spec):
            df = df.where(~flag)
        df = df.withColumn(delete_flag, flag)
    mode = mode or spec.write_mode
    check_columns(df, spec)
    path = spec.path(cfg)
    data_cols = [c for c in df.columns if c != delete_flag]
    if mode == "overwrite" or not exists(spark, cfg, spec):
        df = df.select(*data_cols)
        if check_unique and mode != "overwrite":
            _check_unique(df, spec)
        writer = df.write.format("delta").mode("overwrite")
        if replace_where or spec.partition_by:
            # replaceWhere and a new table's schema both need a static overwrite (the session default is dynamic)
            writer = writer.option("partitionOverwriteMode", "static")
        if replace_where and exists(spark, cfg, spec):
            writer = writer.option("replaceWhere", replace_where)
        else:
            writer = writer.option("overwriteSchema", "true")
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        writer.save(path)
    else:
        if check_unique:
            _check_unique(df, spec)
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in spec.keys)
        merge = DeltaTable.forPath(spark, path).alias("t").merge(df.alias("s"), cond).withSchemaEvolution()
        if delete_flag:
            keep = f"NOT s.`{delete_flag}`" + (f" AND ({update_when})" if update_when else "")
            values = {f"`{c}`": f"s.`{c}`" for c in data_cols}
            merge = merge.whenMatchedDelete(condition=f"s.`{delete_flag}`")
            if mode == "merge":
                merge = merge.whenMatchedUpdate(condition=keep, set=values)
            merge.whenNotMatchedInsert(condition=f"NOT s.`{delete_flag}`", values=values).execute()
        else:
            if mode == "merge":
                merge = merge.whenMatchedUpdateAll(condition=update_when)
            merge = merge.whenNotMatchedInsertAll()
            if delete_missing:
                merge = merge.whenNotMatchedBySourceDelete()
            merge.execute()
    tracking.note_written(spec.fqn)
    register_table(spark, cfg, spec)
    return last_operation_metrics(spark, cfg, spec)


def last_operation_metrics(spark: SparkSession, cfg: C360Config, spec: TableSpec) -> dict:
    """The operation and metrics of the table's latest commit (counts without reading the table): the
    ``commitInfo`` action of ``_delta_log/<version>.json``, read as text (no Spark job; ``DeltaTable.history``
    would rebuild the table's state first, which grows with its files)."""
    return commit_info(spark, spec.path(cfg))


def commit_info(spark: SparkSession, path: str, version: int | None = None) -> dict:
    """``{"version", "operation", **operationMetrics}`` of one commit of the Delta table at ``path`` (the latest
    when ``version`` is None), from the commit's own JSON file."""
    version = path_version(spark, path) if version is None else version
    if version is None:
        raise C360Error(f"no Delta table at {path}")
    log_file = files.join(path, "_delta_log", f"{version:020d}.json")
    text = files.read_text(spark, log_file)
    actions = (json.loads(line) for line in (text or "").splitlines() if '"commitInfo"' in line)
    info = next((a["commitInfo"] for a in actions if "commitInfo" in a), None)
    if info is None:
        raise C360Error(f"{log_file}: no commitInfo action (commit {version} of {path})")
    return {"version": version, "operation": info.get("operation"), **(info.get("operationMetrics") or {})}


def set_column_comments(spark: SparkSession, cfg: C360Config, spec: TableSpec, comments: dict[str, str]) -> int:
    """Give the table's columns these comments (Delta column metadata, shown by ``DESCRIBE TABLE``); only the
    columns whose comment differs are altered, so a second call commits nothing. Returns how many changed."""
    register_table(spark, cfg, spec)
    current = {f.name: f.metadata.get("comment") for f in read_table(spark, cfg, spec).schema.fields}
    changed = 0
    for col, text in comments.items():
        if col in current and current[col] != text:
            quoted = text.replace("\\", "\\\\").replace("'", "\\'")
            spark.sql(f"ALTER TABLE {spec.layer}.`{spec.name}` ALTER COLUMN `{col}` COMMENT '{quoted}'")
            changed += 1
    return changed


def optimize(spark: SparkSession, cfg: C360Config, spec: TableSpec, zorder_by: tuple[str, ...] = ()) -> dict:
    """Compact the table's files (and cluster them by ``zorder_by``, so lookups on those columns skip files
    by their min/max statistics). Returns the commit's metrics."""
    table_ = DeltaTable.forPath(spark, spec.path(cfg)).optimize()
    (table_.executeZOrderBy(*zorder_by) if zorder_by else table_.executeCompaction())
    return last_operation_metrics(spark, cfg, spec)


def register_table(spark: SparkSession, cfg: C360Config, spec: TableSpec) -> bool:
    """Register ``<layer>.<name>`` in the session catalog if the table exists on disk."""
    if not exists(spark, cfg, spec):
        return False
    location = spec.path(cfg)
    if _REGISTERED.get((id(spark), spec.fqn)) == location:
        return True
    with _CATALOG_LOCK:
        return _register(spark, spec, location)


def _register(spark: SparkSession, spec: TableSpec, location: str) -> bool:
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {spec.layer}")
    # an entry pointing elsewhere (another --warehouse in this session) is re-pointed; dropping an
    # external table's entry never touches its files
    spark.sql(f"DROP TABLE IF EXISTS {spec.layer}.`{spec.name}`")
    quoted = location.replace("'", "\\'")
    spark.sql(f"CREATE TABLE {spec.layer}.`{spec.name}` USING DELTA LOCATION '{quoted}'")
    _REGISTERED[(id(spark), spec.fqn)] = location
    return True


def table_version(spark: SparkSession, cfg: C360Config, spec: TableSpec) -> int | None:
    """The table's latest Delta version (None when it has not been written)."""
    return path_version(spark, spec.path(cfg))


def version_of(spark: SparkSession, cfg: C360Config, fqn: str) -> int | None:
    """:func:`table_version` of a table by its name (``layer.name``); None for a name not registered."""
    spec = next((t for t in all_tables(cfg) if t.fqn == fqn), None)
    return path_version(spark, spec.path(cfg)) if spec is not None else None


def register_all(spark: SparkSession, cfg: C360Config) -> list[str]:
    """Register every table that exists as ``<layer>.<table>``; returns the names registered."""
    return [spec.fqn for spec in all_tables(cfg) if register_table(spark, cfg, spec)]
