"""Assemble ``gold.customer_360``: one row per customer of ``silver.golden_customer``.

Pure transforms (DataFrames in, DataFrame out); the publish job reads the inputs and writes the table. The
columns are those of the golden record (demographic, with lineage), of ``gold.customer_features``
(transactional, third-party, behavioural, social, segments, CLV), of ``gold.customer_scores`` and the scoring
date's next best offers and alerts, plus counts of source records and linked objects. Every column's meaning
is in the data dictionary (``c360/resources/dictionary.yml``).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

#: golden-record columns that are internal to survivorship and not published
GOLDEN_INTERNAL = ("rec_hash", "run_id")
#: columns left out of the content hash: they change on every run without the customer changing
VOLATILE = ("updated_at", "content_hash")


def source_counts(xref_df: DataFrame) -> DataFrame:
    """``(customer_id, source_records map<system, n>)``: the person records merged into each customer, per
    source system (record_type person of ``silver.customer_xref``)."""
    per = (xref_df.where(F.col("record_type") == "person").groupBy("customer_id", "source_system")
           .agg(F.count(F.lit(1)).alias("n")))
    return per.groupBy("customer_id").agg(
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("source_system", "n")))).alias("source_records"))


def object_counts(object_xref_df: DataFrame) -> DataFrame:
    """``(customer_id, linked_objects map<object_type, n>)``: orders, tickets, responses, social profiles and
    cookies linked to each customer (``silver.object_xref``)."""
    per = (object_xref_df.where(F.col("customer_id").isNotNull()).groupBy("customer_id", "object_type")
           .agg(F.count(F.lit(1)).alias("n")))
    return per.groupBy("customer_id").agg(
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("object_type", "n")))).alias("linked_objects"))


def offers_array(nbo_df: DataFrame) -> DataFrame:
    """``(customer_id, next_best_offers array<struct>, top_offer)``: a customer's offers in rank order."""
    item = F.struct("rank", "offer_id", "expected_value", "p_accept", "channel", "reason")
    return (nbo_df.groupBy("customer_id").agg(F.array_sort(F.collect_list(item)).alias("next_best_offers"))
            .withColumn("top_offer", F.col("next_best_offers")[0]["offer_id"]))


def alerts_array(alerts_df: DataFrame) -> DataFrame:
    """``(customer_id, open_alerts array<struct>, alert_count)``: the alerts that hold for each customer."""
    item = F.struct("severity", "alert", "action", "evidence")
    return (alerts_df.groupBy("customer_id").agg(F.array_sort(F.collect_list(item)).alias("open_alerts"))
            .withColumn("alert_count", F.size("open_alerts")))


def age_on(date_of_birth: Column, as_of: dt.date) -> Column:
    """Whole years from the birth date to ``as_of`` (null without a birth date)."""
    day = F.lit(as_of.isoformat()).cast("date")
    return F.floor(F.months_between(day, date_of_birth) / 12).cast("int")


def assemble(golden_df: DataFrame, features_df: DataFrame | None, parts: list[DataFrame], as_of: dt.date,
             scores_df: DataFrame | None = None) -> DataFrame:
    """One row per customer of the golden record, with the features (their ``as_of`` is the table's),
    the scores (``scores_as_of``) and every per-customer part (``customer_id`` + columns) left-joined on."""
    df = golden_df.drop(*[c for c in GOLDEN_INTERNAL if c in golden_df.columns])
    if "date_of_birth" in df.columns:
        df = df.withColumn("age", age_on(F.col("date_of_birth"), as_of))
    if "email" in df.columns or "phone" in df.columns:
        df = df.withColumn("is_email_contactable", _contactable("email", df.columns)) \
               .withColumn("is_phone_contactable", _contactable("phone", df.columns))
    if features_df is not None:
        df = df.join(features_df.drop("as_of"), "customer_id", "left")
    if scores_df is not None:
        df = df.join(scores_df.select("customer_id", F.col("as_of").alias("scores_as_of"), "churn_probability",
                                      "churn_risk", "propensity", "model_versions"), "customer_id", "left")
    for part in parts:
        df = df.join(part, "customer_id", "left")
    if "alert_count" in df.columns:
        df = df.fillna(0, subset=["alert_count"])
    return df.withColumn("as_of", F.lit(as_of.isoformat()).cast("date"))


def _contactable(col: str, columns: list[str]) -> Column:
    """A contact point on file and marketing consent given (consent unknown counts as not given)."""
    has = F.col(col).isNotNull() if col in columns else F.lit(False)
    consent = F.coalesce(F.col("marketing_consent"), F.lit(False)) if "marketing_consent" in columns else F.lit(False)
    return has & consent


def with_content_hash(df: DataFrame) -> DataFrame:
    """``content_hash``: SHA-256 of every column but the volatile ones, so a MERGE updates a row only when the
    customer's content changed (a re-run with nothing new changes nothing)."""
    cols = sorted(c for c in df.columns if c not in VOLATILE)
    return df.withColumn("content_hash", F.sha2(F.to_json(F.struct(*cols)), 256))


def ordered(df: DataFrame, order: list[str]) -> DataFrame:
    """The columns in the data dictionary's order (the reading order of the 360 groups); columns the
    dictionary does not know follow, by name."""
    known = [c for c in order if c in df.columns]
    return df.select(*known, *sorted(c for c in df.columns if c not in known))
