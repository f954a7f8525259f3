"""Lookalike acquisition: prospects, and the rows a model learns from to find people like a seed audience.

Prospects are third-party enrichment records that belong to no customer: their name-and-postcode key (as
features links enrichment to customers) matches no customer's person records. A key shared by customers is a
customer's, never a prospect. The model reads the same attributes of customers (gold.customer_360: the
enrichment linked to them) and of prospects, so it scores both alike.
"""

from __future__ import annotations

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.features.customer import enrichment_key, enrichment_owners
from c360.standardize import columns as SC


def prospects(enrichment_df: DataFrame, person_xref: DataFrame, region_sql: str) -> DataFrame:
    """``silver.prospects``: the latest enrichment record per source record whose key matches no customer, with
    its attributes and ``region`` (``region_sql`` over the normalised postcode). Records without a complete key
    cannot be told from a customer's and are left out."""
    keyed = enrichment_df.select("*", *enrichment_key(enrichment_df))
    owners = enrichment_owners(person_xref).select("_f", "_l", "_p")
    out = (keyed.where("_f IS NOT NULL AND _l IS NOT NULL AND _p IS NOT NULL")
           .join(owners, ["_f", "_l", "_p"], "left_anti"))
    return with_region(out.withColumn("postcode", F.col("_p")), region_sql).select(
        "source_system", "source_record_id", "first_name", "last_name", "postcode", "region", "occupation",
        "income_band", "household_size", "home_value", "updated_at")


def with_region(df: DataFrame, region_sql: str) -> DataFrame:
    """``region``: ``region_sql`` evaluated on the row's normalised postcode."""
    normalised = df.withColumn("_postcode_raw", F.col("postcode")).withColumn(
        "postcode", SC.normalize_postcode(F.col("postcode")))
    return (normalised.withColumn("region", F.expr(region_sql).cast("string"))
            .withColumn("postcode", F.col("_postcode_raw")).drop("_postcode_raw"))


def training_rows(customers_df: DataFrame, is_seed: str, attributes: list[str]) -> DataFrame:
    """``(customer_id, label, attributes...)``: customers with at least one of the attributes known, labelled 1
    when the seed audience's selection (``is_seed``, Spark SQL) holds for them."""
    known = F.lit(False)
    for a in attributes:
        known = known | F.col(a).isNotNull()
    return customers_df.where(known).select(
        "customer_id", F.coalesce(F.expr(is_seed).cast("boolean"), F.lit(False)).cast("double").alias("label"),
        *attributes)


def lift(scores: np.ndarray, positive: np.ndarray, top: float = 0.1) -> float | None:
    """The share of positives among the ``top`` fraction of rows by score, over their share in all rows (ties
    broken by position: rows given in a fixed order). None without positives."""
    y = np.asarray(positive, float)
    n = len(y)
    if n == 0 or y.sum() == 0:
        return None
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    k = max(int(round(n * top)), 1)
    return float(y[order[:k]].mean() / y.mean())
