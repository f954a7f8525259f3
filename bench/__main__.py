"""`make bench ARGS="--people 10000 100000"`: time every built stage at several sizes, beside its floor.

Each size runs each stage in a fresh process (as a scheduler would run them) on the local configuration, and
writes one line per stage to ``bench/results/stages-<date>.csv``: c360's seconds; for ingest and standardize
the floor (``bench/floor.py``: plain Spark reading the same files or bronze tables once and writing them once
to Delta, in a process of its own) and the ratio; the rows the stage took in and rows per second; the peak
resident memory of the stage's process tree (the driver JVM and its Python workers: their proportional set
size, so pages the forked workers share count once, sampled every 0.5 s);
and the Spark jobs it launched from Spark's event log (``bench/spark_jobs.py``: how many, their summed time,
the kinds that took longest). Then ``c360 run all`` once more with nothing new: each stage's seconds in that
one process (rows tagged ``nothing new``), after one unmeasured ``run all`` that runs what the single stages
did not (the quality gates, and the stages that read the evaluations' rows). ``--small-store`` adds a small web shop's extract (two CSV files,
``bench/small_store.py``) run through ``c360 run all --to features`` in one process, and again with nothing new.

Identity quality (evaluate-identity) and model quality against the truth (evaluate-models) are printed and
written to the run's gold.model_metrics; Splink 5 (bench/splink_compare.py), DuckDB
(bench/sessionize_compare.py) and scikit-learn (bench/churn_compare.py) run side by side on the same data.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import spark_jobs
from c360.pipelines import RUN_ALL

STAGES = ("generate", "ingest", "standardize", "resolve", "evaluate-identity", "sessionize", "features", "train",
          "score", "publish", "audience", "lookalike", "evaluate-models", "quality", "report")
#: stages with a floor (bench/floor.py)
FLOORS = ("ingest", "standardize")
HEADER = ["date", "machine", "people", "stage", "seconds", "floor_seconds", "ratio", "rows", "rows_per_s",
          "peak_rss_mb", "spark_jobs", "spark_job_seconds", "longest_jobs"]
EVENT_LOG = ["--set", "spark.conf.spark.eventLog.enabled=true", "--set", "spark.conf.spark.eventLog.compress=false",
             "--set", "spark.conf.spark.eventLog.rolling.enabled=false"]
REPO = Path(__file__).resolve().parent.parent


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()} {os.cpu_count()} cores {mem:.0f} GiB, {platform.system()}"


def result_file(kind: str) -> Path:
    """``bench/results/<kind>-<UTC date and time>.csv``: one file per run (the docs cite the ones committed)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M")
    return Path("bench") / "results" / f"{kind}-{stamp}.csv"


def append_csv(path: str | Path, header: list[str], rows: list[list]) -> None:
    """Append rows to a results CSV, writing the header when the file is new."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    with out.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(header)
        w.writerows(rows)


class Measured:
    """A command run to its end: wall seconds, peak resident memory of its process tree, its log's facts."""

    def __init__(self, cmd: list[str], env: dict | None = None):
        import psutil

        self.facts: dict[str, dict] = {}
        self.peak_rss = 0
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
        root = psutil.Process(proc.pid)
        stop = threading.Event()

        def pss(p) -> int:
            try:
                return p.memory_full_info().pss
            except psutil.Error:
                return 0

        def sample() -> None:
            # proportional set size: a page shared by the forked Python workers counts once in all, not per worker
            while not stop.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    tree = []
                self.peak_rss = max(self.peak_rss, sum(pss(p) for p in tree))
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for line in proc.stderr:
            if not self._parse(line):
                sys.stderr.write(line)
        proc.wait()
        stop.set()
        sampler.join()
        self.seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd)

    def _parse(self, line: str) -> bool:
        """JSON log lines (``logging.format: json``): ``<stage>: done`` -> that stage's facts. True for a JSON
        line (kept out of the bench's own output, but for warnings and errors)."""
        if not line.startswith("{"):
            return False
        try:
            rec = json.loads(line)
        except ValueError:
            return False
        msg = str(rec.get("event") or rec.get("msg") or "")
        if msg.endswith(": done"):
            self.facts[msg[: -len(": done")]] = rec
        return rec.get("level") not in ("warning", "error", "ERROR", "WARN")


