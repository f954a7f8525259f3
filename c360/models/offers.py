"""Next best offer: eligible offers per customer ranked by expected value ``P(accept) x value - cost``.

``P(accept)`` starts from a model (an offer's ``p_accept`` expression, or by kind) and is corrected by what
customers of the same segment did with the offer: per (offer, segment) a Beta prior whose mean ``m0`` is the
model's mean P(accept) in the segment and whose strength is ``prior_strength`` sends, updated with the
segment's sends ``n`` and acceptances ``a`` (Beta-Binomial): ``m1 = (k m0 + a) / (k + n)``. Each customer's
model probability is scaled by ``m1 / m0``, so the model still orders customers within a segment while the
segment's observed acceptance sets the level; every new round of responses moves ``m1``.

Pure transforms: the score job builds the customer rows (features, scores, cross-sell) and the responses.
"""

from __future__ import annotations

import datetime as dt

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.activation import suppression as S
from c360.config.models import OfferConfig
from c360.frames import union_all
from c360.log import get_logger

log = get_logger(__name__)


def response_offer(offer: OfferConfig) -> str:
    """The ``silver.campaign_responses.offer`` whose sends and acceptances update this offer."""
    return offer.response_offer or offer.id


def default_p_accept(offer: OfferConfig, propensity_keys: set[str]) -> str:
    """The model's P(accept) by kind, as Spark SQL over the customer row."""
    if offer.p_accept:
        return offer.p_accept
    if offer.kind == "category":
        return f"coalesce(propensity['{offer.category}'], {offer.base_rate})"
    if offer.kind == "cross-sell":
        return "cross_sell_confidence"
    key = f"offer:{response_offer(offer)}"
    return f"coalesce(propensity['{key}'], {offer.base_rate})" if key in propensity_keys else str(offer.base_rate)


def acceptance(responses_df: DataFrame, segments_df: DataFrame, offers: list[OfferConfig]) -> DataFrame:
    """``(offer_id, segment, sends, accepts)``: per offer of the catalogue and customer segment, the campaign
    sends of its response offer and how many were accepted. ``responses_df(customer_id, offer, response)``,
    ``segments_df(customer_id, segment)``."""
    spark = responses_df.sparkSession
    mapping = spark.createDataFrame([(o.id, response_offer(o)) for o in offers] or [("", "")],
                                    "offer_id string, offer string")
    return (responses_df.join(F.broadcast(mapping), "offer").join(segments_df, "customer_id")
            .groupBy("offer_id", "segment")
            .agg(F.count(F.lit(1)).alias("sends"),
                 F.count(F.when(F.lower("response") == "accepted", 1)).alias("accepts")))


def candidates(customers_df: DataFrame, offers: list[OfferConfig], segment_col: str,
               propensity_keys: set[str]) -> DataFrame:
    """``(customer_id, segment, offer_id, kind, p_model, value, cost, channel, detail)``: one row per customer
    and offer they are eligible for. An offer whose expressions name a column the customer rows lack is
    left out (logged), not failed."""
    parts = []
    for o in offers:
        p_sql = default_p_accept(o, propensity_keys)
        detail = _detail(o)
        try:
            part = (customers_df.where(F.expr(o.eligibility))
                    .select("customer_id", F.col(segment_col).cast("string").alias("segment"),
                            F.lit(o.id).alias("offer_id"), F.lit(o.kind).alias("kind"),
                            F.expr(p_sql).cast("double").alias("p_model"),
                            F.expr(str(o.value)).cast("double").alias("value"),
                            F.lit(float(o.cost)).alias("cost"), F.lit(o.channel).alias("channel"),
                            detail.alias("detail")))
        except AnalysisException as e:
            log.warning(f"offer '{o.id}' left out: its expressions do not resolve on the customer rows",
                        error=str(e).splitlines()[0][:200])
            continue
        parts.append(part)
    if not parts:
        return None
    return union_all(parts).where(F.col("p_model").isNotNull() & F.col("value").isNotNull())


