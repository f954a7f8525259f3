"""`c360 features [--as-of DATE]`: gold.customer_features, one row per customer_id.

Extract: the customers (``silver.golden_customer``), their orders, lines, tickets, social profiles and
campaign responses re-keyed through ``silver.object_xref``, enrichment linked by name + postcode, and web
sessions (``silver.web_sessions``). Everything after ``as_of`` is ignored; without ``--as-of`` it is the
date of the newest order (so a re-run on the same data gives the same table).

Transform (:mod:`c360.features.customer`, :mod:`c360.features.clv`): RFM, profitability and the 20/80
view, BG/NBD + Gamma-Gamma CLV (fitted on the driver from sufficient statistics aggregated in Spark, with
a calibration/holdout check), lifecycle stage, value tier, behaviour windows and interests, KMeans
behaviour segments named by their centroids, support and social sentiment (VADER), enrichment.

Load: overwrite ``gold.customer_features``; fits and diagnostics go to ``gold.model_metrics``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.features import customer as C
from c360.features import lifetime as LT
from c360.features.segments import behaviour_segments
from c360.io.delta import read_optional, read_table, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.tables import table

log = get_logger(__name__)


def _optional(ctx: JobContext, name: str) -> DataFrame | None:
    df = read_optional(ctx.spark, ctx.cfg, table(name))
    if df is None:
        log.warning(f"{name} not found: its features are left null")
    return df


@dataclass
class Built:
    """The features as of one date, before they are written: the table's rows, the fitted models' rows for
    ``gold.model_metrics`` and the run's facts."""

    features_df: DataFrame
    as_of: dt.date
    metric_rows: list[tuple]
    facts: dict
    cached: list[DataFrame]

    def release(self) -> None:
        for df in self.cached:
            df.unpersist()


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    t0 = time.perf_counter()
    built = build(ctx, ctx.as_of)
    write_table(spark, cfg, table("gold.customer_features"), built.features_df, mode="overwrite")
    feats = read_table(spark, cfg, table("gold.customer_features"))
    write_table(spark, cfg, table("gold.model_metrics"), spark.createDataFrame(
        built.metric_rows, table("gold.model_metrics").ddl()), mode="merge")
    stats = feats.agg(F.count(F.lit(1)).alias("customers"),
                      F.sum((F.col("frequency") > 0).cast("int")).alias("buyers")).first()
    built.release()
    facts = {**built.facts, "customers": stats["customers"], "buyers": stats["buyers"],
             "features_seconds": round(time.perf_counter() - t0, 1)}
    log.info("features: summary", **{k: v for k, v in facts.items() if not isinstance(v, dict)})
    return facts


def as_of_or_build(ctx: JobContext, as_of: dt.date) -> DataFrame:
    """gold.customer_features when it is as of ``as_of``, else built as of it (not written)."""
    current = read_optional(ctx.spark, ctx.cfg, table("gold.customer_features"))
    if current is not None and current.where(F.col("as_of") == F.lit(as_of.isoformat()).cast("date")).limit(1).count():
        return current
    log.info("features: building them as of the date", as_of=as_of.isoformat())
    return build(ctx, as_of).features_df.localCheckpoint()


