"""Model building blocks on hand-built rows: labels and their windows, metrics against scikit-learn, the
oracle against a simulation of the generator's process, offer ranking, the acceptance posterior, suppression
and alerts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from c360.config.models import AlertConfig, OfferConfig
from c360.models import alerts, classifier, dataset, offers, oracle

D = dt.date(2025, 3, 31)


def test_churn_labels_look_only_at_the_window_after_the_cutoff(spark):
    feats = spark.createDataFrame([("a", 2), ("b", 1), ("c", 3), ("d", 0)], "customer_id string, frequency long")
    orders = spark.createDataFrame(
        [("a", "2025-03-31 23:59:00"),     # the cutoff's own day: before the window
         ("b", "2025-04-01 00:00:00"),     # first second of the window
         ("c", "2025-06-29 23:59:59"),     # last day of a 90-day window
         ("c", "2025-06-30 00:00:00"),     # day 91: after it
         ("d", "2025-04-10 10:00:00")],    # no order by the cutoff: not in the population
        "customer_id string, order_ts string").selectExpr("customer_id", "cast(order_ts as timestamp) order_ts")
    got = {r["customer_id"]: r["label"] for r in dataset.churn_labels(feats, orders, D, 90).collect()}
    assert got == {"a": 1.0, "b": 0.0, "c": 0.0}


def test_category_and_offer_labels(spark):
    feats = spark.createDataFrame([("a", 1), ("b", 1)], "customer_id string, frequency long")
    purchases = spark.createDataFrame(
        [("a", "2025-04-02 10:00:00", "books"), ("a", "2025-03-02 10:00:00", "toys"),
         ("b", "2025-05-02 10:00:00", "toys")], "customer_id string, order_ts string, category string"
    ).selectExpr("customer_id", "cast(order_ts as timestamp) order_ts", "category")
    got = {(r["customer_id"], r["target"]): r["label"]
           for r in dataset.category_labels(feats, purchases, D, 90, ["books", "toys"]).collect()}
    assert got == {("a", "books"): 1.0, ("a", "toys"): 0.0, ("b", "books"): 0.0, ("b", "toys"): 1.0}
    responses = spark.createDataFrame(
        [("a", "x", "2025-04-05 10:00:00", "accepted"), ("a", "x", "2025-04-06 10:00:00", "ignored"),
         ("b", "x", "2025-04-05 10:00:00", "declined"), ("b", "y", "2025-01-05 10:00:00", "accepted")],
        "customer_id string, offer string, sent_at string, response string"
    ).selectExpr("customer_id", "offer", "cast(sent_at as timestamp) sent_at", "response")
    got = {(r["customer_id"], r["target"]): r["label"] for r in dataset.offer_labels(responses, D, 90).collect()}
    assert got == {("a", "offer:x"): 1.0, ("b", "offer:x"): 0.0}


def test_metrics_equal_scikit_learn():
    rng = np.random.default_rng(5)
    y = (rng.random(2000) < 0.3).astype(float)
    p = np.clip(0.3 + 0.25 * (y - 0.3) + rng.normal(0, 0.2, 2000), 0, 1).round(2)   # ties on purpose
    m = classifier.metrics(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-5)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-5)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-5)
    top = np.argsort(-p, kind="stable")[:200]
    assert m["top_decile_capture"] == pytest.approx(y[top].sum() / y.sum(), abs=1e-4)
    assert sum(b["rows"] for b in m["calibration"]) == 2000 and len(m["calibration"]) == 10


def test_weights_balance_the_classes_and_the_correction_undoes_them(spark):
    df = spark.createDataFrame([(float(i < 2),) for i in range(10)], "label double")
    weighted, correction = classifier.with_weights(df, "balanced")
    w = {r["label"]: r["weight"] for r in weighted.distinct().collect()}
    assert w[1.0] * 2 == pytest.approx(5.0) and w[0.0] * 8 == pytest.approx(5.0)     # each class weighs half
    assert correction == pytest.approx(w[0.0] / w[1.0])


def _simulate(rate, q, active_from, churn_at, w0, w1, cutoff, horizon_days, end, rng, runs=4000):
    """The generator's order process for one person, given alive at the cutoff, many times over."""
    day = oracle.DAY
    none = 0
    for _ in range(runs):
        # churn time given survival to the cutoff: the generator's draw, rejected until after the cutoff
        while True:
            T = w0 + rng.random() * (w1 - w0) if rng.random() < q else np.inf
            if T > cutoff:
                break
        lo, hi = max(active_from, cutoff), min(cutoff + horizon_days * day, end, T)
        n = rng.poisson(rate / (365 * day) * max(hi - lo, 0))
        ts = lo + rng.random(n) * (hi - lo)
        keep = rng.random(n) < np.clip((T - ts) / (120 * day), 0.15, 1.0)
        kept = keep & (rng.random(n) >= 0.03)
        none += not kept.any()
    return none / runs


