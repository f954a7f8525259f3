"""`c360 standardize`: bronze -> silver for every enabled source, through its `sources.yml` mapping.

Each source becomes rows of its kind's silver table (person sources -> `silver.person`, orders ->
`silver.orders`, ...), typed, cleaned and de-duplicated within the source (exact duplicates and replays:
the latest version of each key wins). Rows are upserted with MERGE on the table's keys; a matched row is
replaced only by a version at least as recent, so late-arriving old versions never win.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame

from c360.io.delta import exists, read_table, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.standardize.columns import nicknames_df
from c360.standardize.transforms import KIND_TABLE, standardize_source
from c360.tables import bronze_table, table

log = get_logger(__name__)
RECENCY = {"person": "updated_at", "enrichment": "updated_at", "social": "updated_at"}


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    nick = nicknames_df(spark)
    by_table: dict[str, list[DataFrame]] = {}
    kinds: dict[str, str] = {}
    for source in cfg.enabled_sources:
        spec = bronze_table(source.name)
        if not exists(spark, cfg, spec):
            log.warning(f"{source.name}: no bronze table yet (run `c360 ingest`), skipped")
            continue
        silver = KIND_TABLE[source.kind][0]
        by_table.setdefault(silver, []).append(
            standardize_source(read_table(spark, cfg, spec), source, cfg.standardize, nick))
        kinds[silver] = source.kind
    facts = {}
    for name, frames in by_table.items():
        df = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
        recency = RECENCY.get(kinds[name])
        update_when = f"s.{recency} >= t.{recency} OR t.{recency} IS NULL OR s.{recency} IS NULL" if recency else None
        write_table(spark, cfg, table(name), df, mode="merge", update_when=update_when, check_unique=False)
        facts[name] = read_table(spark, cfg, table(name)).count()
        log.info(f"{name}: written", rows=facts[name], sources=len(frames))
    return {"tables": len(facts)}
