"""`c360 evaluate-models --truth DIR [--as-of D]`: the trained models against the generator's truth.

Churn: on the held-out customers of the latest training run, at cutoff ``D - horizon`` (D: --as-of or the
newest order), the model's ROC AUC beside the oracle's (:mod:`c360.models.oracle`: each person's probability
of no purchase from the generator's latent purchase rate and churn parameters), on the same customers and
window. Cross-sell: the share of the planted product affinities (``_truth/affinities.json``) found among
``gold.cross_sell_rules``. Lookalike: the lift of the top decile of gold.prospect_scores in prospects whose
latent value puts them in the seed audience's share of the population. All go to ``gold.model_metrics``
(models ``churn_vs_truth``, ``cross_sell_vs_truth``, ``lookalike_vs_truth:<seed audience>``).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from c360.activation import lookalike as L
from c360.errors import NotTrainedError, UsageError
from c360.frames import sql_conf
from c360.io import files
from c360.io.delta import read_optional, read_table, write_table
from c360.log import get_logger
from c360.models import classifier, dataset, oracle, store
from c360.pipelines import JobContext
from c360.pipelines.history import load as load_history
from c360.pipelines.train import FeaturesAsOf
from c360.tables import table

log = get_logger(__name__)


def customer_person(spark, cfg, truth: str):
    """``(customer_id, person_id)``: the person most of a customer's source records belong to."""
    records = spark.read.parquet(files.join(truth, "person_records_*.parquet")).select(
        "source_system", "source_record_id", "person_id")
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
    counts = xref.join(records, ["source_system", "source_record_id"]).groupBy("customer_id", "person_id").count()
    return (counts.groupBy("customer_id").agg(F.max_by("person_id", F.struct("count", "person_id")).alias("person_id")))


def run(ctx: JobContext, truth: str) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    truth = files.location(truth)
    manifest_text = files.read_text(spark, files.join(truth, "manifest.json"))
    if manifest_text is None:
        raise UsageError(f"evaluate-models: {truth} has no manifest.json: is it the generator's _truth folder?")
    manifest = json.loads(manifest_text)
    if "churn_window" not in manifest:
        raise UsageError(f"evaluate-models: {truth} was written by a generator without the latent churn "
                         "parameters; generate the data again")
    try:
        version, models = store.trained(spark, cfg)
    except NotTrainedError:  # no churn or cross-sell models: the lookalike ranking may still be there
        version, models = None, []
    hist = load_history(ctx, "evaluate-models")
    as_of = hist.as_of(ctx.as_of)
    facts: dict = {"model_version": version, "as_of": as_of.isoformat()}
    rows = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if "churn" in models:
        model, spec = store.load(spark, cfg, "churn", version)
        h = spec.horizon_days
        cutoff = as_of - dt.timedelta(days=h)
        feats = FeaturesAsOf(ctx, [c[len(dataset.INTEREST):] for c in spec.numeric
                                   if c.startswith(dataset.INTEREST)])(cutoff)
        labelled = feats.join(dataset.churn_labels(feats, hist.orders, cutoff, h), "customer_id").where(
            dataset.is_held_out(cfg.models.test_fraction, cfg.models.seed))
        scored = classifier.predict(model, spec, labelled).select("customer_id", "label", "probability_1")
        # pandas writes nanosecond timestamps, which Spark reads only as longs (nanoseconds)
        with sql_conf(spark, {"spark.sql.legacy.parquet.nanosAsLong": "true"}):
            people = spark.read.parquet(files.join(truth, "churn.parquet")).localCheckpoint()
        joined = (scored.join(customer_person(spark, cfg, truth), "customer_id")
                  .join(people, "person_id").toPandas())
        p_oracle = _oracle(joined, manifest, cutoff, h)
        y = joined["label"].to_numpy()
        model_m = classifier.metrics(y, joined["probability_1"].to_numpy())
        oracle_m = classifier.metrics(y, p_oracle)
        m = {"rows": int(len(joined)), "cutoff": cutoff.isoformat(), "horizon_days": h,
             "roc_auc": model_m.get("roc_auc"), "oracle_roc_auc": oracle_m.get("roc_auc"),
             "pr_auc": model_m.get("pr_auc"), "oracle_pr_auc": oracle_m.get("pr_auc"),
             "brier": model_m.get("brier"), "oracle_brier": oracle_m.get("brier")}
        if m["roc_auc"] and m["oracle_roc_auc"]:
            m["auc_ratio_to_oracle"] = round(m["roc_auc"] / m["oracle_roc_auc"], 4)
        rows.append(("churn_vs_truth", version, now, json.dumps({"truth": truth, "model": "churn"}), json.dumps(m)))
        facts.update({k: m.get(k) for k in ("roc_auc", "oracle_roc_auc", "auc_ratio_to_oracle", "rows")})
    rules = read_optional(spark, cfg, table("gold.cross_sell_rules"))
    planted_text = files.read_text(spark, files.join(truth, "affinities.json"))
    if rules is not None and planted_text and version is not None:
        planted = {(a["antecedent"], a["consequent"]) for a in json.loads(planted_text)}
        found = {(r["a"], r["c"]) for r in rules.where(F.size("antecedent") == 1).select(
            F.col("antecedent")[0].alias("a"), F.col("consequent")[0].alias("c")).collect()}
        hit = sorted(planted & found)
        m = {"planted": len(planted), "found": len(hit), "recall": round(len(hit) / len(planted), 4),
             "rules": rules.count(), "missed": sorted(f"{a}->{c}" for a, c in planted - found)}
        rows.append(("cross_sell_vs_truth", version, now, json.dumps({"truth": truth}), json.dumps(m)))
        facts["planted_affinity_recall"] = m["recall"]
    for row in _lookalike(ctx, truth, now):
        rows.append(row)
        m = json.loads(row[4])
        facts[f"{row[0]}_top_decile_lift"] = m.get("top_decile_lift")
    if not rows:
        raise NotTrainedError("evaluate-models: nothing to evaluate: run `c360 train` (churn, cross-sell) or "
                              "`c360 lookalike` first")
    if rows:
        write_table(spark, cfg, table("gold.model_metrics"),
                    spark.createDataFrame(rows, table("gold.model_metrics").ddl()), mode="merge")
    log.info("evaluate-models: summary", **facts)
    return facts


