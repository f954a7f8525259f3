"""`c360 ingest`: every enabled source into `bronze.<source>`; bad rows into `bronze.quarantine`.

Incremental through a file log (`bronze.ingest_log`): a file is ingested when its path, size or
modification time is new. Writes replace exactly the rows of the files being ingested (`replaceWhere` on
`_source_file`), so a re-run after a crash cannot duplicate anything. Reconciliation per source and file:
rows read = rows kept + rows quarantined, printed and stored in `bronze.ingest_log`, and checked against the
rows the bronze and quarantine commits wrote (Delta's operation metrics). Sources are read and written side
by side (``run.parallelism``); every source's bad rows go to the quarantine in one commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from c360.config import C360Config, SourceConfig
from c360.errors import C360Error, ConfigError
from c360.frames import union_all
from c360.ingest.sources import (
    CORRUPT,
    SchemaGroup,
    raw_schema,
    raw_text,
    read_raw,
    schema_groups,
    source_files,
    validate_source,
    with_quarantine_reason,
)
from c360.io import files
from c360.io.delta import read_table, table_version, write_table
from c360.io.files import FileInfo
from c360.log import get_logger
from c360.parallel import map_concurrently
from c360.pipelines import JobContext
from c360.tables import TABLES, bronze_table

log = get_logger(__name__)
LOG = TABLES["bronze.ingest_log"]
QUARANTINE = TABLES["bronze.quarantine"]
#: bronze's own columns, after the raw ones
LINEAGE = ("_source_file", "_source_system", "_ingested_at", "_row_hash")


@dataclass(frozen=True)
class Plan:
    """One source's part of a run: its new files and the raw schema they are read with (read once)."""

    source: SourceConfig
    new: list[FileInfo]
    groups: list[SchemaGroup]  #: the new files, in groups read alike (CSV: by header line)


@dataclass
class Ingested:
    """What one source's bronze write did: rows per file, the commit's row count, the quarantined rows."""

    plan: Plan
    counts: dict[str, tuple[int, int]]
    written: int
    bad: DataFrame


class Seen:
    """What earlier runs ingested: the ingest log's files by source, and each bronze table's raw schema.

    Read from ``<system>/ingest/seen.json`` when that copy was written at the log's current version (and a
    schema at its bronze table's current version); else from the tables. A run with nothing new thus starts
    no Spark job: it lists the files and compares.
    """

    def __init__(self, spark: SparkSession, cfg: C360Config):
        self.spark, self.cfg = spark, cfg
        self.path = files.join(cfg.system_path, "ingest", "seen.json")
        self.log_version = table_version(spark, cfg, LOG)
        cached = json.loads(files.read_text(spark, self.path) or "{}")
        self.files: dict[str, set[tuple[str, int, int]]] = {}
        self.stale = self.log_version is None or cached.get("log_version") != self.log_version
        self.schemas: dict[str, dict] = {} if self.stale else cached.get("schemas", {})
        if not self.stale:
            self.files = {s: {tuple(f) for f in fs} for s, fs in cached["files"].items()}
        elif self.log_version is not None:  # the copy is older than the log: the log decides
            for r in read_table(spark, cfg, LOG).select("source_system", "_source_file", "file_size",
                                                        "file_mtime").collect():
                self.files.setdefault(r["source_system"], set()).add(
                    (r["_source_file"], r["file_size"], r["file_mtime"]))

    def schema(self, name: str) -> T.StructType | None:
        """The raw columns of ``bronze.<name>`` (None when there is no such table)."""
        spec = bronze_table(name)
        version = table_version(self.spark, self.cfg, spec)
        if version is None:
            return None
        cached = self.schemas.get(name)
        if cached and cached.get("version") == version:
            return T.StructType.fromJson(cached["schema"])
        self.stale = True
        schema = T.StructType([f for f in read_table(self.spark, self.cfg, spec).schema.fields
                               if f.name not in LINEAGE])
        self.schemas[name] = {"version": version, "schema": schema.jsonValue()}
        return schema

    def save(self, done: list[Ingested]) -> None:
        """After a run: the log's files and the written tables' schemas, at the tables' new versions."""
        for d in done:
            name = d.plan.source.name
            self.files.setdefault(name, set()).update((f.path, f.size, f.mtime) for f in d.plan.new)
            self.schemas.pop(name, None)
            self.schema(name)
        out = {"log_version": table_version(self.spark, self.cfg, LOG),
               "files": {s: sorted(fs) for s, fs in self.files.items()}, "schemas": self.schemas}
        files.write_text(self.spark, self.path, json.dumps(out))


def plan_source(spark: SparkSession, cfg: C360Config, source: SourceConfig, seen: Seen) -> Plan:
    """The source's new files, validated (SourceError, exit 2, before anything is written). With nothing new
    the mapping is checked against the bronze table's raw columns, so no file is opened."""
    found = source_files(spark, cfg, source)
    known = seen.files.get(source.name, set())
    new = [f for f in found if (f.path, f.size, f.mtime) not in known]
    if new:
        groups = schema_groups(spark, source, new)
        for group in groups:  # every header: a file that dropped a mapped column fails before anything is written
            validate_source(spark, source, group.schema, group.files[0].path)
        return Plan(source, new, groups)
    schema = seen.schema(source.name)
    if schema is not None:
        where = f"table {bronze_table(source.name).fqn}"
    else:
        schema, where = raw_schema(spark, source, found), found[0].path
    validate_source(spark, source, schema, where)
    return Plan(source, new, [])


def _in_files(column: str, files: list[FileInfo]) -> str:
    quoted = ", ".join("'" + f.path.replace("'", "\\'") + "'" for f in files)
    return f"{column} IN ({quoted})"


