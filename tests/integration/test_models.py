"""`c360 train`, `score` and `evaluate-models` end to end on a generated company: point in time (the
leakage test), versions and metrics, same seed same metrics, the score tables, a store with customers and
orders only, and a clear exit when nothing is trained."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from c360.cli import main
from c360.config import load_config
from c360.generate.synth import GenParams, generate
from c360.io import files
from c360.io.delta import read_table
from c360.models import dataset
from c360.pipelines import JobContext, run_job
from c360.pipelines.history import load as load_history
from c360.pipelines.train import FeaturesAsOf
from c360.tables import table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
STAGES = ("ingest", "standardize", "resolve", "sessionize", "features")


@pytest.fixture(scope="module")
def shop(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("models")
    landing = root / "landing"
    generate(landing, GenParams(people=400, seed=31, malformed_rate=0.0, chunk_size=400))
    cfg = load_config("test", landing, conf_root=REPO / "conf", warehouse=str(root / "warehouse"),
                      landing=str(landing))
    ctx = JobContext(cfg)
    for job in STAGES:
        run_job(job, ctx)
    facts = {"train": run_job("train", ctx), "score": run_job("score", ctx)}
    return {"root": root, "landing": landing, "cfg": cfg, "ctx": ctx, "facts": facts}


def _metrics(spark, cfg, version: str) -> dict:
    rows = read_table(spark, cfg, table("gold.model_metrics")).where(F.col("version") == version).collect()
    return {r["model"]: (json.loads(r["params"]), json.loads(r["metrics"])) for r in rows}


def test_train_saves_versioned_models_with_their_metrics(shop, spark):
    cfg, facts = shop["cfg"], shop["facts"]["train"]
    got = _metrics(spark, cfg, facts["version"])
    assert {"churn", "cross_sell", "training_run"} <= set(got)
    assert any(m.startswith("propensity:") for m in got)
    params, m = got["churn"]
    as_of = dt.date.fromisoformat(facts["as_of"])
    assert params["cutoffs"] == [(as_of - dt.timedelta(days=90)).isoformat()] and params["horizon_days"] == 90
    assert 0.5 < m["roc_auc"] <= 1 and 0 < m["brier"] < 0.5 and len(m["calibration"]) == 10
    assert m["drivers"] and all(d["feature"] and not d["feature"].startswith("_") for d in m["drivers"])
    assert files.exists(spark, files.join(params["path"], "c360.json"))
    rules = read_table(spark, cfg, table("gold.cross_sell_rules"))
    assert rules.where(F.size("consequent") != 1).count() == 0
    assert rules.select("version").distinct().collect()[0][0] == facts["version"]


def test_train_twice_with_the_same_seed_gives_the_same_metrics(shop, spark):
    cfg = shop["cfg"]
    again = run_job("train", shop["ctx"])
    first, second = _metrics(spark, cfg, shop["facts"]["train"]["version"]), _metrics(spark, cfg, again["version"])
    assert again["version"] != shop["facts"]["train"]["version"]
    for model in ("churn", "cross_sell"):
        a, b = ({k: v for k, v in m.items() if k != "fit_seconds"} for _, m in (first[model], second[model]))
        assert a == b, model


def comparable(df, cols):
    """Maps as sorted JSON (set operations refuse maps), doubles to 6 decimals (sums in another order)."""
    types = dict(df.dtypes)
    return df.select([F.to_json(F.array_sort(F.map_entries(c))).alias(c) if types[c].startswith("map")
                      else F.round(c, 6).alias(c) if types[c] == "double" else F.col(c) for c in cols])


def test_features_at_the_cutoff_ignore_everything_after_it(shop, spark, tmp_path):
    """The leakage test: the training rows' features are the same when every dated row after the cutoff is
    deleted from the warehouse (a feature computed from later data changes and fails this)."""
    cfg, ctx = shop["cfg"], shop["ctx"]
    as_of = dt.date.fromisoformat(shop["facts"]["train"]["as_of"])
    cutoff = as_of - dt.timedelta(days=cfg.models.churn.horizon_days)
    after = (cutoff + dt.timedelta(days=1)).isoformat()
    cut_wh = tmp_path / "warehouse"
    shutil.copytree(cfg.paths.warehouse, cut_wh)
    cut_cfg = load_config("test", shop["landing"], conf_root=REPO / "conf", warehouse=str(cut_wh),
                          landing=str(shop["landing"]))
    dated = {"silver.orders": "order_ts", "silver.events": "event_ts", "silver.web_sessions": "session_start",
             "silver.tickets": "created_at", "silver.campaign_responses": "sent_at"}
    for name, col in dated.items():
        df = read_table(spark, cut_cfg, table(name))
        kept = df.where(F.col(col) < F.lit(after).cast("timestamp")).localCheckpoint()
        assert kept.count() < df.count(), f"{name} has nothing after the cutoff: the test would prove nothing"
        kept.write.format("delta").mode("overwrite").save(table(name).path(cut_cfg))
    orders = read_table(spark, cut_cfg, table("silver.orders")).select("order_id")
    lines = read_table(spark, cut_cfg, table("silver.order_lines"))
    lines.join(orders, "order_id", "left_semi").localCheckpoint().write.format("delta").mode("overwrite").save(
        table("silver.order_lines").path(cut_cfg))

    cats = ["books", "toys"]
    full = FeaturesAsOf(ctx, cats)(cutoff)
    cut = FeaturesAsOf(JobContext(cut_cfg), cats)(cutoff)
    cols = sorted(full.columns)
    assert sorted(cut.columns) == cols
    diff = comparable(full, cols).exceptAll(comparable(cut, cols))
    assert diff.count() == 0, diff.limit(3).collect()
    # ... while the labels, which look after the cutoff, do change
    hist, cut_hist = load_history(ctx, "test"), load_history(JobContext(cut_cfg), "test")
    lab = dataset.churn_labels(full, hist.orders, cutoff, 90).agg(F.sum("label")).first()[0]
    cut_lab = dataset.churn_labels(cut, cut_hist.orders, cutoff, 90).agg(F.sum("label")).first()[0]
    assert cut_lab > lab


def test_score_writes_scores_offers_and_alerts_idempotently(shop, spark):
    cfg, facts = shop["cfg"], shop["facts"]["score"]
    day = F.col("as_of") == F.lit(facts["as_of"]).cast("date")
    scores = read_table(spark, cfg, table("gold.customer_scores")).where(day)
    feats = read_table(spark, cfg, table("gold.customer_features"))
    assert scores.count() == feats.count()
    joined = scores.join(feats.select("customer_id", "frequency"), "customer_id")
    assert joined.where((F.col("frequency") == 0) != F.col("churn_probability").isNull()).count() == 0
    cuts = cfg.models.churn.risk_cutoffs
    band = (F.when(F.col("churn_probability") >= cuts["high"], "high")
            .when(F.col("churn_probability") >= cuts["medium"], "medium").otherwise("low"))
    assert scores.where(F.col("churn_probability").isNotNull() & (band != F.col("churn_risk"))).count() == 0
    assert scores.where(F.size("propensity") == 0).count() == 0
    assert scores.first()["model_versions"]["churn"] == shop["facts"]["train"]["version"]

    nbo = read_table(spark, cfg, table("gold.next_best_offers")).where(day)
    assert nbo.count() > 0
    per = nbo.groupBy("customer_id").agg(F.count("*").alias("n"), F.max("rank").alias("top"),
                                         F.collect_list(F.struct("rank", "expected_value")).alias("r")).collect()
    for row in per:
        ranked = sorted(row["r"])
        assert row["n"] == row["top"] <= cfg.offers.top_n
        assert [e for _, e in ranked] == sorted((e for _, e in ranked), reverse=True)
    consent = read_table(spark, cfg, table("silver.golden_customer")).where(F.col("marketing_consent") == F.lit(False))
    assert nbo.join(consent, "customer_id", "left_semi").count() == 0
    assert nbo.where(F.col("expected_value") <= 0).count() == 0

    before = {name: sorted(map(tuple, read_table(spark, cfg, table(name)).where(day).drop("model_versions")
                               .collect())) for name in ("gold.next_best_offers", "gold.customer_alerts")}
    run_job("score", JobContext(cfg, as_of=dt.date.fromisoformat(facts["as_of"])),
            model_version=shop["facts"]["train"]["version"])
    for name, rows in before.items():
        assert sorted(map(tuple, read_table(spark, cfg, table(name)).where(day).drop("model_versions")
                          .collect())) == rows, name


def test_evaluate_models_reports_the_oracle_and_the_planted_affinities(shop, spark):
    facts = run_job("evaluate-models", shop["ctx"], truth=str(shop["landing"] / "_truth"))
    assert 0 < facts["oracle_roc_auc"] <= 1 and 0 < facts["roc_auc"] <= 1 and facts["rows"] > 20
    assert 0 <= facts["planted_affinity_recall"] <= 1
    rows = read_table(spark, shop["cfg"], table("gold.model_metrics")).where(F.col("model").contains("churn")).collect()
    assert any("oracle_roc_auc" in json.loads(r["metrics"]) for r in rows)


def test_score_without_a_trained_model_exits_2(tmp_path, capsys):
    code = main(["score", "--env", "test", "--warehouse", str(tmp_path / "empty")])
    assert code == 2
    assert "no trained model" in capsys.readouterr().err


def test_a_store_with_customers_and_orders_only_trains_and_scores(tmp_path, spark):
    landing, conf = tmp_path / "landing", tmp_path / "conf"
    generate(landing, GenParams(people=300, seed=8, malformed_rate=0.0, chunk_size=300))
    sources = yaml.safe_load((landing / "sources.yml").read_text())["sources"]
    conf.mkdir()
    keep = [s for s in sources if s["kind"] in ("person", "order", "order_line", "product") and s["name"] != "loyalty"]
    (conf / "sources.yml").write_text(yaml.safe_dump({"sources": keep}))
    cfg = load_config("test", conf, conf_root=REPO / "conf", warehouse=str(tmp_path / "wh"), landing=str(landing))
    ctx = JobContext(cfg)
    for job in ("ingest", "standardize", "resolve", "features"):
        run_job(job, ctx)
    trained = run_job("train", ctx)
    assert "churn" in trained["models"] and "cross_sell" in trained["models"]
    assert any(m.startswith("propensity:") for m in trained["models"])
    scored = run_job("score", ctx)
    assert scored["customers"] > 0 and scored["offers"] > 0
    # the alert rules over tickets and social mentions are left out, not failed
    assert {"churn_risk_with_complaint", "negative_social_mention"} <= set(scored["alerts_left_out"])