def _lookalike(ctx: JobContext, truth: str, now: dt.datetime) -> list[tuple]:
    """Per seed audience of gold.prospect_scores: how the ranking finds valuable prospects. A prospect is
    valuable when the generator's latent value puts them in the seed's share of the population (the seed
    audience's share of the customers the model learnt from): the lift of the top decile is the share of
    valuable prospects among the tenth ranked highest over their share among all scored prospects."""
    spark, cfg = ctx.spark, ctx.cfg
    scores = read_optional(spark, cfg, table("gold.prospect_scores"))
    metrics = read_optional(spark, cfg, table("gold.model_metrics"))
    if scores is None or metrics is None or not files.list_files(spark, files.join(truth, "prospects_*.parquet")):
        return []
    value = spark.read.parquet(files.join(truth, "prospects_*.parquet")).select("record_id", "value")
    people = spark.read.parquet(files.join(truth, "people.parquet")).select("person_id", "value")
    customers_enr = (spark.read.parquet(files.join(truth, "enrichment_*.parquet"))
                     .join(people, "person_id").select("record_id", "value"))
    value = value.unionByName(customers_enr)
    population = people.select("value").toPandas()["value"].to_numpy()
    out = []
    for seed in sorted(r[0] for r in scores.select("seed_audience").distinct().collect()):
        name = f"lookalike:{seed}"
        latest = metrics.where(F.col("model") == name).orderBy(F.desc("version")).first()
        if latest is None:
            continue
        share = json.loads(latest["metrics"]).get("seed_share")
        df = (scores.where(F.col("seed_audience") == seed)
              .join(value, F.col("source_record_id") == F.col("record_id"))
              .select("rank", "score", "value").orderBy("rank").toPandas())
        if df.empty or not share:
            continue
        threshold = float(np.quantile(population, 1 - share))
        positive = (df["value"].to_numpy() >= threshold).astype(float)
        top = max(int(round(len(df) * 0.1)), 1)
        m = {"seed_audience": seed, "model_version": latest["version"], "prospects": int(len(df)),
             "seed_share": share, "value_threshold": round(threshold, 4),
             "valuable_share": round(float(positive.mean()), 4),
             "top_decile_lift": (round(L.lift(df["score"].to_numpy(), positive), 4) if positive.sum() else None),
             "top_decile_mean_value_ratio": round(float(df["value"][:top].mean() / df["value"].mean()), 4)}
        out.append((f"lookalike_vs_truth:{seed}", latest["version"], now, json.dumps({"truth": truth}),
                    json.dumps(m)))
    return out


def _oracle(df: pd.DataFrame, manifest: dict, cutoff: dt.date, horizon_days: int) -> np.ndarray:
    def secs(x: pd.Series) -> np.ndarray:
        """Epoch seconds of nanosecond longs or timestamps (NaN where null)."""
        if pd.api.types.is_numeric_dtype(x):
            return x.to_numpy(dtype=float) / 1e9
        return pd.to_datetime(x).astype("datetime64[ns]").astype("int64").to_numpy() / 1e9

    churn_at = np.where(df["churn_at"].isna(), np.inf, secs(df["churn_at"]))
    w0, w1 = (pd.Timestamp(t).timestamp() for t in manifest["churn_window"])
    end = pd.Timestamp(manifest["end"]).timestamp() + 86400
    cut = pd.Timestamp(cutoff + dt.timedelta(days=1)).timestamp()      # the window starts after the cutoff's day
    return oracle.p_no_purchase(df["purchase_rate"].to_numpy(), df["churn_probability"].to_numpy(),
                                secs(df["active_from"]), churn_at, w0, w1, cut, horizon_days, end,
                                manifest.get("cancelled_share", 0.03))
