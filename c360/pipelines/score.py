"""`c360 score [--as-of D] [--model-version V]`: churn and propensity scores, next best offers and alerts.

Extract: the customer features as of D (``gold.customer_features`` when it is as of D, else built), the
training run's models (the latest, or ``--model-version``), the cross-sell rules, the golden record's
consent, the dated history.

Transform (:mod:`c360.models`): calibrated churn probability and risk band, propensity per category and
campaign offer, the best cross-sell product per customer, suppression, offers ranked by expected value with
the acceptance posterior per (offer, segment), alert rules.

Load: ``gold.customer_scores``, ``gold.next_best_offers`` and ``gold.customer_alerts``, each replacing the
rows of ``as_of = D`` (a re-run gives the same tables).
"""

from __future__ import annotations

import datetime as dt
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.io.delta import read_optional, read_table, write_table
from c360.log import get_logger
from c360.models import alerts, classifier, cross_sell, dataset, offers, store
from c360.pipelines import JobContext
from c360.pipelines import features as features_job
from c360.pipelines.history import History
from c360.pipelines.history import load as load_history
from c360.tables import table

log = get_logger(__name__)


def with_scores(feats_df: DataFrame, ctx: JobContext, version: str, models: list[str]) -> DataFrame:
    """Features plus ``churn_probability`` (customers with an order; the churn label is defined for them
    only), ``churn_risk``, the ``propensity`` map and ``model_versions``. Each model scores the same
    checkpointed rows; the probabilities are joined back by customer_id (shallow plans however many models)."""
    spark, cfg = ctx.spark, ctx.cfg
    loaded = {m: store.load(spark, cfg, m, version) for m in models if m != "cross_sell"}
    interest = sorted({c[len(dataset.INTEREST):] for _, spec in loaded.values() for c in spec.numeric
                       if c.startswith(dataset.INTEREST)})
    base = dataset.with_interest_columns(feats_df, interest).localCheckpoint()
    df, prop = base, []
    for i, (name, (model, spec)) in enumerate(sorted(loaded.items())):
        out = "churn_probability" if name == "churn" else f"_p{i}"
        df = df.join(classifier.predict(model, spec, base, out=out).select("customer_id", out), "customer_id", "left")
        if name != "churn":
            prop.append((spec.extra.get("target", name.split(":", 1)[1]), out))
    churn = F.col("churn_probability") if "churn_probability" in df.columns else F.lit(None).cast("double")
    churn = F.when(F.col("frequency") > 0, churn)
    cuts = cfg.models.churn.risk_cutoffs
    risk = (F.when(churn.isNull(), F.lit(None)).when(churn >= cuts["high"], "high")
            .when(churn >= cuts["medium"], "medium").otherwise("low"))
    pmap = (F.create_map(*[x for t, c in prop for x in (F.lit(t), F.round(c, 5))]) if prop
            else F.create_map().cast("map<string,double>"))
    versions = F.create_map(*[x for m in models for x in (F.lit(m), F.lit(version))]).cast("map<string,string>")
    return df.select(*[c for c in base.columns if c != "churn_probability"], churn.alias("churn_probability"),
                     risk.alias("churn_risk"), pmap.alias("propensity"), versions.alias("model_versions"))