def build(ctx: JobContext, as_of: dt.date | None) -> Built:
    """gold.customer_features as of ``as_of`` (default: the newest order's date), from nothing dated after it:
    the features job writes it; ``train`` builds it at each training cutoff."""
    spark, cfg = ctx.spark, ctx.cfg
    fc = cfg.features
    golden = read_table(spark, cfg, table("silver.golden_customer"))
    xref = read_table(spark, cfg, table("silver.object_xref")).cache()
    orders = C.rekeyed(_optional(ctx, "silver.orders"), "silver.orders", xref)
    if orders is None:
        raise C360Error("features: silver.orders does not exist; run `c360 standardize` and `c360 resolve` first")
    orders = orders.where(~F.coalesce(F.lower("status").isin([s.lower() for s in fc.excluded_order_status]),
                                      F.lit(False)))
    as_of = as_of or orders.agg(F.max(F.to_date("order_ts"))).first()[0]
    if as_of is None:
        raise C360Error("features: no orders; give --as-of")
    end = F.lit((as_of + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    orders = orders.where(F.col("order_ts") < end)
    lines = _optional(ctx, "silver.order_lines")
    orders = C.order_facts(orders.select("customer_id", "order_id", "order_ts", "amount"),
                           lines.select("order_id", "product_id", "quantity", "unit_price", "unit_cost", "discount",
                                        "is_returned") if lines is not None else None).cache()
    n_orders = orders.count()
    log.info("features: inputs", as_of=as_of.isoformat(), orders=n_orders)

    tickets = C.rekeyed(_optional(ctx, "silver.tickets"), "silver.tickets", xref)
    if tickets is not None:
        tickets = tickets.where(F.col("created_at") < end)
    social_df = C.rekeyed(_optional(ctx, "silver.social"), "silver.social", xref)
    responses = C.rekeyed(_optional(ctx, "silver.campaign_responses"), "silver.campaign_responses", xref)
    if responses is not None:
        responses = responses.where(F.col("sent_at") < end)
    sessions = _optional(ctx, "silver.web_sessions")
    products = _optional(ctx, "silver.products")
    person = read_table(spark, cfg, table("silver.person"))
    person_xref = person.join(read_table(spark, cfg, table("silver.customer_xref"))
                              .where("record_type = 'person'").select("source_system", "source_record_id",
                                                                      "customer_id"),
                              ["source_system", "source_record_id"])

    # ------------------------------------------------------------------ per-customer parts
    rfm = C.rfm(orders, as_of, fc.rfm)
    intervals = C.order_intervals(orders, as_of)
    profit = C.profitability(orders, tickets, fc.profitability).cache()
    pareto = C.contribution(profit, fc.profitability.top_share)
    summary = C.purchase_summary(orders, as_of).cache()
    bg, bg_diag = LT.fit_bgnbd(summary, fc.clv)
    gg, gg_diag = LT.fit_gamma_gamma(summary, fc.clv)
    totals = profit.agg(F.sum("net_revenue"), F.sum("gross_margin")).first()
    margin = fc.clv.margin_rate or (max(totals[1] / totals[0], 0.01) if totals[0] else 1.0)
    clv = LT.predict_clv(summary, bg, gg, margin, fc.clv)
    holdout = LT.holdout_check(orders, as_of, fc.clv) if fc.clv.holdout_days else None
    parts = [rfm, intervals, C.order_windows(orders, as_of, fc.order_windows_days), profit, clv]
    if sessions is not None:
        parts.append(C.behaviour(sessions, as_of, fc.windows_days))
    purchases = None
    if lines is not None:
        purchases = orders.select("customer_id", "order_id", "order_ts").join(
            lines.select("order_id", "product_id"), "order_id")
    inter = C.interests(sessions, purchases, products, as_of, fc)
    if inter is not None:
        parts.append(inter)
    if tickets is not None:
        parts.append(C.support(tickets, as_of, fc.complaint_categories))
    if social_df is not None:
        parts.append(C.social(social_df))
    if responses is not None:
        parts.append(C.campaigns(responses))
    enr = C.linked_enrichment(_optional(ctx, "silver.enrichment"), person_xref)
    if enr is not None:
        parts.append(enr)

    base = golden.select("customer_id")
    df = reduce(lambda a, b: a.join(b, "customer_id", "left"), parts, base)
    zero_fill = [c for c in ("frequency", "monetary", "gross_revenue", "net_revenue", "gross_margin", "profit",
                             "tickets", "complaints", "campaigns_received", "campaigns_accepted") if c in df.columns]
    zero_fill += [c for c in df.columns if c.startswith(("sessions_", "page_views_", "engaged_minutes_",
                                                         "purchase_sessions_", "orders_", "spend_"))]
    df = df.fillna(0, subset=zero_fill)
    df = df.withColumn("orders", F.col("frequency"))
    df = C.lifecycle(df, fc.lifecycle.stages, fc.lifecycle.default_stage)
    df = C.with_value_tier(df, "clv", fc.value_tiers)
    df = df.localCheckpoint()
    df, seg_info = behaviour_segments(df, fc.segments)
    df = df.withColumn("as_of", F.lit(as_of.isoformat()).cast("date")).drop("orders")

    version = f"as_of={as_of.isoformat()}"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clv_cfg = fc.clv.model_dump()
    rows = [
        ("bgnbd", version, now, json.dumps({**bg.as_dict(), **clv_cfg}), json.dumps({**bg_diag,
                                                                                    "holdout": holdout})),
        ("gamma_gamma", version, now, json.dumps({**gg.as_dict(), "margin_rate": margin}),
         json.dumps({**gg_diag, "mean_spend": gg.mean_spend})),
        ("profitability", version, now, json.dumps(fc.profitability.model_dump()), json.dumps(pareto)),
        ("behaviour_segments", version, now, json.dumps({"k": fc.segments.k, "seed": fc.segments.seed}),
         json.dumps(seg_info)),
    ]
    xref.unpersist()
    facts = {"as_of": as_of.isoformat(), "orders": n_orders,
             "top_profit_share": round(pareto["top_profit_share"] or 0, 4),
             "bgnbd": {k: round(float(v), 4) for k, v in bg.as_dict().items()},
             "holdout_predicted_vs_actual": [round(holdout["predicted_purchases"], 1),
                                             holdout["actual_purchases"]] if holdout else None}
    return Built(df, as_of, rows, facts, [orders, profit, summary])
