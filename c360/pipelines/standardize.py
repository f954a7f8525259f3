"""`c360 standardize`: bronze -> silver for every enabled source, through its `sources.yml` mapping.

Each source becomes rows of its kind's silver table (person sources -> `silver.person`, orders ->
`silver.orders`, ...), typed, cleaned and de-duplicated within the source (exact duplicates and replays:
the latest version of each key wins). Rows are upserted with MERGE on the table's keys; a matched row is
replaced only by a version at least as recent, so late-arriving old versions never win.
"""

from __future__ import annotations

from c360.frames import union_all
from c360.io.delta import read_optional, write_table
from c360.log import get_logger
from c360.parallel import map_concurrently
from c360.pipelines import JobContext
from c360.standardize.columns import nicknames_df
from c360.standardize.transforms import KIND_TABLE, standardize_source
from c360.tables import bronze_table, table

log = get_logger(__name__)
RECENCY = {"person": "updated_at", "enrichment": "updated_at", "social": "updated_at"}


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    nick = nicknames_df(spark)
    by_table: dict[str, list] = {}
    kinds: dict[str, str] = {}
    for source in cfg.enabled_sources:
        bronze = read_optional(spark, cfg, bronze_table(source.name))
        if bronze is None:
            log.warning(f"{source.name}: no bronze table yet (run `c360 ingest`), skipped")
            continue
        silver = KIND_TABLE[source.kind][0]
        by_table.setdefault(silver, []).append(standardize_source(bronze, source, cfg.standardize, nick))
        kinds[silver] = source.kind

    def write(name: str) -> tuple[str, dict]:
        recency = RECENCY.get(kinds[name])
        update_when = f"s.{recency} >= t.{recency} OR t.{recency} IS NULL OR s.{recency} IS NULL" if recency else None
        metrics = write_table(spark, cfg, table(name), union_all(by_table[name]), mode="merge",
                              update_when=update_when, check_unique=False)
        return name, metrics

    # the silver tables are independent: written side by side (run.parallelism)
    facts, rows_in = {}, 0
    for name, m in map_concurrently(write, list(by_table), cfg.run.parallelism):
        # a first write is a plain WRITE, later ones a MERGE: Delta's operation metrics count the rows either way
        source_rows = int(m.get("numSourceRows", m.get("numOutputRows", 0)))
        rows_in += source_rows
        facts[name] = {k: int(m[k]) for k in ("numOutputRows", "numTargetRowsInserted", "numTargetRowsUpdated")
                       if k in m}
        log.info(f"{name}: written", rows=source_rows, sources=len(by_table[name]), **facts[name])
    return {"tables": len(facts), "rows_in": rows_in}
