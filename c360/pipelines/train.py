"""`c360 train [--as-of D]`: churn and propensity models and the cross-sell rules, point in time.

Extract: the dated history (:mod:`c360.pipelines.history`) and, for each training cutoff ``D - horizon``
(and ``models.training_cutoffs - 1`` earlier ones), the customer features as of the cutoff, built by the
features code from nothing dated after it.

Transform (:mod:`c360.models`): labels from ``(cutoff, cutoff + horizon]``; per model a Spark ML pipeline,
weighted, tuned by cross-validation within a time budget, evaluated on held-out customers (ROC AUC, PR AUC,
Brier, calibration, top-decile lift and capture, top drivers). FP-Growth over the baskets up to D.

Load: the pipelines under ``<system>/models/<model>/<version>``, one row per model in ``gold.model_metrics``,
``gold.cross_sell_rules`` (overwritten), and the runs in MLflow when it is installed.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config.models import ClassifierConfig
from c360.frames import union_all
from c360.io.delta import write_table
from c360.log import get_logger
from c360.models import classifier, cross_sell, dataset, store
from c360.pipelines import JobContext
from c360.pipelines import features as features_job
from c360.pipelines.history import History
from c360.pipelines.history import load as load_history
from c360.tables import table

log = get_logger(__name__)
#: the gold.model_metrics row of a training run (its version, the models it trained)
RUN_ROW = "training_run"


class FeaturesAsOf:
    """Customer features built once per date (the features code, point in time), with one ``interest_<c>``
    column per modelled category."""

    def __init__(self, ctx: JobContext, categories: list[str]):
        self.ctx, self.categories, self._built = ctx, categories, {}

    def __call__(self, as_of: dt.date) -> DataFrame:
        if as_of not in self._built:
            t0 = time.perf_counter()
            built = features_job.build(self.ctx, as_of)
            df = dataset.with_interest_columns(built.features_df, self.categories).localCheckpoint()
            built.release()
            self._built[as_of] = df
            log.info("train: features as of the cutoff", cutoff=as_of.isoformat(),
                     seconds=round(time.perf_counter() - t0, 1))
        return self._built[as_of]


def cutoffs(as_of: dt.date, horizon_days: int, count: int, step_days: int | None) -> list[dt.date]:
    """The training cutoffs: ``as_of - horizon``, then ``step`` (default the horizon) earlier each."""
    step = step_days or horizon_days
    return [as_of - dt.timedelta(days=horizon_days + i * step) for i in range(count)]


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    mc = cfg.models
    t0 = time.perf_counter()
    hist = load_history(ctx, "train")
    as_of = hist.as_of(ctx.as_of)
    version = store.new_version()
    categories = _categories(hist, as_of - dt.timedelta(days=mc.propensity.horizon_days), cfg)
    feats = FeaturesAsOf(ctx, categories)
    rows, facts = [], {"as_of": as_of.isoformat(), "version": version}

    churn_cut = cutoffs(as_of, mc.churn.horizon_days, mc.training_cutoffs, mc.cutoff_step_days)
    churn_df = union_all([feats(c).join(dataset.churn_labels(feats(c), hist.orders, c, mc.churn.horizon_days),
                                     "customer_id").withColumn("cutoff", F.lit(c)) for c in churn_cut])
    row = _fit_model(ctx, "churn", churn_df, mc.churn, version, as_of, churn_cut, {"label": "no purchase in the "
                     "horizon, among customers with an order by the cutoff"})
    if row:
        rows.append(row)
        facts["churn_roc_auc"] = json.loads(row[4]).get("roc_auc")

    prop_cut = cutoffs(as_of, mc.propensity.horizon_days, mc.training_cutoffs, mc.cutoff_step_days)
    prop_rows = _propensity(ctx, hist, feats, prop_cut, categories, version, as_of)
    rows += prop_rows
    facts["propensity_models"] = len(prop_rows)

    cs_row, n_rules = _cross_sell(ctx, hist, as_of, version)
    if cs_row:
        rows.append(cs_row)
    facts["cross_sell_rules"] = n_rules
    trained = [r[0] for r in rows]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # the run itself: score finds the latest run here even when every model was skipped (too little data)
    rows.append((RUN_ROW, version, now, json.dumps({"training_run": True, "as_of": as_of.isoformat()}),
                 json.dumps({"models": trained, "seconds": round(time.perf_counter() - t0, 1)})))
    if rows:
        write_table(spark, cfg, table("gold.model_metrics"),
                    spark.createDataFrame(rows, table("gold.model_metrics").ddl()), mode="merge")
    facts["models"] = trained
    facts["train_seconds"] = round(time.perf_counter() - t0, 1)
    log.info("train: summary", **{k: v for k, v in facts.items() if not isinstance(v, list)})
    return facts


def _categories(hist: History, cutoff: dt.date, cfg) -> list[str]:
    pc = cfg.models.propensity
    if hist.purchases is None:
        return []
    if pc.categories is not None:
        return list(pc.categories)
    end = F.lit((cutoff + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    return dataset.top_categories(hist.purchases.where(F.col("order_ts") < end), pc.max_categories)


def family_inputs(ctx: JobContext, rows_df: DataFrame, name: str) -> tuple[list[str], list[str]]:
    """The numeric and categorical inputs of a model (family) over ``rows_df``: those present, less the
    columns without information on the training customers (logged)."""
    mc = ctx.cfg.models
    numeric, cats = dataset.feature_columns(rows_df, mc.numeric_exclude, mc.categorical)
    train = rows_df.where(~dataset.is_held_out(mc.test_fraction, mc.seed))
    numeric, dropped = dataset.filter_informative(train, numeric)
    if dropped:
        log.info(f"train: {name}: inputs without information left out", columns=dropped)
    return numeric, cats


def _fit_model(ctx: JobContext, name: str, rows_df: DataFrame, mcfg: ClassifierConfig, version: str,
               as_of: dt.date, cuts: list[dt.date], extra: dict, inputs: tuple[list[str], list[str]] | None = None,
               preparation=None) -> tuple | None:
    """Split, fit, evaluate, save and track one classifier; its gold.model_metrics row, or None when the
    labelled rows cannot make a model (too few, one class: logged). ``inputs`` and a fitted ``preparation``
    come from the model's family when it shares them (propensity per category)."""
    spark, cfg = ctx.spark, ctx.cfg
    mc = cfg.models
    t0 = time.perf_counter()
    data = rows_df.withColumn("_test", dataset.is_held_out(mc.test_fraction, mc.seed)).cache()
    train = data.where(~F.col("_test"))
    counts = {(r["_test"], r["label"]): r["count"] for r in data.groupBy("_test", "label").count().collect()}
    n_train = counts.get((False, 0.0), 0) + counts.get((False, 1.0), 0)
    pos_train = counts.get((False, 1.0), 0)
    min_pos = getattr(mcfg, "min_positives", 1)
    if n_train < mc.min_rows or pos_train < min_pos or pos_train == n_train:
        log.warning(f"train: {name} skipped: too few labelled rows or one class only", rows=n_train,
                    positives=pos_train, min_rows=mc.min_rows, min_positives=min_pos)
        data.unpersist()
        return None
    numeric, cats = inputs or family_inputs(ctx, rows_df, name)
    spec = classifier.Spec(list(numeric), list(cats), horizon_days=mcfg.horizon_days, extra=dict(extra))
    model, spec, tuning = classifier.fit(train, spec, mcfg, mc.seed, preparation)
    test = data.where(F.col("_test"))
    scored = classifier.predict(model, spec, test.select("customer_id", "label", *numeric, *cats)).select(
        "label", "probability_1").toPandas()
    m = classifier.metrics(scored["label"].to_numpy(), scored["probability_1"].to_numpy())
    m["drivers"] = classifier.drivers(model, spec, train)
    m["tuning"] = tuning["grid"]
    m["train_rows"], m["fit_seconds"] = n_train, round(time.perf_counter() - t0, 1)
    path = store.save(spark, cfg, name, version, model, spec)
    params = {"training_run": True, "as_of": as_of.isoformat(), "cutoffs": [c.isoformat() for c in cuts],
              "horizon_days": mcfg.horizon_days, "estimator": mcfg.estimator, "class_weight": mcfg.class_weight,
              "best_params": tuning["best_params"], "seed": mc.seed, "test_fraction": mc.test_fraction,
              "path": path, "numeric": numeric, "categorical": cats, **extra}
    store.track(cfg, name, version, params, m, model)
    data.unpersist()
    log.info(f"train: {name}", roc_auc=m.get("roc_auc"), pr_auc=m.get("pr_auc"), brier=m.get("brier"),
             rows=m["rows"] + n_train, seconds=m["fit_seconds"])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return (name, version, now, json.dumps(params), json.dumps(m))