def best_cross_sell(ctx: JobContext, hist: History, as_of: dt.date) -> DataFrame | None:
    """``(customer_id, cross_sell_product, cross_sell_confidence, cross_sell_margin)``: the top recommendation
    from the current rules for everything the customer bought by as_of."""
    rules = read_optional(ctx.spark, ctx.cfg, table("gold.cross_sell_rules"))
    if rules is None or hist.purchases is None:
        return None
    rules = rules.select("antecedent", F.col("consequent")[0].alias("consequent"), "confidence", "lift")
    end = F.lit((as_of + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    bought = (hist.purchases.where(F.col("order_ts") < end).groupBy("customer_id")
              .agg(F.collect_set("product_id").alias("items")))
    recs = cross_sell.recommendations(rules, bought, 1)
    out = recs.select("customer_id", F.col("product_id").alias("cross_sell_product"),
                      F.col("confidence").alias("cross_sell_confidence"))
    if hist.products is not None:
        margin = F.coalesce(F.col("price") - F.col("cost"), F.col("price"))
        out = out.join(hist.products.select(F.col("product_id").alias("cross_sell_product"),
                                            margin.alias("cross_sell_margin")), "cross_sell_product", "left")
    else:
        out = out.withColumn("cross_sell_margin", F.lit(None).cast("double"))
    return out


def run(ctx: JobContext, model_version: str | None = None) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    t0 = time.perf_counter()
    version, models = store.trained(spark, cfg, model_version)
    hist = load_history(ctx, "score")
    as_of = hist.as_of(ctx.as_of)
    day = F.lit(as_of.isoformat()).cast("date")
    where = f"as_of = DATE'{as_of.isoformat()}'"
    scored = with_scores(features_job.as_of_or_build(ctx, as_of), ctx, version, models)
    xs = best_cross_sell(ctx, hist, as_of)
    if xs is not None:
        scored = scored.join(xs, "customer_id", "left")
    else:
        scored = scored.select("*", *[F.lit(None).cast(t).alias(c) for c, t in (
            ("cross_sell_product", "string"), ("cross_sell_confidence", "double"), ("cross_sell_margin", "double"))])
    golden = read_table(spark, cfg, table("silver.golden_customer"))
    if "marketing_consent" in golden.columns:
        scored = scored.join(golden.select("customer_id", "marketing_consent"), "customer_id", "left")
    scored = scored.localCheckpoint()

    scores = scored.select("customer_id", day.alias("as_of"), "churn_probability", "churn_risk", "propensity",
                           "model_versions")
    write_table(spark, cfg, table("gold.customer_scores"), scores, mode="overwrite", replace_where=where)

    oc = cfg.offers
    suppressed = offers.suppressions(scored, hist.tickets, hist.responses, as_of, oc.contact_cooldown_days,
                                     cfg.features.complaint_categories, oc.open_ticket_status,
                                     oc.unknown_consent).cache()
    segment_col = oc.segment_column if oc.segment_column in scored.columns else None
    if segment_col is None:
        log.warning(f"offers: segment column '{oc.segment_column}' not among the features: one segment for all")
    eligible = scored.join(suppressed, "customer_id", "left_anti").withColumn(
        "_segment", F.col(segment_col) if segment_col else F.lit("all"))
    prop_keys = {m.split(":", 1)[1] for m in models if m.startswith("propensity:")}
    cand = offers.candidates(eligible, oc.catalogue, "_segment", prop_keys)
    end = F.lit((as_of + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    n_offers = 0
    if cand is not None:
        seg_df = scored.select("customer_id", (F.col(segment_col) if segment_col else F.lit("all"))
                               .cast("string").alias("segment"))
        responses = (hist.responses.where(F.col("sent_at") < end) if hist.responses is not None
                     else spark.createDataFrame([], "customer_id string, offer string, response string"))
        acc = offers.acceptance(responses, seg_df, oc.catalogue)
        nbo = offers.rank(cand, acc, oc.prior_strength, oc.top_n).withColumn("as_of", day)
        write_table(spark, cfg, table("gold.next_best_offers"), nbo, mode="overwrite", replace_where=where)
        n_offers = read_table(spark, cfg, table("gold.next_best_offers")).where(where).count()
    alert_df, skipped = alerts.raise_alerts(scored, cfg.alerts, as_of, oc.unknown_consent)
    write_table(spark, cfg, table("gold.customer_alerts"), alert_df, mode="overwrite", replace_where=where)
    stats = read_table(spark, cfg, table("gold.customer_scores")).where(where).groupBy("churn_risk").count().collect()
    n_alerts = read_table(spark, cfg, table("gold.customer_alerts")).where(where).count()
    by_reason = {r["suppressed_by"]: r["count"] for r in suppressed.groupBy("suppressed_by").count().collect()}
    suppressed.unpersist()
    facts = {"as_of": as_of.isoformat(), "model_version": version, "customers": sum(r["count"] for r in stats),
             "churn_risk": {str(r["churn_risk"]): r["count"] for r in stats}, "offers": n_offers,
             "suppressed": by_reason, "alerts": n_alerts, "alerts_left_out": skipped,
             "score_seconds": round(time.perf_counter() - t0, 1)}
    log.info("score: summary", **{k: v for k, v in facts.items() if not isinstance(v, dict | list)})
    return facts
