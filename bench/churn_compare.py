"""Churn side by side: c360's Spark ML pipelines and scikit-learn on the same training rows and split.

``python -m bench.churn_compare --warehouse W [--as-of D]`` builds the churn training rows as ``c360 train``
does (features as of ``D - horizon``, labels from the horizon, the seeded customer split), then fits on the
training customers and measures ROC AUC on the held-out ones, timing each fit (preparation included):

- Spark ML: :func:`c360.models.classifier.fit` with gradient-boosted trees and with logistic regression (the
  conf's first grid point of each, no cross-validation, balanced class weights);
- scikit-learn: ``HistGradientBoostingClassifier`` and ``LogisticRegression`` (median imputation, one-hot,
  standard scaling, ``class_weight='balanced'``) on the same columns, collected to pandas (collection not
  timed).

Appends to ``bench/results/churn-compare-<date>.csv``: one row per engine and estimator, with the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import numpy as np

from bench.__main__ import _machine, append_csv, result_file


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.churn_compare")
    p.add_argument("--warehouse", required=True)
    p.add_argument("--env", default="local")
    p.add_argument("--as-of", default=None)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)

    from pyspark.sql import functions as F
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from c360.config import load_config
    from c360.models import classifier, dataset
    from c360.pipelines import JobContext
    from c360.pipelines.history import load as load_history
    from c360.pipelines.train import FeaturesAsOf, family_inputs

    cfg = load_config(a.env, warehouse=a.warehouse)
    ctx = JobContext(cfg)
    mc = cfg.models
    hist = load_history(ctx, "bench")
    as_of = dt.date.fromisoformat(a.as_of) if a.as_of else hist.newest
    cutoff = as_of - dt.timedelta(days=mc.churn.horizon_days)
    feats = FeaturesAsOf(ctx, [])(cutoff)
    rows = feats.join(dataset.churn_labels(feats, hist.orders, cutoff, mc.churn.horizon_days), "customer_id")
    rows = rows.withColumn("_test", dataset.is_held_out(mc.test_fraction, mc.seed)).cache()
    numeric, cats = family_inputs(ctx, rows.drop("_test"), "churn")
    train, test = rows.where(~F.col("_test")), rows.where(F.col("_test"))
    n_train, n_test = train.count(), test.count()
    results = []
    for est in ("gbt", "logistic"):
        mcfg = mc.churn.model_copy(deep=True)
        mcfg.estimator = est
        grid = mcfg.tuning.grid.get(est, {})
        mcfg.tuning.grid = {est: {k: v[:1] for k, v in grid.items()}}
        t0 = time.perf_counter()
        model, spec, _ = classifier.fit(train, classifier.Spec(list(numeric), list(cats)), mcfg, mc.seed)
        fit_s = time.perf_counter() - t0
        pred = classifier.predict(model, spec, test).select("label", "probability_1").toPandas()
        auc = roc_auc_score(pred["label"], pred["probability_1"])
        results.append(("spark_ml", est, fit_s, auc))
        print(f"spark ml {est}: AUC {auc:.4f}, fit {fit_s:.1f} s", file=sys.stderr)

    cols = numeric + cats
    tr = train.select("label", *cols).toPandas()
    te = test.select("label", *cols).toPandas()
    for c in numeric:
        tr[c], te[c] = tr[c].astype(float), te[c].astype(float)
    prep = ColumnTransformer([("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                              ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="_none"),
                                                    OneHotEncoder(handle_unknown="ignore")), cats)])
    gbt_depth = mc.churn.tuning.grid.get("gbt", {}).get("maxDepth", [5])[0]
    gbt_iter = mc.churn.tuning.grid.get("gbt", {}).get("maxIter", [40])[0]
    sk = {"gbt": HistGradientBoostingClassifier(max_depth=int(gbt_depth), max_iter=int(gbt_iter),
                                                class_weight="balanced", random_state=mc.seed),
          "logistic": LogisticRegression(max_iter=1000, class_weight="balanced")}
    for est, clf in sk.items():
        pipe = make_pipeline(prep, clf)
        t0 = time.perf_counter()
        pipe.fit(tr[cols], tr["label"].to_numpy())
        fit_s = time.perf_counter() - t0
        auc = roc_auc_score(te["label"], pipe.predict_proba(te[cols])[:, 1])
        results.append(("scikit_learn", est, fit_s, auc))
        print(f"scikit-learn {est}: AUC {auc:.4f}, fit {fit_s:.1f} s", file=sys.stderr)

    base = {(e, est): (s, auc) for e, est, s, auc in results}
    out = a.out or result_file("churn-compare")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    append_csv(out, ["date", "machine", "rows_train", "rows_test", "engine", "estimator", "fit_seconds", "roc_auc",
                     "time_ratio_to_sklearn", "auc_ratio_to_sklearn"],
               [[stamp, _machine(), n_train, n_test, e, est, round(s, 2), round(auc, 4),
                 round(s / base[("scikit_learn", est)][0], 2), round(auc / base[("scikit_learn", est)][1], 4)]
                for e, est, s, auc in results])
    print(f"results: {out}", file=sys.stderr)
    return 0 if np.isfinite([r[3] for r in results]).all() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