def split_good_bad(parsed_df: DataFrame, source: SourceConfig) -> tuple[DataFrame, DataFrame]:
    """Kept rows (raw columns + bronze lineage) and quarantined rows (raw text + reason)."""
    data_cols = [c for c in parsed_df.columns if c not in (CORRUPT, "_source_file", "_reason")]
    now = F.current_timestamp()
    good = (parsed_df.where(F.col("_reason").isNull())
            .select(*data_cols, "_source_file")
            .withColumn("_source_system", F.lit(source.name))
            .withColumn("_ingested_at", now)
            .withColumn("_row_hash", F.sha2(F.to_json(F.struct(*data_cols)), 256)))
    bad = (parsed_df.where(F.col("_reason").isNotNull())
           .select(F.lit(source.name).alias("source_system"), raw_text(parsed_df).alias("raw"),
                   F.col("_reason").alias("reason"), "_source_file")
           .withColumn("_row_hash", F.sha2(F.concat_ws("\u0001", "_source_file", "raw"), 256))
           .withColumn("_ingested_at", now))
    return good, bad


def ingest_source(spark: SparkSession, cfg: C360Config, plan: Plan) -> Ingested:
    """The new files' good rows into ``bronze.<source>`` (replacing exactly those files' rows); the bad rows
    kept aside (cached) for the run's one quarantine write."""
    source = plan.source
    parsed = with_quarantine_reason(read_raw(spark, source, plan.groups), source).persist()
    try:
        good, bad = split_good_bad(parsed, source)
        metrics = write_table(spark, cfg, bronze_table(source.name), good, mode="overwrite",
                              replace_where=_in_files("_source_file", plan.new))
        counts = {r["_source_file"]: (r["read"], r["quarantined"]) for r in parsed.groupBy("_source_file").agg(
            F.count(F.lit(1)).alias("read"), F.count("_reason").alias("quarantined")).collect()}
        bad = bad.persist()
        bad.count()
    finally:
        parsed.unpersist()
    return Ingested(plan, counts, int(metrics.get("numOutputRows", 0)), bad)


def _quarantine(spark: SparkSession, cfg: C360Config, done: list[Ingested]) -> int:
    """Every source's bad rows in one write to bronze.quarantine, replacing the rows of the files ingested;
    returns the rows the commit wrote."""
    where = " OR ".join(f"(source_system = '{d.plan.source.name}' AND {_in_files('_source_file', d.plan.new)})"
                        for d in done)
    metrics = write_table(spark, cfg, QUARANTINE, union_all([d.bad for d in done]), mode="overwrite",
                          replace_where=where)
    return int(metrics.get("numOutputRows", 0))


def _log_rows(d: Ingested, run_id: str) -> list[dict]:
    rows = []
    for f in d.plan.new:
        read, quarantined = d.counts.get(f.path, (0, 0))
        rows.append({"run_id": run_id, "source_system": d.plan.source.name, "_source_file": f.path,
                     "file_size": f.size, "file_mtime": f.mtime, "rows_read": read,
                     "rows_kept": read - quarantined, "rows_quarantined": quarantined})
    return rows


def reconcile(done: list[Ingested], quarantined_written: int) -> None:
    """Rows read = rows kept + rows quarantined, against what the Delta commits wrote (their operation
    metrics: the rows each bronze overwrite and the quarantine overwrite put in the table)."""
    for d in done:
        read = sum(r for r, _ in d.counts.values())
        bad = sum(q for _, q in d.counts.values())
        if d.written != read - bad:
            raise C360Error(f"reconciliation failed for source '{d.plan.source.name}': read {read}, quarantined "
                            f"{bad}, but bronze.{d.plan.source.name} was written {d.written} rows "
                            f"(expected {read - bad})")
        log.info(f"{d.plan.source.name}: reconciled", files=len(d.plan.new), read=read, kept=d.written,
                 quarantined=bad)
    expected = sum(q for d in done for _, q in d.counts.values())
    if quarantined_written != expected:
        raise C360Error(f"reconciliation failed: {expected} rows were quarantined but bronze.quarantine was "
                        f"written {quarantined_written}")


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    sources = cfg.enabled_sources
    if not sources:
        raise ConfigError("no sources to ingest: map your systems in a sources.yml and pass its folder with "
                          "--conf DIR (the sample company: `c360 generate --out DIR`, then --conf DIR)")
    # validate every source before writing anything
    seen = Seen(spark, cfg)
    plans = map_concurrently(lambda s: plan_source(spark, cfg, s, seen), sources, cfg.run.parallelism)
    for p in plans:
        if not p.new:
            log.info(f"{p.source.name}: nothing new")
    todo = [p for p in plans if p.new]
    run_id = ctx.run_id
    done = map_concurrently(lambda p: ingest_source(spark, cfg, p), todo, cfg.run.parallelism)
    log_rows = [r for d in done for r in _log_rows(d, run_id)]
    if done:
        try:
            reconcile(done, _quarantine(spark, cfg, done))
        finally:
            for d in done:
                d.bad.unpersist()
        log_df = spark.createDataFrame(log_rows, LOG.ddl(without=("_ingested_at",))).withColumn(
            "_ingested_at", F.current_timestamp())
        write_table(spark, cfg, LOG, log_df)
    if done or seen.stale:
        seen.save(done)
    return {"run_id": run_id, "files": len(log_rows), "rows_read": sum(r["rows_read"] for r in log_rows),
            "rows_quarantined": sum(r["rows_quarantined"] for r in log_rows)}
