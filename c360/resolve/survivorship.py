"""Golden record per customer: per attribute family, one winning record chosen by a rule from conf.

Rules (``resolve.survivorship`` in conf): ``source_priority`` (system of record: the family's ``sources``
order, else each source's ``priority``), ``most_recent`` (latest ``updated_at``), ``most_complete`` (most
of the family's attributes present), ``most_frequent`` (the value most records of the customer agree on).
Only records that have the family's first attribute compete; ties fall to recency, then source priority,
then the record key, so the result is deterministic. All attributes of a family come from the same
record (an address is never stitched from two). ``lineage`` maps every attribute to the winning source,
record, rule and that record's ``updated_at``.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.config import C360Config, SurvivorshipRule


def _source_rank(rule: SurvivorshipRule, cfg: C360Config) -> Column:
    order = rule.sources or [s.name for s in sorted(cfg.enabled_sources, key=lambda s: s.priority)]
    expr = F.lit(len(order) + 1000)
    for i, name in reversed(list(enumerate(order))):
        expr = F.when(F.col("source_system") == name, F.lit(i)).otherwise(expr)
    return expr


def _winner(records: DataFrame, rule: SurvivorshipRule, cfg: C360Config) -> DataFrame:
    first = rule.attributes[0]
    cand = records.where(F.col(first).isNotNull()).withColumn("_src_rank", _source_rank(rule, cfg))
    recency = [F.col("updated_at").desc_nulls_last()]
    tail = [F.col("source_priority").asc_nulls_last(), F.col("rk")]
    if rule.rule == "source_priority":
        order = [F.col("_src_rank"), *recency, *tail]
    elif rule.rule == "most_recent":
        order = [*recency, F.col("_src_rank"), *tail]
    elif rule.rule == "most_complete":
        present = reduce(lambda a, b: a + b, [F.col(a).isNotNull().cast("int") for a in rule.attributes])
        cand = cand.withColumn("_present", present)
        order = [F.col("_present").desc(), *recency, F.col("_src_rank"), *tail]
    else:  # most_frequent
        cand = cand.withColumn("_freq", F.count(F.lit(1)).over(Window.partitionBy("customer_id", first)))
        order = [F.col("_freq").desc(), *recency, F.col("_src_rank"), *tail]
    w = Window.partitionBy("customer_id").orderBy(*order)
    best = cand.withColumn("_rn", F.row_number().over(w)).where("_rn = 1")
    lineage = F.struct(F.col("source_system"), F.col("source_record_id"), F.lit(rule.rule).alias("rule"),
                       F.col("updated_at"))
    return best.select("customer_id", *[F.col(a) for a in rule.attributes],
                       lineage.alias(f"_lineage_{rule.family}"))


def golden_records(records: DataFrame, cfg: C360Config) -> DataFrame:
    """``records``: silver.person rows with ``customer_id``, ``rk`` -> one row per customer."""
    base = records.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("record_count"),
        F.array_sort(F.collect_set("source_system")).alias("sources"),
        F.min("updated_at").alias("first_seen_at"),
        F.max("updated_at").alias("last_updated_at"))
    out = base
    entries = []
    for rule in cfg.resolve.survivorship:
        attrs = [a for a in rule.attributes if a in records.columns]
        if not attrs:
            continue
        rule = rule.model_copy(update={"attributes": attrs})
        out = out.join(_winner(records, rule, cfg), "customer_id", "left")
        for a in attrs:
            entries += [F.lit(a), F.col(f"_lineage_{rule.family}")]
    lineage_cols = [c for c in out.columns if c.startswith("_lineage_")]
    out = out.withColumn("lineage", F.map_filter(F.create_map(*entries), lambda k, v: v.isNotNull())
                         if entries else F.lit(None))
    return out.drop(*lineage_cols)
