"""Stable ``customer_id`` across runs (:func:`assign_ids`): a cluster keeps the id most of its records had before;
when it holds records of several earlier customers (a merge) it keeps the id of the oldest and the others are
retired; a part split off an earlier customer, or a cluster of new records, gets a fresh id derived from its
smallest record key. Every created, merged and split id becomes an event for ``silver.customer_id_history``."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from c360.frames import empty_frame


def _fresh_id(key: F.Column, salt: F.Column | None = None) -> F.Column:
    text = key if salt is None else F.concat_ws("#", key, salt)
    return F.concat(F.lit("C"), F.upper(F.substring(F.sha2(text, 256), 1, 15)))


def assign_ids(clusters: DataFrame, previous: DataFrame | None, history: DataFrame | None,
               run_id: str) -> tuple[DataFrame, DataFrame]:
    """``clusters(id, cluster)`` + ``previous(id, customer_id)`` -> (``(id, customer_id)``, history events).

    ``history`` (``customer_id, event, at``) gives each id's age, to keep the oldest on a merge.
    """
    spark = clusters.sparkSession
    if previous is None:
        previous = empty_frame(spark, "id string, customer_id string")
    members = clusters.select("id", "cluster").join(previous.select("id", F.col("customer_id").alias("prev")), "id", "left")
    # which cluster inherits each earlier id: the one holding most of its records (then the smallest key)
    votes = members.where(F.col("prev").isNotNull()).groupBy("prev", "cluster").agg(F.count(F.lit(1)).alias("n"))
    best = Window.partitionBy("prev").orderBy(F.desc("n"), "cluster")
    claims = votes.withColumn("_r", F.row_number().over(best)).where("_r = 1").select("prev", "cluster")
    if history is not None:
        born = history.where(F.col("event").isin("created", "split")).groupBy("customer_id").agg(
            F.min("at").alias("born"))
        claims = claims.join(born.withColumnRenamed("customer_id", "prev"), "prev", "left")
    else:
        claims = claims.withColumn("born", F.lit(None).cast("timestamp"))
    oldest = Window.partitionBy("cluster").orderBy(F.col("born").asc_nulls_last(), "prev")
    ranked = claims.withColumn("_r", F.row_number().over(oldest))
    kept = ranked.where("_r = 1").select("cluster", F.col("prev").alias("kept"))
    retired = ranked.where("_r > 1").select("cluster", F.col("prev").alias("retired"))
    # clusters without an inherited id: a fresh id from the smallest record key (re-salted on collision)
    all_clusters = clusters.select("cluster").distinct().join(kept, "cluster", "left")
    issued = previous.select("customer_id")
    if history is not None:
        issued = issued.unionByName(history.select("customer_id"))
    issued = issued.distinct().withColumn("_taken", F.lit(True))
    fresh = all_clusters.where(F.col("kept").isNull()).withColumn("customer_id", _fresh_id(F.col("cluster")))
    fresh = (fresh.join(issued, "customer_id", "left")
             .withColumn("customer_id", F.when(F.col("_taken"), _fresh_id(F.col("cluster"), F.lit(run_id)))
                         .otherwise(F.col("customer_id"))).drop("_taken"))
    ids = (all_clusters.where(F.col("kept").isNotNull()).select("cluster", F.col("kept").alias("customer_id"))
           .unionByName(fresh.select("cluster", "customer_id"))).localCheckpoint()
    assigned = clusters.join(ids, "cluster").select("id", "customer_id")
    # history: created (no earlier id among its records), split (records came from an id kept elsewhere),
    # merged (an earlier id retired into this one)
    split_from = (members.where(F.col("prev").isNotNull()).join(fresh.select("cluster"), "cluster")
                  .groupBy("cluster").agg(F.min("prev").alias("related_id")))
    sizes = clusters.groupBy("cluster").agg(F.count(F.lit(1)).alias("record_count"))
    now = F.current_timestamp()
    created = (fresh.select("cluster", "customer_id").join(split_from, "cluster", "left")
               .select("cluster", "customer_id",
                       F.when(F.col("related_id").isNull(), F.lit("created")).otherwise(F.lit("split")).alias("event"),
                       F.coalesce("related_id", F.lit("")).alias("related_id")))
    merged = retired.join(ids, "cluster").select("cluster", "customer_id", F.lit("merged").alias("event"),
                                                 F.col("retired").alias("related_id"))
    events = (created.unionByName(merged).join(sizes, "cluster")
              .select("customer_id", "event", "related_id", F.lit(run_id).alias("run_id"), now.alias("at"),
                      "record_count"))
    return assigned, events
