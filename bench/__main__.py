"""`make bench ARGS="--people 10000 100000"`: time every built stage at several sizes.

Identity quality (evaluate-identity) and model quality against the truth (evaluate-models) are printed and
written to the run's gold.model_metrics; Splink 5 (bench/splink_compare.py), DuckDB
(bench/sessionize_compare.py) and scikit-learn (bench/churn_compare.py) run side by side on the same data.

Each size runs in a fresh Spark session (a subprocess per stage, as a scheduler would run them) on the
local configuration, and writes one line per stage to ``bench/results/stages-<date>.csv`` with the machine and
the date (the side-by-sides write their own files there).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("generate", "ingest", "standardize", "resolve", "evaluate-identity", "sessionize", "features", "train",
          "score", "evaluate-models", "publish", "quality", "report")


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


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--people", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--work", default="data/bench")
    p.add_argument("--env", default="local")
    p.add_argument("--out", default=None, help="results CSV (default: bench/results/stages-<date>.csv)")
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES,
                   help="stages to run (default: all); without generate the existing files and tables are reused")
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
            w.writerow(["date", "machine", "people", "stage", "seconds", "seconds_per_1k_people"])
        for n in a.people:
            root = Path(a.work) / str(n)
            if "generate" in a.stages:
                shutil.rmtree(root, ignore_errors=True)
            base = [sys.executable, "-m", "c360"]
            common = ["--env", a.env, "--landing", str(root / "landing"), "--warehouse", str(root / "warehouse")]
            # the generator writes the sample company's sources.yml beside its files: the later stages' sources
            sources = ["--conf", str(root / "landing")]
            resolve_secs = None
            for stage in [s for s in STAGES if s in a.stages]:
                extra = {"generate": ["--people", str(n), "--out", str(root / "landing")],
                         "evaluate-identity": ["--truth", str(root / "landing" / "_truth")],
                         "evaluate-models": ["--truth", str(root / "landing" / "_truth")]}.get(stage, [])
                cmd = base + [stage] + common + (sources if stage != "generate" else []) + extra
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True)
                secs = time.perf_counter() - t0
                row = [dt.date.today().isoformat(), _machine(), n, stage, round(secs, 1), round(secs / n * 1000, 3)]
                w.writerow(row)
                f.flush()
                print(f"bench: {n} people, {stage}: {secs:.1f} s", file=sys.stderr)
                if stage == "resolve":
                    resolve_secs = secs
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
