"""Binary classifiers as Spark ML pipelines: assembly, class weights, cross-validated tuning within a time
budget, calibrated probabilities, held-out metrics and the top drivers by name.

The pipeline is self-contained (casts, imputation, one-hot encoding, scaling, the estimator), so a saved
model scores a features table as it is. Rows are weighted so that each class weighs half (``balanced``); the
weighting multiplies the model's odds by ``w_pos / w_neg``, and :func:`predict` divides it out again (a
prior-shift correction), so the probabilities stay calibrated.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    SQLTransformer,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.stats import rankdata

from c360.config.models import ClassifierConfig
from c360.log import get_logger

log = get_logger(__name__)


@dataclass
class Spec:
    """What a model reads: the numeric and categorical input columns, and the odds correction for the class
    weights it was trained with (saved beside the model)."""

    numeric: list[str]
    categorical: list[str]
    odds_correction: float = 1.0
    horizon_days: int = 90
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"numeric": self.numeric, "categorical": self.categorical, "odds_correction": self.odds_correction,
                "horizon_days": self.horizon_days, **self.extra}


def _estimator(kind: str, seed: int):
    if kind == "logistic":
        # the inputs are standardised already; 1e-4 on the loss is far below what moves a ranking
        return LogisticRegression(featuresCol="features", labelCol="label", weightCol="weight", maxIter=50,
                                  tol=1e-4, standardization=False)
    return GBTClassifier(featuresCol="features", labelCol="label", weightCol="weight", seed=seed)


def build_preparation(spec: Spec) -> Pipeline:
    """Cast the numeric inputs to double, fill their nulls with the training median, one-hot encode the
    categorical inputs (unseen values: their own slot), assemble and standardise into ``features``."""
    cast = ", ".join(f"CAST(`{c}` AS DOUBLE) AS `_n_{c}`" for c in spec.numeric)
    stages = [SQLTransformer(statement=f"SELECT *{', ' + cast if cast else ''} FROM __THIS__")]
    inputs = []
    if spec.numeric:
        stages.append(Imputer(strategy="median", inputCols=[f"_n_{c}" for c in spec.numeric],
                              outputCols=[f"_i_{c}" for c in spec.numeric]))
        inputs += [f"_i_{c}" for c in spec.numeric]
    if spec.categorical:
        stages.append(StringIndexer(inputCols=spec.categorical, outputCols=[f"_x_{c}" for c in spec.categorical],
                                    handleInvalid="keep", stringOrderType="frequencyDesc"))
        stages.append(OneHotEncoder(inputCols=[f"_x_{c}" for c in spec.categorical],
                                    outputCols=[f"_o_{c}" for c in spec.categorical], handleInvalid="keep"))
        inputs += [f"_o_{c}" for c in spec.categorical]
    stages.append(VectorAssembler(inputCols=inputs, outputCol="_raw", handleInvalid="keep"))
    stages.append(StandardScaler(inputCol="_raw", outputCol="features", withMean=False, withStd=True))
    return Pipeline(stages=stages)


def with_weights(df: DataFrame, mode: str) -> tuple[DataFrame, float]:
    """A ``weight`` column (``balanced``: each class weighs half of the rows) and the odds correction
    ``w_neg / w_pos`` that undoes it."""
    if mode == "none":
        return df.withColumn("weight", F.lit(1.0)), 1.0
    row = df.agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("pos")).first()
    n, pos = row["n"], row["pos"] or 0.0
    w_pos, w_neg = n / (2.0 * max(pos, 1.0)), n / (2.0 * max(n - pos, 1.0))
    return df.withColumn("weight", F.when(F.col("label") > 0, w_pos).otherwise(w_neg)), w_neg / w_pos


def _grid(cfg: ClassifierConfig) -> list[dict]:
    grid = cfg.tuning.grid.get(cfg.estimator) or {}
    names = sorted(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))] or [{}]


def _with_params(estimator, params: dict):
    return estimator.copy({estimator.getParam(k): v for k, v in params.items()})


def tune(prepared_df: DataFrame, estimator, cfg: ClassifierConfig, seed: int) -> tuple[dict, list[dict]]:
    """The grid point with the best mean ROC AUC over ``tuning.folds`` folds of the prepared training rows
    (folds by a seeded hash of the customer id). Grid points are tried in order until ``tuning.max_seconds``
    have passed; one grid point needs no cross-validation."""
    grid = _grid(cfg)
    if len(grid) == 1:
        return grid[0], [{"params": grid[0], "cv_roc_auc": None}]
    k = cfg.tuning.folds
    fold = F.pmod(F.xxhash64(F.lit(seed + 1), F.col("customer_id")), F.lit(k))
    data = prepared_df.withColumn("_fold", fold).cache()
    evaluator = BinaryClassificationEvaluator(rawPredictionCol="rawPrediction", labelCol="label",
                                              weightCol="weight", metricName="areaUnderROC")
    t0 = time.perf_counter()
    tried = []
    for params in grid:
        if tried and time.perf_counter() - t0 > cfg.tuning.max_seconds:
            log.warning("tuning: time budget spent", tried=len(tried), skipped=len(grid) - len(tried),
                        max_seconds=cfg.tuning.max_seconds)
            break
        est = _with_params(estimator, params)
        aucs = [evaluator.evaluate(est.fit(data.where(F.col("_fold") != i)).transform(data.where(F.col("_fold") == i)))
                for i in range(k)]
        tried.append({"params": params, "cv_roc_auc": round(float(np.mean(aucs)), 5)})
    data.unpersist()
    best = max(tried, key=lambda t: t["cv_roc_auc"])
    return best["params"], tried


def fit(train_df: DataFrame, spec: Spec, cfg: ClassifierConfig, seed: int,
        preparation: PipelineModel | None = None) -> tuple[PipelineModel, Spec, dict]:
    """Weight, prepare, tune and fit on ``train_df(customer_id, label, inputs...)``; returns the whole fitted
    pipeline (preparation + estimator), the spec with its odds correction, and the tuning record. A fitted
    ``preparation`` (shared by the models of one family: the same inputs, other labels) is used as it is."""
    weighted, correction = with_weights(train_df, cfg.class_weight)
    if preparation is None:
        preparation = build_preparation(spec).fit(weighted)
    prepared = preparation.transform(weighted).select("customer_id", "label", "weight", "features").cache()
    estimator = _estimator(cfg.estimator, seed)
    params, tried = tune(prepared, estimator, cfg, seed)
    est_model = _with_params(estimator, params).fit(prepared)
    prepared.unpersist()
    spec.odds_correction = correction
    model = PipelineModel(stages=[*preparation.stages, est_model])
    return model, spec, {"estimator": cfg.estimator, "best_params": params, "grid": tried,
                         "class_weight": cfg.class_weight}


def predict(model: PipelineModel, spec: Spec, features_df: DataFrame, out: str = "probability_1") -> DataFrame:
    """``features_df`` with ``out``: the calibrated probability of the positive class. Inputs the features
    table lacks are added as nulls (the imputer fills them with the training median)."""
    missing = [c for c in spec.numeric if c not in features_df.columns]
    df = features_df.select("*", *[F.lit(None).cast("double").alias(c) for c in missing],
                            *[F.lit(None).cast("string").alias(c) for c in spec.categorical
                              if c not in features_df.columns])
    scored = model.transform(df)
    p = vector_to_array("probability")[1]
    r = F.lit(spec.odds_correction)
    keep = [c for c in features_df.columns]
    return scored.select(*keep, (p * r / (p * r + (F.lit(1.0) - p))).alias(out))


def metrics(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> dict:
    """Held-out metrics: ROC AUC (Mann-Whitney, ties halved), PR AUC (average precision), Brier score, the
    calibration table over ``bins`` equal-count bins, and lift and capture in the top decile."""
    y, p = np.asarray(labels, float), np.asarray(probs, float)
    n, pos = len(y), float(y.sum())
    out: dict = {"rows": int(n), "positives": int(pos), "base_rate": round(pos / n, 5) if n else None}
    if n == 0 or pos in (0, n):
        return out
    ranks = rankdata(p)
    out["roc_auc"] = round(float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (n - pos))), 5)
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    # average precision over distinct thresholds (tied scores are one threshold)
    ps = p[order]
    last = np.r_[ps[1:] != ps[:-1], True]
    tp = np.cumsum(ys)[last]
    k = np.arange(1, n + 1)[last]
    recall_step = np.diff(np.r_[0.0, tp / pos])
    out["pr_auc"] = round(float(np.sum(recall_step * tp / k)), 5)
    out["brier"] = round(float(np.mean((p - y) ** 2)), 5)
    frame = pd.DataFrame({"p": p, "y": y})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, n), labels=False)
    cal = frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), rows=("y", "size"))
    out["calibration"] = [{k2: (round(float(v), 4) if k2 != "rows" else int(v)) for k2, v in r.items()}
                          for r in cal.to_dict("records")]
    top = max(int(round(n * 0.1)), 1)
    top_rate = float(ys[:top].mean())
    out["top_decile_lift"] = round(top_rate / (pos / n), 4)
    out["top_decile_capture"] = round(float(ys[:top].sum() / pos), 4)
    return out


def drivers(model: PipelineModel, spec: Spec, sample_df: DataFrame, top: int = 10) -> list[dict]:
    """The inputs that weigh most: standardised coefficients (logistic) or feature importances (trees), named
    after the feature columns (one-hot slots as ``column=value``)."""
    raw = model.transform(sample_df.limit(1)).schema["_raw"].metadata.get("ml_attr", {})
    names: dict[int, str] = {}
    for group in raw.get("attrs", {}).values():
        for a in group:
            names[a["idx"]] = _pretty(a.get("name", str(a["idx"])), spec)
    est = model.stages[-1]
    weights = est.coefficients.toArray() if hasattr(est, "coefficients") else est.featureImportances.toArray()
    order = np.argsort(-np.abs(weights), kind="stable")[:top]
    return [{"feature": names.get(int(i), str(i)), "weight": round(float(weights[i]), 5)} for i in order
            if weights[i] != 0]


def _pretty(name: str, spec: Spec) -> str:
    if name.startswith("_i_"):
        return name[3:]
    for c in spec.categorical:
        if name.startswith(f"_o_{c}_"):
            return f"{c}={name[len(c) + 4:]}"
    return name