def _propensity(ctx: JobContext, hist: History, feats: FeaturesAsOf, cuts: list[dt.date], categories: list[str],
                version: str, as_of: dt.date) -> list[tuple]:
    pc = ctx.cfg.models.propensity
    rows = []
    if categories and hist.purchases is not None:
        labelled = union_all([feats(c).join(dataset.category_labels(feats(c), hist.purchases, c, pc.horizon_days,
                                                                 categories), "customer_id")
                           .withColumn("cutoff", F.lit(c)) for c in cuts]).cache()
        # one preparation (imputation, encoding, scaling) for every category: the same customers and inputs
        rows_df = union_all([feats(c).where(F.col("frequency") > 0).withColumn("cutoff", F.lit(c)) for c in cuts])
        inputs = family_inputs(ctx, rows_df, "propensity")
        train_rows = rows_df.where(~dataset.is_held_out(ctx.cfg.models.test_fraction, ctx.cfg.models.seed))
        prep = classifier.build_preparation(classifier.Spec(*inputs)).fit(train_rows)
        for cat in categories:
            row = _fit_model(ctx, f"propensity:{cat}", labelled.where(F.col("target") == cat).drop("target"), pc,
                             version, as_of, cuts, {"target": cat, "label": f"bought {cat} in the horizon"},
                             inputs, prep)
            if row:
                rows.append(row)
        labelled.unpersist()
    if pc.campaign_offers and hist.responses is not None:
        labelled = union_all([feats(c).join(dataset.offer_labels(hist.responses, c, pc.horizon_days), "customer_id")
                           .withColumn("cutoff", F.lit(c)) for c in cuts]).cache()
        sizes = {r["target"]: r["count"] for r in labelled.groupBy("target").count().collect()}
        for target in sorted(t for t, n in sizes.items() if n >= pc.min_responses):
            row = _fit_model(ctx, f"propensity:{target}", labelled.where(F.col("target") == target).drop("target"),
                             pc, version, as_of, cuts, {"target": target,
                                                        "label": f"accepted {target[6:]} when sent in the horizon"})
            if row:
                rows.append(row)
        left = sorted(t for t, n in sizes.items() if n < pc.min_responses)
        if left:
            log.info("train: campaign offers with too few sends for a model", offers=left,
                     min_responses=pc.min_responses)
        labelled.unpersist()
    return rows


