"""Behaviour segments: Spark ML KMeans over standardised customer features (seeded, so a re-run gives the same
segments)."""

from __future__ import annotations

from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import SegmentsConfig
from c360.features.customer import segment_names


def behaviour_segments(df: DataFrame, s: SegmentsConfig) -> tuple[DataFrame, dict]:
    """Spark ML KMeans on the standardised ``s.features``; each segment named by its centroid's most
    distinctive features. Returns the rows with ``behaviour_segment`` and the segments' description."""
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
    names = segment_names(centers, feats)
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
