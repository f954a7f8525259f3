"""Side by side with Splink 5 (DuckDB backend) on the same silver.person records c360 resolved.

``python -m bench.splink_compare --warehouse W --truth W/../landing/_truth --people N`` exports the records
and c360's ``silver.customer_xref`` once with Spark (not timed), runs Splink with a model comparable to
c360's default (same fields, blocking rules, u by random sampling, m by EM per blocking rule, threshold
0.9), and scores the clusterings with one pandas implementation of pairwise and B-cubed metrics against
the generator's truth. Writes ``bench/results/identity-<date>.csv``. Splink is a benchmark-only dependency
(``pip install -e .[bench]``).

Rows per run:

- ``c360`` (only with ``--c360-seconds``): the ``c360 resolve`` job of the same bench run: a fresh JVM,
  Delta reads and writes, cookie logins, stable ids, golden records and object links.
- ``c360-core``: the same work Splink is timed on: c360's matching core (:func:`c360.resolve.matching.match`:
  blocking keys, candidate pairs, u sampling, EM, scoring, guarded clustering, no cookie logins) from the
  records in memory to their clusters collected on the driver, with a freshly trained model.
- ``splink-5-duckdb``: training, prediction and clustering from the records in memory.

Each tool runs ``--runs`` times in a process of its own (first the core, in the process that exported the
records, then Splink), so that neither's memory counts against the other: at a million people Splink
alone peaks near 20 GB, and beside a live JVM it was killed for want of memory. The first run is cold
(Spark compiles its generated code), the best of the others is the warm figure in ``seconds``. Five runs by
default: the core's JVM is still warming up (JIT) over its first runs (at 100k: 46, 26, 24, 20, 19 s)
while Splink is flat from its second (10, 9.1, 9.2, 9.8, 9.1 s), so three runs under-state the core's warm time;
``peak_rss_mb`` is the process's peak resident memory (for the core: the JVM's plus the Python driver's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.__main__ import _machine, append_csv, result_file


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


def export(warehouse: str, out: Path, job: bool = True) -> None:
    """The records (``records.parquet``) and, with ``job``, the job's clusters (``c360.parquet``)."""
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
    if not job:
        return
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
    from c360.resolve.matching import match
    from c360.tables import table

    cfg = load_config("local", warehouse=warehouse)
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"system": str(work / "_system")})})
    ctx = JobContext(cfg=cfg)
    person = read_table(ctx.spark, cfg, table("silver.person")).localCheckpoint()  # in memory, like Splink's
    person.count()

    def run() -> pd.DataFrame:
        found = match(ctx.spark, cfg, person, retrain=True)
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


#: silver.person columns the standard model compares, each with the Splink comparison it gets when it has data
STANDARD_COLUMNS = ("first_name_key", "last_name_key", "date_of_birth", "national_id", "email", "phone", "postcode",
                    "street", "city", "state", "loyalty_id")


def run_splink_standard(records: pd.DataFrame) -> pd.DataFrame:
    """A standard unsupervised Splink 5 model over the fields the records have (names, dates, address, ids):
    Splink's own comparisons for each, blocking on pairs of fields, the prior from exact name + birth date
    (recall 0.7), u by random sampling and m by EM on two blocking rules, threshold 0.9, as Splink's
    tutorials build one for data they have not seen."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    have = {c for c in STANDARD_COLUMNS if c in records.columns and records[c].notna().sum() > 1}
    make = {
        "first_name_key": lambda: cl.NameComparison("first_name_key").configure(term_frequency_adjustments=True),
        "last_name_key": lambda: cl.NameComparison("last_name_key").configure(term_frequency_adjustments=True),
        "date_of_birth": lambda: cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
        "national_id": lambda: cl.DamerauLevenshteinAtThresholds("national_id", [1, 2]),
        "email": lambda: cl.EmailComparison("email"),
        "phone": lambda: cl.DamerauLevenshteinAtThresholds("phone", [1]),
        "postcode": lambda: cl.DamerauLevenshteinAtThresholds("postcode", [1]),
        "street": lambda: cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
        "city": lambda: cl.JaroWinklerAtThresholds("city", [0.9]),
        "state": lambda: cl.ExactMatch("state"),
        "loyalty_id": lambda: cl.ExactMatch("loyalty_id"),
    }
    comparisons = [make[c]() for c in STANDARD_COLUMNS if c in have]
    pairs = [("first_name_key", "last_name_key"), ("last_name_key", "date_of_birth"),
             ("first_name_key", "date_of_birth"), ("postcode", "first_name_key"), ("postcode", "last_name_key"),
             ("national_id",), ("email",), ("phone",), ("street", "postcode"), ("city", "last_name_key")]
    rules = [block_on(*p) for p in pairs if set(p) <= have]
    settings = SettingsCreator(link_type="dedupe_only", unique_id_column_name="unique_id",
                               blocking_rules_to_generate_predictions=rules, comparisons=comparisons)
    db = DuckDBAPI()
    linker = Linker(db.register(records[["unique_id", *sorted(have)]]), settings)
    names = [c for c in ("first_name_key", "last_name_key", "date_of_birth") if c in have]
    linker.training.estimate_probability_two_random_records_match([block_on(*names)], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
    em_rules = [r for r in (("date_of_birth",), ("first_name_key", "last_name_key"), ("postcode",)) if set(r) <= have]
    for rule in em_rules[:2]:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    pred = linker.inference.predict(threshold_match_probability=0.9)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.9)
    return clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]


def _rss_mb(status_file: str) -> float | None:
    """Peak resident memory (``VmHWM``) of a live process from its /proc status, in MB (Linux only)."""
    try:
        for line in Path(status_file).read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, runs: int) -> tuple[pd.DataFrame, list[float]]:
    """``fn()`` ``runs`` times: its last result and the seconds of each run."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def _core_worker(warehouse: str, work: Path, runs: int, job: bool) -> dict:
    """Export the records (and the job's clusters), then the c360 core ``runs`` times; writes its last
    clusters to ``core.parquet``. Peak memory: the JVM's plus this Python process's."""
    from pyspark.sql import SparkSession

    export(warehouse, work, job=job)
    out, times = _timed(c360_core(warehouse, work), runs)
    out.to_parquet(work / "core.parquet")
    jvm = _rss_mb(f"/proc/{SparkSession.getActiveSession()._jvm.java.lang.ProcessHandle.current().pid()}/status")
    return {"seconds": times, "peak_rss_mb": None if jvm is None else jvm + _peak_mb()}