def _cross_sell(ctx: JobContext, hist: History, as_of: dt.date, version: str) -> tuple[tuple | None, int]:
    spark, cfg = ctx.spark, ctx.cfg
    cc = cfg.models.cross_sell
    if hist.purchases is None:
        return None, 0
    end = F.lit((as_of + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    lines = hist.purchases.where(F.col("order_ts") < end)
    if cc.lookback_days:
        start = F.lit((as_of - dt.timedelta(days=cc.lookback_days - 1)).isoformat()).cast("timestamp")
        lines = lines.where(F.col("order_ts") >= start)
    t0 = time.perf_counter()
    basket_df = cross_sell.baskets(lines).cache()
    n_baskets = basket_df.count()
    if n_baskets == 0:
        log.warning("train: cross-sell skipped: no baskets")
        return None, 0
    support = min(cc.min_support, cc.min_count / n_baskets) if cc.min_count else cc.min_support
    itemsets, rules = cross_sell.mine(basket_df, support, cc.min_confidence)
    rules = rules.cache()
    out = rules.select("antecedent", F.array("consequent").alias("consequent"), "support", "confidence", "lift",
                       F.lit(version).alias("version"), F.lit(as_of.isoformat()).cast("date").alias("as_of"))
    write_table(spark, cfg, table("gold.cross_sell_rules"), out, mode="overwrite")
    n_rules, n_sets = rules.count(), itemsets.count()
    items = basket_df.select(F.explode("items")).distinct().count()
    params = {"training_run": True, "as_of": as_of.isoformat(), "min_support": cc.min_support,
              "min_count": cc.min_count, "support_used": support, "min_confidence": cc.min_confidence,
              "lookback_days": cc.lookback_days}
    m = {"baskets": n_baskets, "items": items, "itemsets": n_sets, "rules": n_rules,
         "mean_lift": rules.agg(F.avg("lift")).first()[0], "fit_seconds": round(time.perf_counter() - t0, 1)}
    store.track(cfg, "cross_sell", version, params, m, None)
    basket_df.unpersist()
    rules.unpersist()
    log.info("train: cross_sell", baskets=n_baskets, items=items, rules=n_rules)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return ("cross_sell", version, now, json.dumps(params), json.dumps(m)), n_rules