def _jobs(folder: Path) -> dict:
    log = spark_jobs.find_event_log(folder) if folder.exists() else None
    if log is None:
        return {"jobs": "", "job_seconds": "", "top": []}
    return spark_jobs.summary(spark_jobs.read_event_log(log), top=3)


def _row(n, stage, m: Measured, floor: float | None = None, rows: int | None = None, jobs: dict | None = None,
         seconds: float | None = None) -> list:
    secs = seconds if seconds is not None else m.seconds
    jobs = jobs or {"jobs": "", "job_seconds": "", "top": []}
    return [dt.date.today().isoformat(), _machine(), n, stage, round(secs, 1),
            round(floor, 1) if floor else "", round(secs / floor, 2) if floor else "",
            rows if rows is not None else "", round(rows / secs) if rows and secs else "",
            round(m.peak_rss / 2**20) if m is not None and seconds is None else "", jobs["jobs"], jobs["job_seconds"],
            "; ".join(f"{what} x{count} {secs_}s" for what, count, secs_ in jobs["top"])]


def _emit(w, f, row: list) -> None:
    w.writerow(row)
    f.flush()
    print(f"bench: {row[2]} people, {row[3]}: {row[4]} s" + (f" (floor {row[5]} s, ratio {row[6]})" if row[5] else "")
          + (f", {row[8]} rows/s" if row[8] else "") + (f", peak {row[9]} MB" if row[9] else ""), file=sys.stderr)


def _nothing_new(n, base, common, sources, w, f, to_stage: str | None = None) -> None:
    """``c360 run all`` again with nothing new: each stage's seconds in the one process."""
    cmd = base + ["run", "all"] + common + sources + ["--set", "logging.format=json"] + (
        ["--to", to_stage] if to_stage else [])
    m = Measured(cmd)
    for name, rec in m.facts.items():
        if name.endswith("gates"):
            continue
        gates = m.facts.get(f"{name} gates", {}).get("seconds", 0)
        label = "Spark start-up" if name == "spark" else name
        _emit(w, f, _row(n, f"{label} (nothing new)", m, seconds=float(rec.get("seconds", 0)) + float(gates)))
    _emit(w, f, _row(n, "run all (nothing new)", m))


