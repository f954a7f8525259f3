"""`c360 evaluate-identity --truth DIR/_truth`: quality of silver.customer_xref against the generator's truth.

Writes pairwise and B-cubed precision/recall/F1, plus the blocking's pairs completeness (share of true
pairs that were candidate pairs) and reduction ratio, to ``gold.model_metrics`` (model
``identity_resolution``, version = the resolve run) and prints them.
"""

from __future__ import annotations

import datetime as dt
import json

import click
from pyspark.sql import functions as F

from c360.errors import UsageError
from c360.io import files
from c360.io.delta import exists, read_table, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.resolve import model as M
from c360.resolve.blocking import record_key
from c360.resolve.evaluate import identity_metrics
from c360.tables import table

log = get_logger(__name__)


def run(ctx: JobContext, truth: str) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    found = [f.path for f in files.list_files(spark, files.join(truth, "person_records_*.parquet"))]
    if not found:
        raise UsageError(f"--truth {truth}: no person_records_*.parquet there (give the generator's _truth folder)")
    truth_df = spark.read.parquet(*found).select("source_system", "source_record_id", "person_id")
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
    joined = xref.join(truth_df, ["source_system", "source_record_id"])
    metrics = identity_metrics(joined)
    metrics["records_without_truth"] = xref.count() - metrics["records"]
    edges_spec = table("silver.identity_edges")
    if exists(spark, cfg, edges_spec):
        t = truth_df.select(record_key().alias("k"), "person_id")
        cand = (read_table(spark, cfg, edges_spec).select("left_key", "right_key")
                .join(t.withColumnRenamed("k", "left_key").withColumnRenamed("person_id", "pl"), "left_key")
                .join(t.withColumnRenamed("k", "right_key").withColumnRenamed("person_id", "pr"), "right_key"))
        true_candidates = cand.where("pl = pr").count()
        n = metrics["records"]
        metrics["candidate_pairs"] = cand.count()
        metrics["pairs_completeness"] = true_candidates / metrics["true_pairs"] if metrics["true_pairs"] else 1.0
        metrics["reduction_ratio"] = 1 - metrics["candidate_pairs"] / max(n * (n - 1) / 2, 1)
    run_id = xref.select(F.max("run_id")).first()[0] or "unknown"
    model = M.load(spark, cfg)
    params = {"match_probability": cfg.resolve.match_probability,
              "model_fingerprint": model.fingerprint if model else None,
              "model_trained_at": model.trained_at if model else None, "truth": files.location(truth)}
    row = spark.createDataFrame(
        [("identity_resolution", run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), json.dumps(params),
          json.dumps(metrics))],
        table("gold.model_metrics").ddl())
    write_table(spark, cfg, table("gold.model_metrics"), row, mode="merge")
    for k, v in metrics.items():
        click.echo(f"{k:>24}: {v:.4f}" if isinstance(v, float) else f"{k:>24}: {v}")
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.items()
            if k in ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f1", "pairs_completeness")}
