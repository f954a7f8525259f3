"""Who must not be contacted, and why: one ``(customer_id, reason)`` row per customer and reason that holds.

Each reason is its own small transform; :func:`first_reason` keeps one reason per customer in a given order
(how the next best offer reports its suppressions), while an audience counts every reason that holds.
Reasons: ``no_consent``, ``no_contact``, ``erased``, ``open_complaint``, ``cooldown``, ``suppression_list``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.frames import union_all

REASONS = ("no_consent", "no_contact", "erased", "open_complaint", "cooldown", "suppression_list")
SCHEMA = "customer_id string, reason string"


def _rows(df: DataFrame, reason: str) -> DataFrame:
    return df.select(F.col("customer_id").cast("string"), F.lit(reason).alias("reason"))


def consent_granted(consent: Column, unknown_consent: str) -> Column:
    """True when the consent holds; an unknown (null) consent counts as ``unknown_consent`` says."""
    return F.coalesce(consent.cast("boolean"), F.lit(unknown_consent == "allow"))


def no_consent(customers_df: DataFrame, consent: Column, unknown_consent: str) -> DataFrame:
    """Customers whose ``consent`` is false (or null when ``unknown_consent`` is suppress)."""
    return _rows(customers_df.where(~consent_granted(consent, unknown_consent)), "no_consent")


def no_contact(customers_df: DataFrame, contact: Column) -> DataFrame:
    """Customers without a valid contact point for the channel (``contact`` false or null)."""
    return _rows(customers_df.where(~F.coalesce(contact.cast("boolean"), F.lit(False))), "no_contact")


def open_complaint(tickets_df: DataFrame, as_of: dt.date, complaint_categories: list[str],
                   open_status: list[str]) -> DataFrame:
    """Customers with a complaint ticket created by ``as_of`` whose status is open.
    ``tickets_df(customer_id, category, status, created_at)``."""
    end = F.lit((as_of + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    cats, status = [c.lower() for c in complaint_categories], [s.lower() for s in open_status]
    return _rows(tickets_df.where(F.lower("category").isin(cats) & F.lower("status").isin(status)
                                 & (F.col("created_at") < end)), "open_complaint")


def cooldown(contacts_df: DataFrame, as_of: dt.date, days: int) -> DataFrame:
    """Customers contacted (``contacts_df(customer_id, sent_at)``) within ``days`` days up to ``as_of``."""
    start = F.lit((as_of - dt.timedelta(days=days - 1)).isoformat()).cast("timestamp")
    end = F.lit((as_of + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    return _rows(contacts_df.where((F.col("sent_at") >= start) & (F.col("sent_at") < end)), "cooldown")


def listed(customers_df: DataFrame, list_df: DataFrame) -> DataFrame:
    """Customers whose email, phone or customer_id is on a suppression list (``list_df``: any of those columns,
    already normalised as standardize normalises them)."""
    parts = [customers_df.join(list_df.select(F.col(c).alias("_v")).where("_v IS NOT NULL").distinct(),
                               F.col(c) == F.col("_v"), "left_semi")
             for c in ("email", "phone", "customer_id") if c in list_df.columns and c in customers_df.columns]
    if not parts:
        return customers_df.sparkSession.createDataFrame([], SCHEMA)
    return _rows(union_all(parts), "suppression_list")


def erased(customers_df: DataFrame, tokens: set[str], token: Callable[[Column], Column]) -> DataFrame:
    """Customers whose customer_id, email or phone has a token among ``tokens`` (the keyed hashes
    ``c360 forget`` keeps of the people it erased: a source that exports them again does not bring them back
    into a campaign)."""
    if not tokens:
        return customers_df.sparkSession.createDataFrame([], SCHEMA)
    wanted = sorted(tokens)
    hit = F.lit(False)
    for c in ("customer_id", "email", "phone"):
        if c in customers_df.columns:
            hit = hit | F.coalesce(token(F.col(c)).isin(wanted), F.lit(False))
    return _rows(customers_df.where(hit), "erased")


def all_reasons(parts: list[DataFrame], spark) -> DataFrame:
    """Every ``(customer_id, reason)`` of ``parts``, once each."""
    if not parts:
        return spark.createDataFrame([], SCHEMA)
    return union_all(parts).where(F.col("customer_id").isNotNull()).distinct()


def first_reason(reasons_df: DataFrame, order: tuple[str, ...] = REASONS) -> DataFrame:
    """``(customer_id, suppressed_by)``: one row per suppressed customer, the first of its reasons in ``order``."""
    rank = F.array_position(F.array(*[F.lit(r) for r in order]), F.col("reason"))
    w = Window.partitionBy("customer_id").orderBy(rank, "reason")
    return (reasons_df.withColumn("_r", F.row_number().over(w)).where("_r = 1")
            .select("customer_id", F.col("reason").alias("suppressed_by")))