def small_store(a, w, f) -> None:
    """A small shop's extract through ``run all --to features``, then again with nothing new."""
    from bench.small_store import write_store

    root = Path(a.work) / "small_store"
    shutil.rmtree(root, ignore_errors=True)
    landing = write_store(root)
    base = [sys.executable, "-m", "c360"]
    common = ["--env", a.env, "--landing", str(landing), "--warehouse", str(root / "warehouse")]
    sources = ["--conf", str(REPO / "examples" / "my_shop" / "conf")]
    label = "small store (2,357 customers, 6,919 orders)"
    m = Measured(base + ["run", "all", "--to", "features"] + common + sources + ["--set", "logging.format=json"])
    for name, rec in m.facts.items():
        if not name.endswith("gates"):
            gates = m.facts.get(f"{name} gates", {}).get("seconds", 0)
            _emit(w, f, _row(label, "Spark start-up" if name == "spark" else name, m,
                             seconds=float(rec.get("seconds", 0)) + float(gates)))
    _emit(w, f, _row(label, "run all --to features", m, rows=9276))
    _nothing_new(label, base, common, sources, w, f, to_stage="features")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--people", type=int, nargs="*", default=[10_000, 100_000])
    p.add_argument("--work", default="data/bench")
    p.add_argument("--env", default="local")
    p.add_argument("--out", default=None, help="results CSV (default: bench/results/stages-<date>.csv)")
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES,
                   help="stages to run (default: all); without generate the existing files and tables are reused")
    p.add_argument("--small-store", action="store_true", help="also the small shop's extract (run all --to features)")
    p.add_argument("--no-nothing-new", action="store_true", help="skip the run with nothing new")
    p.add_argument("--no-splink", action="store_true", help="skip the Splink side-by-side")
    p.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB sessionisation side-by-side")
    p.add_argument("--no-sklearn", action="store_true", help="skip the scikit-learn churn side-by-side")
    a = p.parse_args(argv)
    out = Path(a.out) if a.out else result_file("stages")
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    with out.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(HEADER)
        if a.small_store:
            small_store(a, w, f)
        for n in a.people:
            root = Path(a.work) / str(n)
            if "generate" in a.stages:
                shutil.rmtree(root, ignore_errors=True)
            base = [sys.executable, "-m", "c360"]
            common = ["--env", a.env, "--landing", str(root / "landing"), "--warehouse", str(root / "warehouse")]
            # the generator writes the sample company's sources.yml beside its files: the later stages' sources
            sources = ["--conf", str(root / "landing")]
            resolve_secs, source_rows = None, None
            for stage in [s for s in STAGES if s in a.stages]:
                extra = {"generate": ["--people", str(n), "--out", str(root / "landing")],
                         "evaluate-identity": ["--truth", str(root / "landing" / "_truth")],
                         "evaluate-models": ["--truth", str(root / "landing" / "_truth")]}.get(stage, [])
                events = root / "events" / stage
                shutil.rmtree(events, ignore_errors=True)
                events.mkdir(parents=True)
                logs = ["--set", "logging.format=json"] + EVENT_LOG + [
                    "--set", f"spark.conf.spark.eventLog.dir={events.absolute().as_uri()}"]
                cmd = base + [stage] + common + (sources if stage != "generate" else []) + extra + logs
                m = Measured(cmd)
                floor = None
                if stage in FLOORS:
                    fm = Measured([sys.executable, "-m", "bench.floor", stage, "--env", a.env, *sources,
                                   "--landing", str(root / "landing"), "--warehouse", str(root / "warehouse"),
                                   "--out", str(root / "floor")])
                    floor = fm.seconds
                facts = m.facts.get(stage, {})
                if stage == "ingest":
                    source_rows = int(facts.get("rows_read", 0)) or None
                rows = source_rows if stage in ("ingest", "standardize") else None
                _emit(w, f, _row(n, stage, m, floor=floor, rows=rows, jobs=_jobs(events)))
                if floor:
                    _emit(w, f, _row(n, f"{stage} floor", fm, rows=rows))
                if stage == "resolve":
                    resolve_secs = m.seconds
            # again with nothing new, as far as every stage ran (a stage left out would run for the first time)
            ran = 0
            while ran < len(RUN_ALL) and RUN_ALL[ran] in a.stages:
                ran += 1
            if not a.no_nothing_new and ran:
                # one run to take in what the stages alone did not do (the gates of every table: the stages ran
                # as single commands; the evaluations' rows in gold.model_metrics, which score and report read),
                # so that the measured run has nothing new
                subprocess.run(base + ["run", "all", "--to", RUN_ALL[ran - 1]] + common + sources, check=True,
                               stderr=subprocess.DEVNULL)
                _nothing_new(n, base, common, sources, w, f, to_stage=RUN_ALL[ran - 1])
            if "evaluate-identity" in a.stages and not a.no_splink:
                # Splink 5 (DuckDB) on the same records, scored with the same metrics
                subprocess.run([sys.executable, "-m", "bench.splink_compare", "--warehouse",
                                str((root / "warehouse").absolute()), "--truth",
                                str((root / "landing" / "_truth").absolute()), "--people", str(n)]
                               + (["--c360-seconds", str(round(resolve_secs, 1))] if resolve_secs else []),
                               check=True)
            if "sessionize" in a.stages and not a.no_duckdb:
                # the same sessionisation in DuckDB SQL on the same Parquet events
                subprocess.run([sys.executable, "-m", "bench.sessionize_compare", "--warehouse",
                                str((root / "warehouse").absolute()), "--people", str(n)], check=True)
            if "publish" in a.stages:
                # c360 profile on the published table: lookups by id, email and phone, and the command itself
                subprocess.run([sys.executable, "-m", "bench.profile_lookup", "--warehouse", str(root / "warehouse"),
                                "--landing", str(root / "landing"), "--env", a.env], check=True)
            if "train" in a.stages and not a.no_sklearn:
                # churn in scikit-learn on the same training rows and split
                subprocess.run([sys.executable, "-m", "bench.churn_compare", "--warehouse",
                                str((root / "warehouse").absolute())], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