def _splink_worker(work: Path, runs: int) -> dict:
    """Splink ``runs`` times on ``records.parquet``; writes its last clusters to ``splink.parquet``."""
    df = pd.read_parquet(work / "records.parquet")
    clusters, times = _timed(lambda: run_splink(df), runs)
    clusters.to_parquet(work / "splink.parquet")
    return {"seconds": times, "peak_rss_mb": _peak_mb()}


def _in_child(worker: str, work: str, *args: str) -> dict:
    """Run one tool's worker in a process of its own (``--core-worker`` / ``--splink-worker``); the times
    and peak memory it wrote to ``<worker>.json`` in ``work``."""
    import json
    import subprocess

    subprocess.run([sys.executable, "-m", "bench.splink_compare", worker, work, *args], check=True)
    return json.loads((Path(work) / f"{worker[2:]}.json").read_text())


def main(argv: list[str]) -> int:
    if argv[:1] in (["--core-worker"], ["--splink-worker"]):
        import json

        w = argparse.ArgumentParser(prog="python -m bench.splink_compare " + argv[0])
        w.add_argument("work", type=Path)
        w.add_argument("--warehouse")
        w.add_argument("--runs", type=int, default=1)
        w.add_argument("--job", action="store_true")
        wa = w.parse_args(argv[1:])
        res = (_core_worker(wa.warehouse, wa.work, wa.runs, wa.job) if argv[0] == "--core-worker"
               else _splink_worker(wa.work, wa.runs))
        (wa.work / f"{argv[0][2:]}.json").write_text(json.dumps(res))
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.splink_compare")
    p.add_argument("--warehouse", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--people", type=int, required=True)
    p.add_argument("--c360-seconds", type=float, default=None,
                   help="c360 resolve time of the same run (adds a row for the job's silver.customer_xref)")
    p.add_argument("--runs", type=int, default=5, help="runs of the c360 core, then of Splink")
    p.add_argument("--out", default=None, help="results CSV (default: bench/results/identity-<date>.csv)")
    a = p.parse_args(argv)
    truth = pd.concat(pd.read_parquet(f) for f in sorted(Path(a.truth).glob("person_records_*.parquet")))
    truth["unique_id"] = truth["source_system"] + ":" + truth["source_record_id"]
    job = a.c360_seconds is not None
    with tempfile.TemporaryDirectory() as tmp:
        core = _in_child("--core-worker", tmp, "--warehouse", a.warehouse, "--runs", str(a.runs),
                         *(["--job"] if job else []))
        splink = _in_child("--splink-worker", tmp, "--runs", str(a.runs))
        n_records = len(pd.read_parquet(Path(tmp) / "records.parquet", columns=["unique_id"]))
        results: dict[str, tuple[pd.DataFrame, str, str, list[float], float | None]] = {}
        if job:
            results["c360"] = (pd.read_parquet(Path(tmp) / "c360.parquet"), "customer_id",
                               "resolve job (one run)", [a.c360_seconds], None)
        results["c360-core"] = (pd.read_parquet(Path(tmp) / "core.parquet"), "customer_id",
                                "matching core, best warm run", core["seconds"], core["peak_rss_mb"])
        results["splink-5-duckdb"] = (pd.read_parquet(Path(tmp) / "splink.parquet"), "cluster_id",
                                      "train+predict+cluster, best warm run", splink["seconds"],
                                      splink["peak_rss_mb"])
    rows = []
    for tool, (df, col, measured, runs, peak) in results.items():
        j = df.merge(truth[["unique_id", "person_id"]], on="unique_id")
        m = metrics(j[col], j["person_id"])
        secs = min(runs[1:] or runs)
        if len(runs) == 1 and tool != "c360":
            measured = measured.replace("best warm run", "one cold run")
        rows.append([dt.date.today().isoformat(), _machine(), a.people, n_records, tool, round(secs, 1),
                     *[round(v, 5) for v in m.values()], measured, round(runs[0], 1),
                     " ".join(f"{t:.1f}" for t in runs), None if peak is None else round(peak)])
        print(f"{tool}: seconds={secs:.1f} runs={runs} peak_mb={peak} "
              + " ".join(f"{k}={v:.4f}" for k, v in m.items()), file=sys.stderr)
    core_s, splink_s = (min(t["seconds"][1:] or t["seconds"]) for t in (core, splink))
    print(f"splink-compare: c360 core {core_s:.1f} s, Splink {splink_s:.1f} s, ratio {core_s / splink_s:.2f}",
          file=sys.stderr)
    append_csv(a.out or result_file("identity"), ["date", "machine", "people", "records", "tool", "seconds", "pairwise_precision",
                       "pairwise_recall", "pairwise_f1", "bcubed_f1", "measured", "cold_seconds", "run_seconds",
                       "peak_rss_mb"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
