"""Audiences: selection, size cap, stratified test/control cells, response codes, campaign results.

A member's response code is ``<campaign>.<cell>.<offer>.<key>``: the campaign, the cell and the offer in
clear (``-`` for no offer) so that a response can be read without a lookup, and a key of 16 hexadecimal characters (64 bits) from a
SHA-256 of the seed, the campaign and the customer id, so that it names one member and does not reveal the
customer id. Campaign ids, cells and offers never hold a ``.`` (their names are letters, digits, ``_``, ``-``).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.config.models import CellConfig

SEP = "."
NO_OFFER = "-"


def capped(df: DataFrame, max_size: int | None, order_by: str) -> DataFrame:
    """The first ``max_size`` rows by ``order_by`` (Spark SQL ORDER BY items), ties by customer_id; every row
    when ``max_size`` is None. Adds ``audience_rank`` (1 = first)."""
    ranked = df.withColumn("audience_rank", F.expr(f"row_number() OVER (ORDER BY {order_by}, customer_id)"))
    return ranked if max_size is None else ranked.where(F.col("audience_rank") <= max_size)


def _draw(seed: int, campaign_id: str) -> Column:
    """A uniform, reproducible order of customers for one campaign."""
    return F.sha2(F.concat_ws("|", F.lit(str(seed)), F.lit(campaign_id), F.col("customer_id")), 256)


def with_cells(df: DataFrame, cells: list[CellConfig], seed: int, campaign_id: str,
               stratify_by: str | None) -> DataFrame:
    """``df`` with ``cell``, ``is_control`` and ``stratum``: within each stratum (a value of ``stratify_by``;
    null is a stratum of its own), customers in the order of a hash of (seed, campaign, customer id) are cut
    into the cells by their shares, so every stratum is split in the cells' proportions (to within one customer)
    and the same seed and campaign give the same split whatever the order or partitioning of the rows."""
    stratum = (F.coalesce(F.col(stratify_by).cast("string"), F.lit("(none)")) if stratify_by
               else F.lit("(all)"))
    w = Window.partitionBy("stratum").orderBy(_draw(seed, campaign_id), "customer_id")
    pos = (F.row_number().over(w) - F.lit(0.5)) / F.count(F.lit(1)).over(Window.partitionBy("stratum"))
    cell, control, bound = None, None, 0.0
    for c in cells[:-1]:
        bound += c.share
        cell = (F.when(pos < bound, F.lit(c.name)) if cell is None else cell.when(pos < bound, F.lit(c.name)))
        control = (F.when(pos < bound, F.lit(c.control)) if control is None
                   else control.when(pos < bound, F.lit(c.control)))
    last = cells[-1]
    cell = F.lit(last.name) if cell is None else cell.otherwise(F.lit(last.name))
    control = F.lit(last.control) if control is None else control.otherwise(F.lit(last.control))
    return (df.withColumn("stratum", stratum).withColumn("_pos", pos)
            .withColumn("cell", cell).withColumn("is_control", control).drop("_pos"))


def response_code(campaign_id: str, seed: int, cell: Column, offer_id: Column) -> Column:
    """``<campaign>.<cell>.<offer or ->.<key>`` (module docstring)."""
    key = F.upper(F.substring(F.sha2(F.concat_ws("|", F.lit(str(seed)), F.lit(campaign_id),
                                                   F.col("customer_id")), 256), 1, 16))
    return F.concat_ws(SEP, F.lit(campaign_id), cell, F.coalesce(offer_id, F.lit(NO_OFFER)), key)


def parse_response_code(code: Column) -> dict[str, Column]:
    """The campaign, cell and offer a response code names (null parts for a code not of four parts)."""
    parts = F.split(F.trim(code), r"\.")
    ok = F.size(parts) == 4

    def part(i: int) -> Column:
        return F.when(ok & (F.length(parts[i]) > 0), parts[i])
    offer = part(2)
    return {"campaign_id": part(0), "cell": part(1), "offer": F.when(offer != NO_OFFER, offer)}


def with_offer(df: DataFrame, offer: str | None, channel: str) -> DataFrame:
    """``offer_id``: the audience's offer, or with ``next_best`` each member's best offer on the channel
    (``next_best_offers`` of gold.customer_360, in rank order); null when none."""
    if offer is None:
        return df.withColumn("offer_id", F.lit(None).cast("string"))
    if offer != "next_best":
        return df.withColumn("offer_id", F.lit(offer))
    on_channel = F.filter("next_best_offers", lambda o: o["channel"] == F.lit(channel))
    return df.withColumn("offer_id", F.when(F.size(on_channel) > 0, on_channel[0]["offer_id"]))


def campaign_results(members_df: DataFrame, responses_df: DataFrame | None, orders_df: DataFrame | None,
                     attribution_days: int) -> DataFrame:
    """Per audience run and cell: ``members``, ``responses`` (responses carrying a member's code),
    ``accepted``, ``response_rate`` (accepted / members), ``converted`` (members with an order in
    (as_of, as_of + attribution_days]), ``conversion_rate`` and ``uplift``: the cell's conversion rate less that
    of the run's control cells (null for control cells, or without a control).

    ``members_df(audience, run_id, campaign_id, as_of, customer_id, cell, is_control, response_code)``,
    ``responses_df(response_code, response)``, ``orders_df(customer_id, order_ts)``."""
    m = members_df.select("audience", "run_id", "campaign_id", "as_of", "customer_id", "cell", "is_control",
                          "response_code")
    if responses_df is not None:
        r = (responses_df.where(F.col("response_code").isNotNull())
             .groupBy("response_code")
             .agg(F.lit(1).alias("_responded"),
                  F.max(F.when(F.lower("response") == "accepted", 1).otherwise(0)).alias("_accepted")))
        m = m.join(r, "response_code", "left")
    else:
        m = m.withColumn("_responded", F.lit(None).cast("int")).withColumn("_accepted", F.lit(None).cast("int"))
    if orders_df is not None:
        start = F.date_add(F.col("as_of"), 1).cast("timestamp")
        end = F.date_add(F.col("as_of"), attribution_days + 1).cast("timestamp")
        conv = (m.select("run_id", "customer_id", "as_of").distinct().join(orders_df, "customer_id")
                .where((F.col("order_ts") >= start) & (F.col("order_ts") < end))
                .select("run_id", "customer_id").distinct().withColumn("_converted", F.lit(1)))
        m = m.join(conv, ["run_id", "customer_id"], "left")
    else:
        m = m.withColumn("_converted", F.lit(None).cast("int"))
    cells = (m.groupBy("audience", "run_id", "campaign_id", "as_of", "cell", "is_control")
             .agg(F.count(F.lit(1)).alias("members"),
                  F.sum(F.coalesce("_responded", F.lit(0))).cast("long").alias("responses"),
                  F.sum(F.coalesce("_accepted", F.lit(0))).cast("long").alias("accepted"),
                  F.sum(F.coalesce("_converted", F.lit(0))).cast("long").alias("converted"))
             .withColumn("response_rate", F.col("accepted") / F.col("members"))
             .withColumn("conversion_rate", F.col("converted") / F.col("members")))
    control = (cells.where("is_control").groupBy("run_id")
               .agg((F.sum("converted") / F.sum("members")).alias("_control_rate")))
    return (cells.join(control, "run_id", "left")
            .withColumn("uplift", F.when(~F.col("is_control"), F.col("conversion_rate") - F.col("_control_rate")))
            .drop("_control_rate"))


def audience_run_id(campaign_id: str, as_of: dt.date) -> str:
    """A campaign's run on one day: ``<campaign>-<yyyymmdd>`` (re-running it that day replaces its members)."""
    return f"{campaign_id}-{as_of:%Y%m%d}"