def test_oracle_equals_a_simulation_of_the_generator():
    day = oracle.DAY
    w0, w1, end = 0.0, 600 * day, 700 * day
    cutoff, h = 400 * day, 90
    people = [(2.0, 0.25, 0.0), (0.6, 0.55, 100 * day), (3.5, 0.9, 0.0), (1.0, 0.0, 0.0)]
    rng = np.random.default_rng(11)
    got = oracle.p_no_purchase(np.array([p[0] for p in people]), np.array([p[1] for p in people]),
                               np.array([p[2] for p in people]), np.full(len(people), np.inf), w0, w1, cutoff, h,
                               end, t_steps=180, T_steps=200)
    for (rate, q, af), g in zip(people, got, strict=True):
        assert g == pytest.approx(_simulate(rate, q, af, np.inf, w0, w1, cutoff, h, end, rng), abs=0.025)
    dead = oracle.p_no_purchase(np.array([2.0]), np.array([0.5]), np.array([0.0]), np.array([300 * day]),
                                w0, w1, cutoff, h, end)
    assert dead[0] == 1.0


OFFERS = [OfferConfig(id="books", kind="category", category="books", value="10", cost=1.0),
          OfferConfig(id="winback", kind="retention", value="clv * 0.5", cost=2.0, response_offer="wb",
                      eligibility="churn_risk = 'high'")]


def _customers(spark):
    return spark.createDataFrame(
        [("k1", "gold", "high", 100.0, {"books": 0.5}), ("k2", "gold", "low", 100.0, {"books": 0.3}),
         ("k3", "bronze", "high", 10.0, {"books": 0.2})],
        "customer_id string, segment string, churn_risk string, clv double, propensity map<string,double>")


def _acceptance(spark, rows):
    responses = spark.createDataFrame(rows, "customer_id string, offer string, response string")
    segments = _customers(spark).select("customer_id", "segment")
    return offers.acceptance(responses, segments, OFFERS)


def test_offers_rank_by_expected_value_with_the_segment_posterior(spark):
    cand = offers.candidates(_customers(spark), OFFERS, "segment", set())
    acc = _acceptance(spark, [])
    got = {(r["customer_id"], r["rank"]): (r["offer_id"], r["expected_value"])
           for r in offers.rank(cand, acc, prior_strength=10, top_n=2).collect()}
    # no responses yet: P(accept) is the model's; winback's model is its base rate 0.05
    assert got == {("k1", 1): ("books", round(0.5 * 10 - 1, 4)), ("k1", 2): ("winback", round(0.05 * 50 - 2, 4)),
                   ("k2", 1): ("books", round(0.3 * 10 - 1, 4)),
                   ("k3", 1): ("books", round(0.2 * 10 - 1, 4))}
    # k3's winback: 0.05 x 5 - 2 < 0, never offered


def test_a_new_round_of_responses_changes_the_ranking(spark):
    cand = offers.candidates(_customers(spark), OFFERS, "segment", set())
    # gold customers accepted the win-back 9 times out of 10 sends, books 0 of 10: win-back now comes first
    rows = [("k2", "wb", "accepted")] * 9 + [("k2", "wb", "ignored")] + [("k1", "books", "declined")] * 10
    got = {(r["customer_id"], r["rank"]): (r["offer_id"], r["p_accept"])
           for r in offers.rank(cand, _acceptance(spark, rows), prior_strength=10, top_n=2).collect()}
    m0_books = (0.5 + 0.3) / 2                       # the model's mean P(accept) for books in gold
    m1_books = (10 * m0_books + 0) / (10 + 10)
    m1_wb = (10 * 0.05 + 9) / (10 + 10)              # winback's prior mean: its base rate
    assert got[("k1", 1)] == ("winback", round(0.05 * m1_wb / 0.05, 5))
    assert got[("k1", 2)] == ("books", round(0.5 * m1_books / m0_books, 5))
    assert got[("k2", 1)] == ("books", round(0.3 * m1_books / m0_books, 5))
    # bronze saw no responses: unchanged
    assert got[("k3", 1)] == ("books", 0.2)


def test_suppression_reasons(spark):
    customers = spark.createDataFrame(
        [("k1", False), ("k2", None), ("k3", True), ("k4", True), ("k5", True), ("k6", True)],
        "customer_id string, marketing_consent boolean")
    tickets = spark.createDataFrame(
        [("k3", "complaint", "open", "2025-03-01 10:00:00"), ("k4", "complaint", "closed", "2025-03-01 10:00:00"),
         ("k4", "inquiry", "open", "2025-03-01 10:00:00"), ("k6", "complaint", "open", "2025-04-05 10:00:00")],
        "customer_id string, category string, status string, created_at string"
    ).selectExpr("customer_id", "category", "status", "cast(created_at as timestamp) created_at")
    responses = spark.createDataFrame(
        [("k5", "2025-03-25 10:00:00"), ("k4", "2025-03-10 10:00:00")], "customer_id string, sent_at string"
    ).selectExpr("customer_id", "cast(sent_at as timestamp) sent_at")
    got = {r["customer_id"]: r["suppressed_by"] for r in offers.suppressions(
        customers, tickets, responses, D, 14, ["complaint"], ["open"], "allow").collect()}
    # k4: a closed complaint, an open inquiry, a send 21 days ago; k6: the complaint comes after as_of
    assert got == {"k1": "no_consent", "k3": "open_complaint", "k5": "cooldown"}
    strict = {r["customer_id"] for r in offers.suppressions(customers, None, None, D, 14, [], [], "suppress")
              .collect()}
    assert strict == {"k1", "k2"}


