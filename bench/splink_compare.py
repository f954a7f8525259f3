"""Side by side with Splink 5 (DuckDB backend) on the same silver.person records c360 resolved.

``python -m bench.splink_compare --warehouse W --truth W/../landing/_truth --people N`` exports the records
and c360's ``silver.customer_xref`` once with Spark (not timed), runs Splink with a model comparable to
c360's default (same fields, blocking rules, u by random sampling, m by EM per blocking rule, threshold
0.9), and scores the clusterings with one pandas implementation of pairwise and B-cubed metrics against
the generator's truth. Appends to bench/identity_quality.csv. Splink is a benchmark-only dependency
(``pip install -e .[bench]``).

Three rows per run:

- ``c360``: the ``c360 resolve`` job of the same bench run (``--c360-seconds``): a fresh JVM, Delta reads
  and writes, cookie logins, stable ids, golden records and object links.
- ``c360-core``: the same work Splink is timed on: c360's matching core (:func:`c360.pipelines.resolve.match`:
  blocking keys, candidate pairs, u sampling, EM, scoring, guarded clustering, no cookie logins) from the
  records in memory to their clusters collected on the driver, with a freshly trained model.
- ``splink-5-duckdb``: training, prediction and clustering from the records in memory.

The core and Splink run ``--runs`` times each, alternating, in one process: the first run is cold (Spark
compiles its generated code), the best of the others is the warm figure in ``seconds``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.__main__ import _machine, append_csv


def metrics(pred: pd.Series, truth: pd.Series) -> dict[str, float]:
    """Pairwise (all pairs inside clusters) and B-cubed precision/recall/F1 from the contingency table."""
    df = pd.DataFrame({"p": pred.to_numpy(), "t": truth.to_numpy()})
    n_ij = df.groupby(["p", "t"]).size()
    a = df.groupby("p").size()
    b = df.groupby("t").size()
    tp = float((n_ij * (n_ij - 1) / 2).sum())
    pp, tpairs = float((a * (a - 1) / 2).sum()), float((b * (b - 1) / 2).sum())
    cells = n_ij.reset_index(name="n")
    cells["a"] = cells["p"].map(a)
    cells["b"] = cells["t"].map(b)
    n = len(df)
    b3p = float((cells["n"] ** 2 / cells["a"]).sum() / n)
    b3r = float((cells["n"] ** 2 / cells["b"]).sum() / n)
    p, r = (tp / pp if pp else 1.0), (tp / tpairs if tpairs else 1.0)
    return {"pairwise_precision": p, "pairwise_recall": r, "pairwise_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "bcubed_f1": 2 * b3p * b3r / (b3p + b3r) if b3p + b3r else 0.0}


def export(warehouse: str, out: Path) -> None:
    from pyspark.sql import functions as F

    from c360.config import load_config
    from c360.io.delta import read_table
    from c360.session import get_spark
    from c360.tables import table

    cfg = load_config("local", warehouse=warehouse)
    spark = get_spark(cfg)
    person = read_table(spark, cfg, table("silver.person"))
    (person.select(F.concat_ws(":", "source_system", "source_record_id").alias("unique_id"),
                   "first_name_key", "last_name_key", F.col("date_of_birth").cast("string").alias("date_of_birth"),
                   F.when(F.col("email_valid"), F.col("email")).alias("email"), "phone", "postcode", "street",
                   "loyalty_id")
     .toPandas().to_parquet(out / "records.parquet"))
    (read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
     .select(F.concat_ws(":", "source_system", "source_record_id").alias("unique_id"), "customer_id")
     .toPandas().to_parquet(out / "c360.parquet"))


def c360_core(warehouse: str, work: Path):
    """A function that runs c360's matching core on ``warehouse``'s silver.person and returns
    ``(unique_id, customer_id)``; the model it trains is written under ``work``, not the warehouse."""
    from pyspark.sql import functions as F

    from c360.config import load_config
    from c360.io.delta import read_table
    from c360.pipelines import JobContext
    from c360.pipelines.resolve import match
    from c360.tables import table

    cfg = load_config("local", warehouse=warehouse)
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"system": str(work / "_system")})})
    ctx = JobContext(cfg=cfg)
    person = read_table(ctx.spark, cfg, table("silver.person")).localCheckpoint()  # in memory, like Splink's
    person.count()

    def run() -> pd.DataFrame:
        found = match(ctx, person, retrain=True)
        return (found.clusters.where("is_record")
                .select(F.col("id").alias("unique_id"), F.col("cluster").alias("customer_id")).toPandas())

    return run


def run_splink(records: pd.DataFrame) -> pd.DataFrame:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    # c360's default rules; DuckDB has no soundex, so the phonetic keys are exact names here
    rules = [block_on("email"), block_on("phone"), block_on("loyalty_id"),
             block_on("last_name_key", "postcode", "substr(first_name_key, 1, 1)"), block_on("street", "postcode"),
             block_on("date_of_birth", "first_name_key"), block_on("date_of_birth", "last_name_key")]
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id", blocking_rules_to_generate_predictions=rules,
        comparisons=[cl.NameComparison("first_name_key").configure(term_frequency_adjustments=True),
                     cl.NameComparison("last_name_key").configure(term_frequency_adjustments=True),
                     cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
                     cl.EmailComparison("email"), cl.ExactMatch("phone"), cl.ExactMatch("postcode"),
                     cl.JaroWinklerAtThresholds("street", [0.9]), cl.ExactMatch("loyalty_id")])
    db = DuckDBAPI()
    linker = Linker(db.register(records), settings)
    linker.training.estimate_probability_two_random_records_match([block_on("email"), block_on("phone")], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
    for rule in (block_on("date_of_birth"), block_on("email"), block_on("last_name_key", "postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.9)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.9)
    return clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.splink_compare")
    p.add_argument("--warehouse", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--people", type=int, required=True)
    p.add_argument("--c360-seconds", type=float, default=None, help="c360 resolve time of the same run")
    p.add_argument("--runs", type=int, default=3, help="runs of the c360 core and of Splink, alternating")
    p.add_argument("--out", default="bench/identity_quality.csv")
    a = p.parse_args(argv)
    truth = pd.concat(pd.read_parquet(f) for f in sorted(Path(a.truth).glob("person_records_*.parquet")))
    truth["unique_id"] = truth["source_system"] + ":" + truth["source_record_id"]
    times: dict[str, list[float]] = {"c360-core": [], "splink-5-duckdb": []}
    with tempfile.TemporaryDirectory() as tmp:
        export(a.warehouse, Path(tmp))
        records = pd.read_parquet(Path(tmp) / "records.parquet")
        c360 = pd.read_parquet(Path(tmp) / "c360.parquet")
        runners = {"c360-core": c360_core(a.warehouse, Path(tmp)), "splink-5-duckdb": lambda: run_splink(records)}
        out: dict[str, pd.DataFrame] = {}
        for _ in range(a.runs):
            for tool, fn in runners.items():
                t0 = time.perf_counter()
                out[tool] = fn()
                times[tool].append(time.perf_counter() - t0)
    rows = []
    for tool, df, col, measured in (
            ("c360", c360, "customer_id", "resolve job (one run)"),
            ("c360-core", out["c360-core"], "customer_id", "matching core, best warm run"),
            ("splink-5-duckdb", out["splink-5-duckdb"], "cluster_id", "train+predict+cluster, best warm run")):
        j = df.merge(truth[["unique_id", "person_id"]], on="unique_id")
        m = metrics(j[col], j["person_id"])
        runs = times.get(tool, [a.c360_seconds] if a.c360_seconds is not None else [])
        secs = min(runs[1:] or runs) if runs else None
        rows.append([dt.date.today().isoformat(), _machine(), a.people, len(records), tool,
                     None if secs is None else round(secs, 1), *[round(v, 5) for v in m.values()], measured,
                     round(runs[0], 1) if runs else None, " ".join(f"{t:.1f}" for t in runs)])
        print(f"{tool}: seconds={secs} runs={runs} " + " ".join(f"{k}={v:.4f}" for k, v in m.items()),
              file=sys.stderr)
    core, splink = min(times["c360-core"][1:] or times["c360-core"]), min(times["splink-5-duckdb"][1:]
                                                                           or times["splink-5-duckdb"])
    print(f"splink-compare: warm c360 core {core:.1f} s, Splink {splink:.1f} s, ratio {core / splink:.2f}",
          file=sys.stderr)
    append_csv(a.out, ["date", "machine", "people", "records", "tool", "seconds", "pairwise_precision",
                       "pairwise_recall", "pairwise_f1", "bcubed_f1", "measured", "cold_seconds", "run_seconds"],
               rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
