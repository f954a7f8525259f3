"""Clustering quality against ground truth: pairwise precision/recall/F1 (all pairs inside clusters, so
transitive pairs count) and B-cubed precision/recall/F1 (Bagga & Baldwin 1998), from one contingency table.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def identity_metrics(df: DataFrame, predicted: str = "customer_id", truth: str = "person_id") -> dict[str, float]:
    """``df``: one row per record with its predicted cluster and its true entity."""
    cells = df.groupBy(predicted, truth).agg(F.count(F.lit(1)).alias("n"))
    a = df.groupBy(predicted).agg(F.count(F.lit(1)).alias("a"))
    b = df.groupBy(truth).agg(F.count(F.lit(1)).alias("b"))
    row = (cells.join(a, predicted).join(b, truth)
           .agg(F.sum("n").alias("records"),
                F.sum(F.col("n") * (F.col("n") - 1) / 2).alias("tp"),
                F.sum(F.col("n") * F.col("n") / F.col("a")).alias("b3p"),
                F.sum(F.col("n") * F.col("n") / F.col("b")).alias("b3r")).first())
    pred_pairs = a.agg(F.sum(F.col("a") * (F.col("a") - 1) / 2)).first()[0] or 0
    true_pairs = b.agg(F.sum(F.col("b") * (F.col("b") - 1) / 2)).first()[0] or 0
    n = row["records"] or 0
    tp = row["tp"] or 0
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    b3p = (row["b3p"] or 0) / n if n else 1.0
    b3r = (row["b3r"] or 0) / n if n else 1.0
    return {"records": int(n), "predicted_clusters": a.count(), "true_entities": b.count(),
            "true_pairs": int(true_pairs), "predicted_pairs": int(pred_pairs), "true_positive_pairs": int(tp),
            "pairwise_precision": precision, "pairwise_recall": recall, "pairwise_f1": _f1(precision, recall),
            "bcubed_precision": b3p, "bcubed_recall": b3r, "bcubed_f1": _f1(b3p, b3r)}