def test_alerts_hold_where_the_rule_does_and_skip_rules_on_missing_columns(spark):
    df = spark.createDataFrame([("k1", "high", 5), ("k2", "low", 2), ("k3", "high", 90)],
                               "customer_id string, churn_risk string, days_since_last_complaint int")
    rules = [AlertConfig(name="risk_complaint", when="churn_risk = 'high' AND days_since_last_complaint <= 30",
                         severity="high", action="call", evidence=["churn_risk", "days_since_last_complaint"]),
             AlertConfig(name="social", when="mention_sentiment < -0.3", action="reply")]
    out, skipped = alerts.raise_alerts(df, rules, D)
    rows = out.collect()
    assert [(r["customer_id"], r["alert"], r["severity"]) for r in rows] == [("k1", "risk_complaint", "high")]
    assert rows[0]["evidence"] == '{"churn_risk":"high","days_since_last_complaint":5}'
    assert skipped == ["social"]


def test_marketing_alerts_reach_only_customers_who_may_be_marketed_to(spark):
    df = spark.createDataFrame([("yes", True, 1.0), ("no", False, 1.0), ("unknown", None, 1.0)],
                               "customer_id string, marketing_consent boolean, cart_abandonment_rate_7d double")
    rules = [AlertConfig(name="cart", when="cart_abandonment_rate_7d > 0", action="remind", purpose="marketing"),
             AlertConfig(name="care", when="cart_abandonment_rate_7d > 0", action="call")]

    def raised(unknown):
        out, _ = alerts.raise_alerts(df, rules, D, unknown)
        return {(r["alert"], r["customer_id"]) for r in out.collect()}

    service = {("care", "yes"), ("care", "no"), ("care", "unknown")}
    assert raised("allow") == service | {("cart", "yes"), ("cart", "unknown")}
    assert raised("suppress") == service | {("cart", "yes")}


def test_runs_are_tracked_in_mlflow_when_it_is_installed(monkeypatch, cfg):
    """store.track against a stand-in mlflow module that records the calls (mlflow is an optional extra)."""
    import sys
    import types

    from c360.models import store

    calls = []
    fake = types.ModuleType("mlflow")
    fake.set_tracking_uri = lambda uri: calls.append(("uri", uri))
    fake.set_experiment = lambda name: calls.append(("experiment", name))

    class Run:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    fake.start_run = lambda run_name: calls.append(("run", run_name)) or Run()
    fake.set_tags = lambda tags: calls.append(("tags", tags))
    fake.log_params = lambda p: calls.append(("params", p))
    fake.log_metrics = lambda m: calls.append(("metrics", m))
    fake.spark = types.ModuleType("mlflow.spark")
    fake.spark.log_model = lambda model, artifact_path: calls.append(("model", artifact_path))
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.setitem(sys.modules, "mlflow.spark", fake.spark)
    cfg.models.mlflow.enabled = "auto"                     # conf/test turns it off
    assert store.track(cfg, "churn", "v1", {"estimator": "gbt", "cutoffs": ["2025-01-01"]},
                       {"roc_auc": 0.8, "calibration": [], "rows": 10}, model=object())
    got = dict(calls)
    assert got["uri"].endswith("_system/mlruns") and got["run"] == "churn-v1"
    assert got["params"] == {"estimator": "gbt", "cutoffs": '["2025-01-01"]'}
    assert got["metrics"] == {"roc_auc": 0.8, "rows": 10.0} and got["model"] == "model"
    cfg.models.mlflow.enabled = False
    assert store.track(cfg, "churn", "v1", {}, {}, None) is False


def test_mlflow_required_but_missing_is_a_clear_error(monkeypatch, cfg):
    import sys

    from c360.errors import NotTrainedError
    from c360.models import store

    monkeypatch.setitem(sys.modules, "mlflow", None)        # import mlflow raises ImportError
    cfg.models.mlflow.enabled = True
    with pytest.raises(NotTrainedError, match="pip install 'c360\\[mlflow\\]'"):
        store.track(cfg, "churn", "v1", {}, {}, None)
    cfg.models.mlflow.enabled = "auto"
    assert store.track(cfg, "churn", "v1", {}, {}, None) is False
