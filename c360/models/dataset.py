"""Training rows, point in time: labels from the window after a cutoff, features as of the cutoff.

``churn_labels`` / ``category_labels`` / ``offer_labels`` look only at ``(cutoff, cutoff + horizon]``; the
features come from :func:`c360.pipelines.features.build` as of the cutoff, which reads nothing dated after
it. ``feature_columns`` picks the model inputs present in a features table (a store without clickstream,
tickets or campaigns simply has fewer).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

#: columns of gold.customer_features that are never model inputs
NOT_FEATURES = {"customer_id", "as_of", "first_order_date", "last_order_date", "label", "cutoff", "weight"}
NUMERIC = (T.IntegerType, T.LongType, T.DoubleType, T.FloatType, T.ShortType, T.BooleanType, T.DecimalType)
#: prefix of the per-category interest columns taken out of the category_interest map
INTEREST = "interest_"


def _window(ts: Column, cutoff: dt.date, horizon_days: int) -> Column:
    """``ts`` in ``(cutoff, cutoff + horizon]`` as whole days: after the cutoff's day, up to the last day's end."""
    start = F.lit((cutoff + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    end = F.lit((cutoff + dt.timedelta(days=horizon_days + 1)).isoformat()).cast("timestamp")
    return (ts >= start) & (ts < end)


def churn_labels(features_df: DataFrame, orders_df: DataFrame, cutoff: dt.date, horizon_days: int) -> DataFrame:
    """``(customer_id, label)``: 1.0 when a customer with at least one order by the cutoff made no purchase in
    the horizon, else 0.0. ``orders_df(customer_id, order_ts)`` holds the purchases that count."""
    buyers = features_df.where(F.col("frequency") > 0).select("customer_id")
    later = orders_df.where(_window(F.col("order_ts"), cutoff, horizon_days)).select("customer_id").distinct()
    return (buyers.join(later.withColumn("_bought", F.lit(1)), "customer_id", "left")
            .select("customer_id", F.when(F.col("_bought").isNull(), 1.0).otherwise(0.0).alias("label")))


def category_labels(features_df: DataFrame, purchases_df: DataFrame, cutoff: dt.date, horizon_days: int,
                    categories: list[str]) -> DataFrame:
    """``(customer_id, target, label)``: per customer with an order by the cutoff and per category, 1.0 when
    they bought a product of the category in the horizon. ``purchases_df(customer_id, order_ts, category)``."""
    buyers = features_df.where(F.col("frequency") > 0).select("customer_id")
    cats = buyers.sparkSession.createDataFrame([(c,) for c in categories], "target string")
    bought = (purchases_df.where(_window(F.col("order_ts"), cutoff, horizon_days))
              .select("customer_id", F.col("category").alias("target")).distinct().withColumn("_b", F.lit(1.0)))
    return (buyers.crossJoin(F.broadcast(cats)).join(bought, ["customer_id", "target"], "left")
            .select("customer_id", "target", F.coalesce("_b", F.lit(0.0)).alias("label")))


def offer_labels(responses_df: DataFrame, cutoff: dt.date, horizon_days: int) -> DataFrame:
    """``(customer_id, target, label)``: per customer sent a campaign offer in the horizon, 1.0 when they
    accepted it. ``responses_df(customer_id, offer, sent_at, response)``; target ``offer:<offer>``."""
    sent = responses_df.where(_window(F.col("sent_at"), cutoff, horizon_days) & F.col("offer").isNotNull())
    return (sent.groupBy("customer_id", F.concat(F.lit("offer:"), "offer").alias("target"))
            .agg(F.max((F.lower("response") == "accepted").cast("double")).alias("label")))


def top_categories(purchases_df: DataFrame, limit: int) -> list[str]:
    """The most bought categories (by distinct buying customers), at most ``limit``."""
    rows = (purchases_df.where(F.col("category").isNotNull()).groupBy("category")
            .agg(F.countDistinct("customer_id").alias("n")).orderBy(F.desc("n"), "category").limit(limit).collect())
    return [r["category"] for r in rows]


def with_interest_columns(features_df: DataFrame, categories: list[str]) -> DataFrame:
    """One ``interest_<category>`` column per category from the ``category_interest`` map (0 when absent)."""
    if "category_interest" not in features_df.columns:
        return features_df
    return features_df.select("*", *[F.coalesce(F.col("category_interest")[c], F.lit(0.0)).alias(INTEREST + c)
                                     for c in categories])


def feature_columns(features_df: DataFrame, exclude: list[str], categorical: list[str]) -> tuple[list[str], list[str]]:
    """The numeric and the categorical model inputs present in ``features_df``, in its column order."""
    numeric = [f.name for f in features_df.schema.fields
               if isinstance(f.dataType, NUMERIC) and f.name not in NOT_FEATURES and f.name not in exclude]
    cats = [c for c in categorical if c in features_df.columns and c not in exclude]
    return numeric, cats


def filter_informative(df: DataFrame, numeric: list[str]) -> tuple[list[str], list[str]]:
    """Split ``numeric`` into the columns with at least two distinct non-null values in ``df`` and the rest
    (all null or constant: nothing to learn, and an imputer cannot fill an all-null column)."""
    if not numeric:
        return [], []
    row = df.agg(*[F.countDistinct(F.col(c).cast("double")).alias(c) for c in numeric]).first()
    keep = [c for c in numeric if row[c] >= 2]
    return keep, [c for c in numeric if c not in keep]


def is_held_out(test_fraction: float, seed: int) -> Column:
    """True for the held-out customers: a seeded hash of the customer id, so a customer is on the same side
    at every cutoff and in every run."""
    bucket = F.pmod(F.xxhash64(F.lit(seed), F.col("customer_id")), F.lit(10_000))
    return bucket < F.lit(int(round(test_fraction * 10_000)))
