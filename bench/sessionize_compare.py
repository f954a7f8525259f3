"""Sessionisation side by side: c360's Spark transforms and DuckDB SQL on the same Parquet events.

``python -m bench.sessionize_compare --warehouse W --people N`` exports ``silver.events`` to Parquet once
(not timed), then times, each reading that Parquet and writing its sessions to Parquet:

- Spark: :func:`c360.behaviour.sessions.with_session_keys` + :func:`session_profiles` (the code
  ``c360 sessionize`` runs, without the Delta MERGE and the customer stitching);
- DuckDB (2 threads): the same sessionisation in SQL (gap > timeout starts a visit, visits cut at the
  maximum length) with the same profile columns.

Each engine runs ``--runs`` times (default 3), alternating: the first run is reported as *cold* (for Spark a fresh
JVM still compiling its generated code), the best of the others as *warm*. Both must give the same number of
sessions and events per session; appends to bench/sessionize_compare.csv.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path

from bench.__main__ import _machine, append_csv

DUCKDB_SQL = """
COPY (
  WITH e AS (
    SELECT *, epoch_us(event_ts) / 1e6 AS t FROM read_parquet('{events}/*.parquet')
    WHERE anonymous_id IS NOT NULL AND event_ts IS NOT NULL
  ), g AS (
    SELECT *, t - lag(t) OVER w AS gap FROM e
    WINDOW w AS (PARTITION BY source_system, anonymous_id ORDER BY event_ts, event_id)
  ), v AS (
    SELECT *, sum(CASE WHEN gap IS NULL OR gap > {timeout} THEN 1 ELSE 0 END) OVER (
      PARTITION BY source_system, anonymous_id ORDER BY event_ts, event_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit_no
    FROM g
  ), p AS (
    SELECT *, CAST(floor((t - min(t) OVER (PARTITION BY source_system, anonymous_id, visit_no)) / {max_len}) AS INT)
              AS session_part
    FROM v
  )
  SELECT source_system, anonymous_id, visit_no, session_part,
         min(event_ts) AS session_start, max(event_ts) AS session_end, count(*) AS event_count,
         count(*) FILTER (WHERE event_type IN ('page_view', 'product_view')) AS page_views,
         count(*) FILTER (WHERE event_type = 'product_view') AS product_views,
         list_sort(list_distinct(list(product_id) FILTER (WHERE event_type = 'product_view'))) AS products_viewed,
         count(*) FILTER (WHERE event_type = 'add_to_cart') AS cart_adds,
         list_sort(list_distinct(list(product_id) FILTER (WHERE event_type = 'add_to_cart'))) AS carted_products,
         bool_or(event_type = 'checkout') AS has_checkout, bool_or(event_type = 'purchase') AS has_purchase,
         arg_min(url, (event_ts, event_id)) AS landing_page, arg_min(referrer, (event_ts, event_id)) AS referrer,
         arg_min(device, (event_ts, event_id)) FILTER (WHERE device IS NOT NULL) AS device
  FROM p GROUP BY ALL
) TO '{out}' (FORMAT parquet)
"""


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sessionize_compare")
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--people", type=int, required=True)
    ap.add_argument("--out", default="bench/sessionize_compare.csv")
    ap.add_argument("--runs", type=int, default=3, help="runs of each engine; the first is reported cold")
    a = ap.parse_args(argv)

    import duckdb
    from pyspark.sql import functions as F

    from c360.behaviour.sessions import session_profiles, with_session_keys
    from c360.config import load_config
    from c360.io.delta import read_table
    from c360.session import get_spark
    from c360.tables import table

    cfg = load_config("local", warehouse=a.warehouse)
    s = cfg.sessionize
    timeout, max_len = s.inactivity_timeout_minutes * 60, s.max_session_minutes * 60
    work = Path(a.warehouse).absolute().parent / "sessionize_compare"
    shutil.rmtree(work, ignore_errors=True)
    events_dir = work / "events"
    spark = get_spark(cfg)
    cols = ["source_system", "event_id", "anonymous_id", "person_source", "person_ref", "event_type", "event_ts",
            "url", "referrer", "product_id", "device"]
    read_table(spark, cfg, table("silver.events")).select(*cols).write.parquet(str(events_dir))

    def spark_run() -> None:
        shutil.rmtree(work / "spark_sessions", ignore_errors=True)
        events = spark.read.parquet(str(events_dir)).where(F.col("anonymous_id").isNotNull()
                                                           & F.col("event_ts").isNotNull())
        session_profiles(with_session_keys(events, timeout, max_len), None, s).write.parquet(str(work / "spark_sessions"))

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")

    def duck_run() -> None:
        (work / "duck.parquet").unlink(missing_ok=True)
        con.execute(DUCKDB_SQL.format(events=events_dir, timeout=timeout, max_len=max_len, out=work / "duck.parquet"))

    # each engine `--runs` times, alternating: the first run is cold (a fresh JVM compiles Spark's generated
    # code; DuckDB reads cold files), the best of the others is the warm figure
    times: dict[str, list[float]] = {"spark": [], "duckdb": []}
    for _ in range(a.runs):
        for name, fn in (("spark", spark_run), ("duckdb", duck_run)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    spark_s, duck_s = times["spark"][0], times["duckdb"][0]
    spark_w, duck_w = min(times["spark"][1:] or times["spark"]), min(times["duckdb"][1:] or times["duckdb"])

    sp = spark.read.parquet(str(work / "spark_sessions")).agg(F.count(F.lit(1)), F.sum("event_count")).first()
    dk = con.execute(f"SELECT count(*), sum(event_count) FROM '{work / 'duck.parquet'}'").fetchone()
    same = (sp[0], sp[1]) == (dk[0], dk[1])
    print(f"sessionize-compare: {a.people} people: cold spark {spark_s:.1f} s, duckdb {duck_s:.1f} s, "
          f"ratio {spark_s / duck_s:.2f}; warm spark {spark_w:.1f} s, duckdb {duck_w:.1f} s, "
          f"ratio {spark_w / duck_w:.2f}; sessions spark {sp[0]} duckdb {dk[0]}; same: {same}", file=sys.stderr)
    append_csv(a.out, ["date", "machine", "people", "events", "sessions", "spark_seconds", "duckdb_seconds", "ratio",
                       "same_sessions", "runs", "spark_warm_seconds", "duckdb_warm_seconds", "warm_ratio"],
               [[dt.date.today().isoformat(), _machine(), a.people, sp[1], sp[0], round(spark_s, 1), round(duck_s, 1),
                 round(spark_s / duck_s, 2), same, a.runs, round(spark_w, 1), round(duck_w, 1),
                 round(spark_w / duck_w, 2)]])
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
