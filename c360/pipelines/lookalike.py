"""`c360 lookalike --seed-audience NAME`: prospects ranked by how much they resemble a seed audience.

Extract: silver.enrichment, the customers' person records (silver.person + silver.customer_xref),
gold.customer_360.

Transform (:mod:`c360.activation.lookalike`, :mod:`c360.models.classifier`): prospects are the enrichment
records of no customer; customers with enrichment attributes are labelled by the seed audience's selection; a
Spark ML classifier (``models.lookalike``) learns to tell the seed from the other customers on the attributes
that customers and prospects share (occupation, income band, household size, home value, region), is
measured on held-out customers (ROC AUC, lift of the top decile), and scores the prospects.

Load: ``silver.prospects`` (replaced), ``gold.prospect_scores`` (the seed audience's rows replaced),
``gold.model_metrics`` (one row per model version: ``lookalike:<seed audience>``) and the model under
``<system>/models``.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from pyspark.sql import Window
from pyspark.sql import functions as F

from c360.activation import lookalike as L
from c360.errors import C360Error, UsageError
from c360.io.delta import read_optional, read_table, write_table
from c360.log import get_logger
from c360.models import classifier, dataset, store
from c360.models.classifier import Spec
from c360.pipelines import JobContext
from c360.pipelines.audience import _expr
from c360.tables import table

log = get_logger(__name__)


def run(ctx: JobContext, seed_audience: str | None = None) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    t0 = time.perf_counter()
    lc, mc = cfg.models.lookalike, cfg.models
    name = seed_audience or lc.seed_audience
    if not name:
        raise UsageError("lookalike: give --seed-audience NAME (or set models.lookalike.seed_audience)")
    audience = cfg.activation.audiences.get(name)
    if audience is None:
        raise UsageError(f"lookalike: no audience named '{name}' in activation.audiences; known: "
                         f"{sorted(cfg.activation.audiences)}")
    c360 = read_optional(spark, cfg, table("gold.customer_360"))
    enrichment = read_optional(spark, cfg, table("silver.enrichment"))
    if c360 is None:
        raise C360Error("lookalike: gold.customer_360 does not exist; run `c360 publish` first")
    if enrichment is None:
        raise C360Error("lookalike: silver.enrichment does not exist: prospects come from an enrichment source")
    person_xref = read_table(spark, cfg, table("silver.person")).join(
        read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
        .select("source_system", "source_record_id", "customer_id"), ["source_system", "source_record_id"])
    prospects = L.prospects(enrichment, person_xref, lc.region)
    write_table(spark, cfg, table("silver.prospects"), prospects, mode="overwrite")
    prospects = read_table(spark, cfg, table("silver.prospects"))

    attributes = [*lc.categorical, *lc.numeric]
    customers = L.with_region(c360, lc.region)
    missing = [a for a in attributes if a not in customers.columns]
    if missing:
        raise C360Error(f"lookalike: gold.customer_360 has no column(s) {missing} (models.lookalike attributes)")
    _expr(ctx, f"activation.audiences.{name}.selection", audience.selection, customers, "_seed")
    rows = L.training_rows(customers, audience.selection, attributes).cache()
    stats = rows.agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("pos")).first()
    n, pos = stats["n"], int(stats["pos"] or 0)
    if n < mc.min_rows or pos == 0 or pos == n:
        rows.unpersist()
        raise C360Error(f"lookalike: {n} customers with enrichment attributes, {pos} of them in '{name}': a model "
                        f"needs at least models.min_rows ({mc.min_rows}) rows and both classes")
    held_out = dataset.is_held_out(mc.test_fraction, mc.seed)
    spec = Spec(list(lc.numeric), list(lc.categorical), horizon_days=lc.horizon_days,
                extra={"seed_audience": name, "selection": audience.selection})
    model, spec, tuning = classifier.fit(rows.where(~held_out), spec, lc, mc.seed)
    test = classifier.predict(model, spec, rows.where(held_out), out="score").select("label", "score").toPandas()
    metrics = classifier.metrics(test["label"].to_numpy(), test["score"].to_numpy())
    metrics.update(customers=n, seed_members=pos, seed_share=round(pos / n, 5),
                   drivers=classifier.drivers(model, spec, rows))
    rows.unpersist()

    version = store.new_version()
    model_name = f"lookalike:{name}"
    store.save(spark, cfg, model_name, version, model, spec)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    order = Window.orderBy(F.desc("score"), "source_system", "source_record_id")
    scored = (classifier.predict(model, spec, prospects, out="score")
              .select("source_system", "source_record_id", "score")
              .withColumn("rank", F.row_number().over(order).cast("int"))
              .withColumn("decile", F.ntile(10).over(order).cast("int"))
              .select(F.lit(name).alias("seed_audience"), "source_system", "source_record_id",
                      F.round("score", 6).alias("score"), "rank", "decile", F.lit(version).alias("model_version"),
                      F.lit(now).alias("scored_at")))
    write_table(spark, cfg, table("gold.prospect_scores"), scored, mode="overwrite",
                replace_where=f"seed_audience = '{name}'")
    n_prospects = prospects.count()
    metrics["prospects"] = n_prospects
    params = {"seed_audience": name, "selection": audience.selection, "categorical": lc.categorical,
              "numeric": lc.numeric, "region": lc.region, "estimator": lc.estimator, "class_weight": lc.class_weight,
              "best_params": tuning["best_params"], "seed": mc.seed, "test_fraction": mc.test_fraction}
    write_table(spark, cfg, table("gold.model_metrics"), spark.createDataFrame(
        [(model_name, version, now, json.dumps(params), json.dumps(metrics))], table("gold.model_metrics").ddl()),
        mode="merge")
    store.track(cfg, model_name, version, params, metrics, model)
    facts = {"seed_audience": name, "model_version": version, "customers": n, "seed_members": pos,
             "prospects": n_prospects, "roc_auc": metrics.get("roc_auc"),
             "top_decile_lift": metrics.get("top_decile_lift"),
             "lookalike_seconds": round(time.perf_counter() - t0, 1)}
    log.info("lookalike: summary", **{k: v for k, v in facts.items() if v is not None})
    return facts
