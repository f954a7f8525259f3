"""The scorecard's numbers: each function takes DataFrames and returns a small pandas frame (a few hundred rows
at most, whatever the data's size: distributions are binned in Spark, never collected row by row)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MONEY = ("net_revenue", "gross_margin", "profit", "cost_to_serve", "clv")


def totals(c360_df: DataFrame) -> dict:
    """Customers, buyers and the money columns summed over every customer."""
    money = [c for c in MONEY if c in c360_df.columns]
    aggs = [F.count(F.lit(1)).alias("customers")]
    if "frequency" in c360_df.columns:
        aggs.append(F.sum((F.col("frequency") > 0).cast("int")).alias("buyers"))
    aggs += [F.sum(c).alias(c) for c in money]
    row = c360_df.agg(*aggs).first().asDict()
    return {k: (float(v) if isinstance(v, float) else v) for k, v in row.items()}


def by_group(c360_df: DataFrame, group: str) -> pd.DataFrame:
    """Customers and the money columns (sum) per value of ``group`` (segment, lifecycle stage, value tier)."""
    money = [c for c in MONEY if c in c360_df.columns]
    return (c360_df.groupBy(F.coalesce(F.col(group).cast("string"), F.lit("(none)")).alias(group))
            .agg(F.count(F.lit(1)).alias("customers"), *[F.round(F.sum(c), 2).alias(c) for c in money])
            .orderBy(F.desc("customers")).toPandas())


def lifecycle_movement(orders_df: DataFrame, as_of: dt.date, months: int, step_days: int,
                       new_days: int = 90, active_days: int = 180, lost_days: int = 365) -> pd.DataFrame:
    """Customers per status at each point in time (every ``step_days`` over ``months`` months to as_of): new
    (first order within ``new_days``), active (an order within ``active_days``), lapsed (the latest order
    ``active_days`` to ``lost_days`` ago), lost (longer). ``orders_df``: ``(customer_id, order_ts)``."""
    spark = orders_df.sparkSession
    n = max(1, int(months * 30.44 // step_days))
    points = spark.createDataFrame([(as_of - dt.timedelta(days=step_days * i),) for i in range(n, -1, -1)],
                                   "point date")
    per = orders_df.select("customer_id", F.to_date("order_ts").alias("day"))
    per = per.distinct()  # one row per order day
    joined = per.join(F.broadcast(points), per["day"] <= points["point"])
    spans = joined.groupBy("point", "customer_id").agg(F.min("day").alias("first"), F.max("day").alias("last"))
    since_first = F.datediff("point", "first")
    since_last = F.datediff("point", "last")
    status = (F.when(since_first < new_days, "new").when(since_last < active_days, "active")
              .when(since_last < lost_days, "lapsed").otherwise("lost"))
    out = spans.groupBy("point", status.alias("status")).count().orderBy("point", "status").toPandas()
    return out.pivot(index="point", columns="status", values="count").fillna(0).reindex(
        columns=[c for c in ("new", "active", "lapsed", "lost")], fill_value=0).reset_index()


def rfm_grid(c360_df: DataFrame) -> pd.DataFrame:
    """Customers and mean net spend per (R score, F score) among buyers."""
    return (c360_df.where(F.col("r_score").isNotNull()).groupBy("r_score", "f_score")
            .agg(F.count(F.lit(1)).alias("customers"), F.round(F.avg("monetary"), 2).alias("mean_monetary"))
            .orderBy("r_score", "f_score").toPandas())


def histogram(df: DataFrame, column: str, bins: int = 30, lo: float | None = None,
              hi: float | None = None) -> pd.DataFrame:
    """``(left, right, count)`` of ``column`` over ``bins`` equal bins between lo and hi (default: the 1st and
    99th percentiles, so one outlier does not squash the chart; values outside fall in the end bins)."""
    values = df.where(F.col(column).isNotNull())
    if lo is None or hi is None:
        q = values.approxQuantile(column, [0.01, 0.99], 0.001)
        if not q:
            return pd.DataFrame(columns=["left", "right", "count"])
        lo, hi = (q[0] if lo is None else lo), (q[1] if hi is None else hi)
    width = (hi - lo) / bins if hi > lo else 1.0
    idx = F.least(F.greatest(F.floor((F.col(column) - lo) / width), F.lit(0)), F.lit(bins - 1)).cast("int")
    counts = dict(values.groupBy(idx.alias("b")).count().collect())
    return pd.DataFrame({"left": [lo + i * width for i in range(bins)],
                         "right": [lo + (i + 1) * width for i in range(bins)],
                         "count": [counts.get(i, 0) for i in range(bins)]})


def counts(df: DataFrame, *cols: str) -> pd.DataFrame:
    """Rows per combination of ``cols`` (null shown as "(none)"), largest first."""
    keys = [F.coalesce(F.col(c).cast("string"), F.lit("(none)")).alias(c) for c in cols]
    return df.groupBy(*keys).count().orderBy(F.desc("count"), *cols).toPandas()


def latest_metrics(metrics_df: DataFrame, model: str) -> dict | None:
    """The metrics (parsed) of the latest row of ``model`` in gold.model_metrics."""
    row = (metrics_df.where(F.col("model") == model).orderBy(F.desc("trained_at"), F.desc("version"))
           .select("version", "metrics").first())
    return {"version": row["version"], **json.loads(row["metrics"])} if row else None


def campaign_performance(responses_df: DataFrame, by: str) -> pd.DataFrame:
    """Sends, response rate (any answer) and conversion (accepted) per ``by`` (campaign_id, channel, offer)."""
    resp = F.lower(F.col("response"))
    return (responses_df.groupBy(F.coalesce(F.col(by), F.lit("(none)")).alias(by))
            .agg(F.count(F.lit(1)).alias("sent"),
                 F.round(F.avg(resp.isin("accepted", "declined").cast("double")), 4).alias("response_rate"),
                 F.round(F.avg((resp == "accepted").cast("double")), 4).alias("conversion_rate"))
            .orderBy(F.desc("sent")).toPandas())


def web_by_channel(sessions_df: DataFrame) -> pd.DataFrame:
    """Sessions, conversion (a purchase) and cart abandonment (abandoned / sessions with a cart) per channel,
    bots left out."""
    s = sessions_df.where(~F.coalesce(F.col("is_bot"), F.lit(False)))
    carted = F.col("cart_adds") > 0 if "cart_adds" in s.columns else F.col("is_abandoned_cart")
    return (s.groupBy(F.coalesce("channel", F.lit("(none)")).alias("channel"))
            .agg(F.count(F.lit(1)).alias("sessions"),
                 F.round(F.avg(F.col("has_purchase").cast("double")), 4).alias("conversion_rate"),
                 F.round(F.sum(F.col("is_abandoned_cart").cast("double")) /
                         F.greatest(F.sum(carted.cast("double")), F.lit(1.0)), 4).alias("abandonment_rate"))
            .orderBy(F.desc("sessions")).toPandas())


def identity_summary(person_df: DataFrame, golden_df: DataFrame, edges_df: DataFrame | None,
                     xref_df: DataFrame) -> dict:
    """Records in, customers out, merge rate, review edges and customers flagged oversized."""
    records = person_df.count()
    customers = golden_df.count()
    out = {"records_in": records, "customers_out": customers,
           "merge_rate": round(1 - customers / records, 4) if records else None}
    if edges_df is not None:
        out["review_edges"] = edges_df.where(F.col("decision") == "review").count()
        out["match_edges"] = edges_df.where(F.col("decision") == "match").count()
    if "cluster_status" in xref_df.columns:
        flagged = (xref_df.where(F.col("record_type") == "person").where(F.col("cluster_status") != "ok")
                   .groupBy("cluster_status").agg(F.countDistinct("customer_id").alias("n")).collect())
        out["clusters_flagged"] = {r["cluster_status"]: r["n"] for r in flagged}
    return out


def cluster_sizes(golden_df: DataFrame) -> pd.DataFrame:
    """Customers per number of merged source records."""
    return golden_df.groupBy("record_count").count().orderBy("record_count").toPandas()


def latest_quality(results_df: DataFrame) -> pd.DataFrame:
    """The newest result of each (table, expectation): what the gates say now."""
    from pyspark.sql import Window  # noqa: PLC0415

    w = Window.partitionBy("table_name", "expectation").orderBy(F.desc("checked_at"))
    return (results_df.withColumn("_n", F.row_number().over(w)).where("_n = 1").drop("_n")
            .select("table_name", "expectation", "severity", "success", "observed", "checked_at")
            .orderBy("success", "table_name", "expectation").toPandas())
