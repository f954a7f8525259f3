"""`python -m bench.profile_lookup --warehouse W --landing L`: how long `c360 profile` takes on a warehouse.

Measures, in one process after the session is up, the lookup and the whole profile by customer_id, by email
and by phone (three customers each, the median), then the command itself in a new process (Spark start-up
included). Appends to ``bench/results/profile-<date>.csv``; the docs cite the figures.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from bench.__main__ import _machine, append_csv, result_file


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_lookup")
    p.add_argument("--warehouse", required=True)
    p.add_argument("--landing", required=True)
    p.add_argument("--env", default="local")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)

    import datetime as dt

    from pyspark.sql import functions as F

    from c360.config import load_config
    from c360.io.delta import read_table
    from c360.pipelines import JobContext
    from c360.pipelines.profile import find_customers, gather
    from c360.tables import table

    cfg = load_config(a.env, [a.landing], warehouse=a.warehouse, landing=a.landing)
    ctx = JobContext(cfg)
    spark = ctx.spark
    gold = read_table(spark, cfg, table("gold.customer_360"))
    people = gold.count()
    files = spark.sql(f"DESCRIBE DETAIL delta.`{table('gold.customer_360').path(cfg)}`").first()["numFiles"]
    picks = (gold.where(F.col("email").isNotNull() & F.col("phone").isNotNull())
             .orderBy(F.xxhash64("customer_id")).limit(4).select("customer_id", "email", "phone").collect())
    gather(ctx, picks[0]["customer_id"])  # warm: the first query of a session compiles its plans
    rows = []
    for kind in ("customer_id", "email", "phone"):
        lookups, totals = [], []
        for r in picks[1:]:
            t0 = time.perf_counter()
            ids, _ = find_customers(ctx, r[kind])
            t1 = time.perf_counter()
            gather(ctx, ids[0])
            lookups.append(t1 - t0)
            totals.append(time.perf_counter() - t0)
        rows.append([kind, round(statistics.median(lookups), 2), round(statistics.median(totals), 2)])
        print(f"profile by {kind}: lookup {rows[-1][1]} s, whole profile {rows[-1][2]} s", file=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "c360", "profile", picks[1]["customer_id"], "--json", "--env", a.env,
                    "--conf", a.landing, "--landing", a.landing, "--warehouse", a.warehouse],
                   check=True, capture_output=True)
    cli = round(time.perf_counter() - t0, 1)
    print(f"c360 profile in a new process: {cli} s", file=sys.stderr)
    out = a.out or result_file("profile")
    today = dt.date.today().isoformat()
    append_csv(out, ["date", "machine", "customers", "files", "key", "lookup_seconds", "profile_seconds",
                     "cli_seconds_new_process"],
               [[today, _machine(), people, files, k, lk, tot, cli] for k, lk, tot in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