def _detail(o: OfferConfig) -> Column:
    if o.kind == "cross-sell":
        return F.concat(F.lit("cross-sell "), F.coalesce(F.col("cross_sell_product"), F.lit("?")))
    if o.kind == "category":
        return F.lit(f"{o.category} propensity")
    if o.kind == "retention":
        return F.concat(F.lit("retention: churn risk "), F.coalesce(F.col("churn_risk"), F.lit("unknown")))
    return F.lit(f"campaign {response_offer(o)}")


def rank(candidates_df: DataFrame, acceptance_df: DataFrame, prior_strength: float, top_n: int) -> DataFrame:
    """``(customer_id, rank, offer_id, expected_value, p_accept, channel, reason)``: the top ``top_n`` offers
    per customer with a positive expected value, P(accept) corrected by the Beta-Binomial posterior of the
    customer's segment (module docstring). Ties by offer id."""
    k = F.lit(float(prior_strength))
    seg = Window.partitionBy("offer_id", "segment")
    df = (candidates_df.withColumn("_m0", F.avg("p_model").over(seg))
          .join(acceptance_df, ["offer_id", "segment"], "left")
          .fillna(0, subset=["sends", "accepts"])
          .withColumn("_m1", (k * F.col("_m0") + F.col("accepts")) / (k + F.col("sends")))
          .withColumn("p_accept", F.least(F.lit(1.0), F.greatest(F.lit(0.0), F.when(
              F.col("_m0") > 0, F.col("p_model") * F.col("_m1") / F.col("_m0")).otherwise(F.col("_m1")))))
          .withColumn("expected_value", F.col("p_accept") * F.col("value") - F.col("cost"))
          .where(F.col("expected_value") > 0))
    reason = F.format_string("%s: P(accept) %.3f (model %.3f; segment %s accepted %d of %d sends) x value %.2f "
                             "- cost %.2f", F.col("detail"), F.col("p_accept"), F.col("p_model"),
                             F.coalesce(F.col("segment"), F.lit("none")), F.col("accepts"), F.col("sends"),
                             F.col("value"), F.col("cost"))
    order = Window.partitionBy("customer_id").orderBy(F.desc("expected_value"), "offer_id")
    return (df.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= top_n)
            .select("customer_id", F.col("rank").cast("int"), "offer_id",
                    F.round("expected_value", 4).alias("expected_value"), F.round("p_accept", 5).alias("p_accept"),
                    "channel", reason.alias("reason")))


def may_market(customers_df: DataFrame, unknown_consent: str = "allow"):
    """The condition of customers a marketing contact may reach: marketing consent given (an unknown consent,
    null, counts as ``unknown_consent`` says); every customer when the rows carry no consent at all."""
    if "marketing_consent" not in customers_df.columns:
        return F.lit(True)
    return S.consent_granted(F.col("marketing_consent"), unknown_consent)


def suppressions(customers_df: DataFrame, tickets_df: DataFrame | None, responses_df: DataFrame | None,
                 as_of: dt.date, cooldown_days: int, complaint_categories: list[str], open_status: list[str],
                 unknown_consent: str) -> DataFrame:
    """``(customer_id, suppressed_by)``: customers who get no offer, with the first reason: ``no_consent``
    (marketing_consent false, or null when ``unknown_consent`` is suppress), ``open_complaint`` (a complaint
    ticket created by as_of whose status is open), ``cooldown`` (a campaign send within ``cooldown_days``
    up to as_of). The reasons are :mod:`c360.activation.suppression`'s, as audiences use them."""
    parts = []
    if "marketing_consent" in customers_df.columns:
        parts.append(S.no_consent(customers_df, F.col("marketing_consent"), unknown_consent))
    if tickets_df is not None:
        parts.append(S.open_complaint(tickets_df, as_of, complaint_categories, open_status))
    if responses_df is not None and cooldown_days > 0:
        parts.append(S.cooldown(responses_df, as_of, cooldown_days))
    return S.first_reason(S.all_reasons(parts, customers_df.sparkSession))
