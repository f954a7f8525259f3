"""`c360 ingest`: every enabled source into `bronze.<source>`; bad rows into `bronze.quarantine`.

Incremental through a file log (`bronze.ingest_log`): a file is ingested when its path, size or
modification time is new. Writes replace exactly the rows of the files being ingested (`replaceWhere` on
`_source_file`), so a re-run after a crash cannot duplicate anything. Reconciliation per source and file:
rows read = rows kept + rows quarantined, printed and stored in `bronze.ingest_log`.
"""

from __future__ import annotations

import uuid

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from c360.config import C360Config, SourceConfig
from c360.errors import C360Error, ConfigError
from c360.ingest.sources import (
    CORRUPT,
    raw_text,
    read_raw,
    validate_source,
    with_quarantine_reason,
)
from c360.io.delta import exists, read_table, write_table
from c360.io.files import FileInfo
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.tables import TABLES, bronze_table

log = get_logger(__name__)
LOG = TABLES["bronze.ingest_log"]
QUARANTINE = TABLES["bronze.quarantine"]


def _new_files(spark: SparkSession, cfg: C360Config, source: SourceConfig, files: list[FileInfo]) -> list[FileInfo]:
    if not exists(spark, cfg, LOG):
        return files
    seen = {(r["_source_file"], r["file_size"], r["file_mtime"]) for r in
            read_table(spark, cfg, LOG).where(F.col("source_system") == source.name)
            .select("_source_file", "file_size", "file_mtime").collect()}
    return [f for f in files if (f.path, f.size, f.mtime) not in seen]


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


def ingest_source(spark: SparkSession, cfg: C360Config, source: SourceConfig, files: list[FileInfo],
                  run_id: str) -> list[dict]:
    new = _new_files(spark, cfg, source, files)
    if not new:
        log.info(f"{source.name}: nothing new", files=len(files))
        return []
    parsed = with_quarantine_reason(read_raw(spark, source, new), source).persist()
    try:
        good, bad = split_good_bad(parsed, source)
        where = _in_files("_source_file", new)
        write_table(spark, cfg, bronze_table(source.name), good, mode="overwrite", replace_where=where)
        write_table(spark, cfg, QUARANTINE, bad, mode="overwrite",
                    replace_where=f"source_system = '{source.name}' AND {where}")
        counts = {r["_source_file"]: (r["read"], r["quarantined"]) for r in parsed.groupBy("_source_file").agg(
            F.count(F.lit(1)).alias("read"), F.count("_reason").alias("quarantined")).collect()}
    finally:
        parsed.unpersist()
    rows = []
    for f in new:
        read, quarantined = counts.get(f.path, (0, 0))
        rows.append({"run_id": run_id, "source_system": source.name, "_source_file": f.path, "file_size": f.size,
                     "file_mtime": f.mtime, "rows_read": read, "rows_kept": read - quarantined,
                     "rows_quarantined": quarantined})
    return rows


def _check_reconciliation(spark: SparkSession, cfg: C360Config, rows: list[dict]) -> None:
    """Rows read = rows kept + rows quarantined, checked against what the tables now hold."""
    by_source: dict[str, list[dict]] = {}
    for r in rows:
        by_source.setdefault(r["source_system"], []).append(r)
    quarantine = read_table(spark, cfg, QUARANTINE) if exists(spark, cfg, QUARANTINE) else None
    for name, src_rows in by_source.items():
        files = [FileInfo(r["_source_file"], 0, 0) for r in src_rows]
        kept = read_table(spark, cfg, bronze_table(name)).where(_in_files("_source_file", files)).count()
        quar = quarantine.where(F.col("source_system") == name).where(
            _in_files("_source_file", files)).count() if quarantine is not None else 0
        expected_kept = sum(r["rows_kept"] for r in src_rows)
        expected_quar = sum(r["rows_quarantined"] for r in src_rows)
        read = sum(r["rows_read"] for r in src_rows)
        if kept != expected_kept or quar != expected_quar:
            raise C360Error(f"reconciliation failed for source '{name}': read {read}, bronze holds {kept} "
                            f"(expected {expected_kept}), quarantine holds {quar} (expected {expected_quar})")
        log.info(f"{name}: reconciled", files=len(src_rows), read=read, kept=kept, quarantined=expected_quar)


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    sources = cfg.enabled_sources
    if not sources:
        raise ConfigError("no sources to ingest: map your systems in a sources.yml and pass its folder with "
                          "--conf DIR (the sample company: `c360 generate --out DIR`, then --conf DIR)")
    # validate every source before writing anything
    files = {s.name: validate_source(spark, cfg, s) for s in sources}
    run_id = uuid.uuid4().hex[:12]
    log_rows: list[dict] = []
    for source in sources:
        log_rows += ingest_source(spark, cfg, source, files[source.name], run_id)
    if log_rows:
        log_df = spark.createDataFrame(log_rows, LOG.ddl(without=("_ingested_at",))).withColumn("_ingested_at", F.current_timestamp())
        write_table(spark, cfg, LOG, log_df)
        _check_reconciliation(spark, cfg, log_rows)
    return {"run_id": run_id, "files": len(log_rows), "rows_read": sum(r["rows_read"] for r in log_rows),
            "rows_quarantined": sum(r["rows_quarantined"] for r in log_rows)}
