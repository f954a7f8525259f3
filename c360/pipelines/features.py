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
from functools import reduce

import numpy as np
import pandas as pd
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from c360.errors import C360Error
from c360.features import clv as CLV
from c360.features import customer as C
from c360.io.delta import read_optional, read_table, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.resolve.links import OBJECT_TABLES
from c360.standardize import columns as SC
from c360.tables import table

log = get_logger(__name__)


def _optional(ctx: JobContext, name: str) -> DataFrame | None:
    df = read_optional(ctx.spark, ctx.cfg, table(name))
    if df is None:
        log.warning(f"{name} not found: its features are left null")
    return df


def _rekeyed(ctx: JobContext, name: str, xref: DataFrame) -> DataFrame | None:
    """Rows of a silver object table with the ``customer_id`` that ``silver.object_xref`` gives them."""
    df = _optional(ctx, name)
    if df is None:
        return None
    object_type, id_col = OBJECT_TABLES[name]
    keys = (xref.where((F.col("object_type") == object_type) & F.col("customer_id").isNotNull())
            .select("source_system", F.col("object_id").alias(id_col), "customer_id"))
    return df.join(keys, ["source_system", id_col])


def _enrichment(ctx: JobContext, person_xref: DataFrame) -> DataFrame | None:
    """Third-party records linked to the one customer whose records have that first name, last name and
    postcode (keys as in resolve); a key shared by two customers is not linked."""
    enr = _optional(ctx, "silver.enrichment")
    if enr is None:
        return None
    key = [SC.name_key(F.col("first_name")).alias("_f"), SC.name_key(F.col("last_name")).alias("_l"),
           SC.normalize_postcode(F.col("postcode")).alias("_p")]
    owners = (person_xref.select(*key, "customer_id").where("_f IS NOT NULL AND _l IS NOT NULL AND _p IS NOT NULL")
              .groupBy("_f", "_l", "_p").agg(F.countDistinct("customer_id").alias("_n"),
                                              F.min("customer_id").alias("customer_id"))
              .where("_n = 1").drop("_n"))
    linked = enr.select(*key, "occupation", "income_band", "household_size", "home_value", "updated_at") \
        .join(owners, ["_f", "_l", "_p"])
    return (linked.groupBy("customer_id")
            .agg(F.max_by(F.struct("occupation", "income_band", "household_size", "home_value"), "updated_at")
                 .alias("_e"))
            .select("customer_id", "_e.*"))


def _fit_bgnbd(ctx: JobContext, summary: DataFrame) -> tuple[CLV.BGNBD, dict]:
    p = ctx.cfg.features.clv
    pats = summary.groupBy("x", "t_x_days", "T_days").count().toPandas()
    if pats.empty:
        raise C360Error("features: no orders before as_of to fit BG/NBD on")
    return CLV.fit_bgnbd(pats["x"], pats["t_x_days"] / p.period_days, pats["T_days"] / p.period_days,
                         pats["count"], p.penalizer)


def _fit_gamma_gamma(ctx: JobContext, summary: DataFrame) -> tuple[CLV.GammaGamma, dict]:
    spend = (summary.where("x > 0 AND repeat_mean_value > 0")
             .groupBy("x", F.round("repeat_mean_value", 2).alias("m")).count().toPandas())
    return CLV.fit_gamma_gamma(spend["x"], spend["m"], spend["count"], ctx.cfg.features.clv.penalizer)


def _holdout(ctx: JobContext, orders: DataFrame, as_of: dt.date) -> dict | None:
    """Fit on orders up to as_of - holdout_days, predict the holdout's purchase days, compare with actual.
    None (logged) when the history is shorter than the holdout: nothing to calibrate on."""
    p = ctx.cfg.features.clv
    cal_end = as_of - dt.timedelta(days=p.holdout_days)
    before = orders.where(F.to_date("order_ts") <= F.lit(cal_end.isoformat()).cast("date"))
    if before.isEmpty():
        log.warning(f"features: no order before {cal_end} (as_of - clv.holdout_days): CLV holdout check skipped")
        return None
    cal = C.purchase_summary(before, cal_end)
    actual = (orders.where(F.to_date("order_ts") > F.lit(cal_end.isoformat()).cast("date"))
              .groupBy("customer_id").agg(F.countDistinct(F.to_date("order_ts")).alias("actual")))
    bg, _ = _fit_bgnbd(ctx, cal)
    pdf = cal.join(actual, "customer_id", "left").select("x", "t_x_days", "T_days",
                                                         F.coalesce("actual", F.lit(0)).alias("actual")) \
        .groupBy("x", "t_x_days", "T_days", "actual").count().toPandas()
    t = p.holdout_days / p.period_days
    pred = CLV.bgnbd_conditional_expected(bg, t, pdf["x"], pdf["t_x_days"] / p.period_days,
                                          pdf["T_days"] / p.period_days)
    n = pdf["count"].to_numpy(float)
    err = pred - pdf["actual"].to_numpy(float)
    by_x = {}
    bucket = np.minimum(pdf["x"].to_numpy(), 7)
    for b in range(8):
        m = bucket == b
        if n[m].sum():
            by_x["7+" if b == 7 else str(b)] = {
                "customers": int(n[m].sum()), "predicted_mean": float((pred[m] * n[m]).sum() / n[m].sum()),
                "actual_mean": float((pdf["actual"].to_numpy()[m] * n[m]).sum() / n[m].sum())}
    return {"calibration_end": cal_end.isoformat(), "holdout_days": p.holdout_days, "customers": int(n.sum()),
            "predicted_purchases": float((pred * n).sum()), "actual_purchases": float((pdf["actual"] * n).sum()),
            "mae_per_customer": float((np.abs(err) * n).sum() / n.sum()),
            "rmse_per_customer": float(np.sqrt((err ** 2 * n).sum() / n.sum())),
            "calibration_params": bg.as_dict(), "by_repeat_purchases": by_x}


def _predict_clv(summary: DataFrame, bg: CLV.BGNBD, gg: CLV.GammaGamma, margin: float, ctx: JobContext) -> DataFrame:
    p = ctx.cfg.features.clv
    horizon = p.horizon_months * 365.25 / 12 / p.period_days
    out = StructType([StructField(n, DoubleType()) for n in
                      ("p_alive", "expected_purchases", "expected_spend", "clv")])

    @F.pandas_udf(out)
    def predict(x: pd.Series, t_x: pd.Series, T: pd.Series, mv: pd.Series) -> pd.DataFrame:
        tx, tt = t_x.astype(float) / p.period_days, T.astype(float) / p.period_days
        spend = CLV.gamma_gamma_expected_spend(gg, x, mv.astype(float))
        return pd.DataFrame({
            "p_alive": CLV.bgnbd_p_alive(bg, x, tx, tt),
            "expected_purchases": CLV.bgnbd_conditional_expected(bg, horizon, x, tx, tt),
            "expected_spend": spend,
            "clv": CLV.discounted_clv(bg, x, tx, tt, spend, margin, p.horizon_months, p.annual_discount_rate,
                                      p.period_days)})

    return (summary.withColumn("_p", predict("x", "t_x_days", "T_days", "repeat_mean_value"))
            .select("customer_id", F.col("x").alias("repeat_purchases"), "t_x_days", "T_days",
                    F.round("_p.p_alive", 4).alias("p_alive"),
                    F.round("_p.expected_purchases", 4).alias("expected_purchases"),
                    F.round("_p.expected_spend", 2).alias("expected_spend"), F.round("_p.clv", 2).alias("clv")))


def _segments(df: DataFrame, ctx: JobContext) -> tuple[DataFrame, dict]:
    s = ctx.cfg.features.segments
    feats = [f for f in s.features if f in df.columns]
    if len(feats) < 2:
        return df.withColumn("behaviour_segment", F.lit(None).cast("string")), {"skipped": "fewer than 2 features"}
    filled = df.fillna(0, subset=feats)
    data = VectorAssembler(inputCols=feats, outputCol="_raw").transform(
        filled.select("customer_id", *[F.col(f).cast("double") for f in feats]))
    scaler = StandardScaler(inputCol="_raw", outputCol="_z", withMean=True, withStd=True).fit(data)
    z = scaler.transform(data).cache()
    km = KMeans(featuresCol="_z", predictionCol="_k", k=s.k, seed=s.seed, maxIter=s.max_iterations).fit(z)
    centers = [list(map(float, c)) for c in km.clusterCenters()]
    names = C.segment_names(centers, feats)
    assigned = km.transform(z).select("customer_id", "_k")
    label = F.element_at(F.array(*[F.lit(n) for n in names]), F.col("_k") + 1)
    out = df.join(assigned.withColumn("behaviour_segment", label).drop("_k"), "customer_id", "left")
    sizes = {r["_k"]: r["count"] for r in assigned.groupBy("_k").count().collect()}
    z.unpersist()
    return out, {"features": feats, "k": s.k, "seed": s.seed,
                 "segments": [{"name": n, "customers": sizes.get(i, 0),
                               "centroid_z": dict(zip(feats, c, strict=True))} for i, (n, c) in
                              enumerate(zip(names, centers, strict=True))],
                 "training_cost": float(km.summary.trainingCost)}


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    fc = cfg.features
    t0 = time.perf_counter()
    golden = read_table(spark, cfg, table("silver.golden_customer"))
    xref = read_table(spark, cfg, table("silver.object_xref")).cache()
    orders = _rekeyed(ctx, "silver.orders", xref)
    if orders is None:
        raise C360Error("features: silver.orders does not exist; run `c360 standardize` and `c360 resolve` first")
    orders = orders.where(~F.coalesce(F.lower("status").isin([s.lower() for s in fc.excluded_order_status]),
                                      F.lit(False)))
    as_of = ctx.as_of or orders.agg(F.max(F.to_date("order_ts"))).first()[0]
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

    tickets = _rekeyed(ctx, "silver.tickets", xref)
    if tickets is not None:
        tickets = tickets.where(F.col("created_at") < end)
    social_df = _rekeyed(ctx, "silver.social", xref)
    responses = _rekeyed(ctx, "silver.campaign_responses", xref)
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
    bg, bg_diag = _fit_bgnbd(ctx, summary)
    gg, gg_diag = _fit_gamma_gamma(ctx, summary)
    totals = profit.agg(F.sum("net_revenue"), F.sum("gross_margin")).first()
    margin = fc.clv.margin_rate or (max(totals[1] / totals[0], 0.01) if totals[0] else 1.0)
    clv = _predict_clv(summary, bg, gg, margin, ctx)
    holdout = _holdout(ctx, orders, as_of) if fc.clv.holdout_days else None
    parts = [rfm, intervals, profit, clv]
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
    enr = _enrichment(ctx, person_xref)
    if enr is not None:
        parts.append(enr)

    base = golden.select("customer_id")
    df = reduce(lambda a, b: a.join(b, "customer_id", "left"), parts, base)
    zero_fill = [c for c in ("frequency", "monetary", "gross_revenue", "net_revenue", "gross_margin", "profit",
                             "tickets", "complaints", "campaigns_received", "campaigns_accepted") if c in df.columns]
    zero_fill += [c for c in df.columns if c.startswith(("sessions_", "page_views_", "engaged_minutes_",
                                                         "purchase_sessions_"))]
    df = df.fillna(0, subset=zero_fill)
    df = df.withColumn("orders", F.col("frequency"))
    df = C.lifecycle(df, fc.lifecycle.stages, fc.lifecycle.default_stage)
    df = C.with_value_tier(df, "clv", fc.value_tiers)
    df = df.localCheckpoint()
    df, seg_info = _segments(df, ctx)
    df = df.withColumn("as_of", F.lit(as_of.isoformat()).cast("date")).drop("orders")
    write_table(spark, cfg, table("gold.customer_features"), df, mode="overwrite")
    feats = read_table(spark, cfg, table("gold.customer_features"))

    # ------------------------------------------------------------------ model metrics
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
    write_table(spark, cfg, table("gold.model_metrics"), spark.createDataFrame(
        rows, "model string, version string, trained_at timestamp, params string, metrics string"), mode="merge")
    stats = feats.agg(F.count(F.lit(1)).alias("customers"),
                      F.sum((F.col("frequency") > 0).cast("int")).alias("buyers")).first()
    xref.unpersist()
    orders.unpersist()
    profit.unpersist()
    summary.unpersist()
    facts = {"as_of": as_of.isoformat(), "customers": stats["customers"], "buyers": stats["buyers"],
             "orders": n_orders, "top_profit_share": round(pareto["top_profit_share"] or 0, 4),
             "bgnbd": {k: round(float(v), 4) for k, v in bg.as_dict().items()},
             "holdout_predicted_vs_actual": [round(holdout["predicted_purchases"], 1),
                                             holdout["actual_purchases"]] if holdout else None,
             "features_seconds": round(time.perf_counter() - t0, 1)}
    log.info("features: summary", **{k: v for k, v in facts.items() if not isinstance(v, dict)})
    return facts
