"""Sessionisation side by side: c360's Spark transforms and DuckDB SQL on the same Parquet events.

``python -m bench.sessionize_compare --warehouse W --people N`` exports ``silver.events`` to Parquet once
(not timed), then times, each reading that Parquet and writing its sessions to Parquet:

- Spark: :func:`c360.behaviour.sessions.with_session_keys` + :func:`session_profiles` (the code
  ``c360 sessionize`` runs, without the Delta MERGE and the customer stitching);
- DuckDB (2 threads): the same sessionisation in SQL (gap > timeout starts a visit, visits cut at the
  maximum length) computing the same profile columns: session ids, counts, product lists, first page,
  referrer and device, login, UTM fields, channel and bot rules (the default conf's, written in DuckDB's
  dialect), split flag and date.

Each engine runs ``--runs`` times (default 5), alternating: the first run is reported as *cold* (for Spark a fresh
JVM still compiling its generated code), the best of the others as *warm*; every run's time is kept in the CSV.
Both must give the same sessions with the same value in every profile column (:func:`compare`); appends to
``bench/results/sessionize-compare-<date>.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path

from bench.__main__ import _machine, append_csv, result_file

DUCKDB_SQL = """
COPY (
  WITH e AS (
    SELECT *, epoch_us(event_ts) / 1e6 AS t FROM read_parquet('{events}/*.parquet')
    WHERE anonymous_id IS NOT NULL AND event_ts IS NOT NULL
  ), g AS (
    SELECT *, t - lag(t) OVER w AS gap, row_number() OVER w AS seq FROM e
    WINDOW w AS (PARTITION BY source_system, anonymous_id ORDER BY event_ts, event_id)
  ), v AS (
    SELECT *, sum(CASE WHEN gap IS NULL OR gap > {timeout} THEN 1 ELSE 0 END) OVER (
      PARTITION BY source_system, anonymous_id ORDER BY event_ts, event_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit_no
    FROM g
  ), p AS (
    SELECT *, min(event_ts) OVER (PARTITION BY source_system, anonymous_id, visit_no) AS visit_start
    FROM v
  ), k AS (
    SELECT *, CAST(floor((t - epoch_us(visit_start) / 1e6) / {max_len}) AS INT) AS session_part FROM p
  ), s AS (
    SELECT source_system, anonymous_id, visit_start, session_part,
           min(event_ts) AS session_start, max(event_ts) AS session_end, count(*) AS event_count,
           count(*) FILTER (WHERE event_type IN ('page_view', 'product_view')) AS page_views,
           count(*) FILTER (WHERE event_type = 'product_view') AS product_views,
           coalesce(list_sort(list_distinct(list(product_id) FILTER (WHERE event_type = 'product_view'))), [])
             AS products_viewed,
           count(*) FILTER (WHERE event_type = 'add_to_cart') AS cart_adds,
           coalesce(list_sort(list_distinct(list(product_id) FILTER (WHERE event_type = 'add_to_cart'))), [])
             AS carted_products,
           bool_or(event_type = 'checkout') AS has_checkout, bool_or(event_type = 'purchase') AS has_purchase,
           bool_or(event_type = 'login' OR person_ref IS NOT NULL) AS is_logged_in,
           arg_min(person_source, seq) FILTER (WHERE person_ref IS NOT NULL) AS login_person_source,
           arg_min(person_ref, seq) FILTER (WHERE person_ref IS NOT NULL) AS login_person_ref,
           arg_min_null(url, seq) AS landing_page, arg_min_null(referrer, seq) AS referrer,
           arg_min(device, seq) FILTER (WHERE device IS NOT NULL) AS device
    FROM k GROUP BY ALL
  ), u AS (
    SELECT * REPLACE (CASE WHEN trim(referrer) != '' THEN referrer END AS referrer),
           CAST(floor((epoch_us(session_end) - epoch_us(session_start)) / 1e6) AS BIGINT) AS duration_s,
           cart_adds > 0 AND NOT has_purchase AS is_abandoned_cart,
           lower(nullif(regexp_extract(landing_page, '[?&]utm_source=([^&#]*)', 1), '')) AS utm_source,
           lower(nullif(regexp_extract(landing_page, '[?&]utm_medium=([^&#]*)', 1), '')) AS utm_medium
    FROM s
  )
  SELECT *,
         CASE WHEN utm_medium IN ('cpc', 'ppc', 'paid', 'paidsearch') THEN 'paid_search'
              WHEN utm_medium = 'email' OR regexp_matches(referrer, '(^|[./])mail\\.') THEN 'email'
              WHEN utm_medium IN ('social', 'paid_social')
                OR regexp_matches(referrer, 'facebook\\.|//t\\.co/|twitter\\.|instagram\\.|linkedin\\.|tiktok\\.')
                THEN 'social'
              WHEN utm_medium IN ('referral', 'affiliate') THEN 'affiliate'
              WHEN regexp_matches(referrer, 'google\\.|bing\\.|duckduckgo\\.|yahoo\\.|baidu\\.') THEN 'organic_search'
              WHEN regexp_matches(referrer, '^https?://(www\\.)?shop\\.example\\.com') THEN 'internal'
              WHEN referrer IS NULL AND utm_source IS NULL THEN 'direct'
              ELSE 'referral' END AS channel,
         'WS-' || substr(sha256(concat_ws('|', source_system, anonymous_id, CAST(epoch_us(visit_start) AS VARCHAR),
                                          CAST(session_part AS VARCHAR))), 1, 24) AS session_id,
         coalesce(event_count >= 30 AND event_count / greatest(duration_s / 60.0, 1.0) >= 20, false) AS is_bot,
         max(session_part) OVER (PARTITION BY source_system, anonymous_id, visit_start) > 0 AS is_split,
         CAST(session_start AS DATE) AS session_date
  FROM u
) TO '{out}' (FORMAT parquet)
"""


def compare(con, spark_dir: Path, duck_file: Path) -> dict[str, int]:
    """Sessions whose profile differs between the engines, per column (``session_id`` present in one only:
    ``missing``); every column DuckDB computes is compared, which is all of Spark's but ``categories``
    (that needs the products table, which neither side reads here)."""
    duck_cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{duck_file}'").fetchall()]
    spark_cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{spark_dir}/*.parquet'").fetchall()]
    left_out = set(spark_cols) - set(duck_cols) - {"categories"}
    if left_out:
        raise SystemExit(f"sessionize-compare: DuckDB does not compute {sorted(left_out)}")
    cols = [c for c in duck_cols if c != "session_id"]
    checks = ", ".join(f"count(*) FILTER (WHERE s.{c} IS DISTINCT FROM d.{c}) AS {c}" for c in cols)
    row = con.execute(f"""
        SELECT count(*) FILTER (WHERE s.session_id IS NULL OR d.session_id IS NULL) AS missing, {checks}
        FROM '{spark_dir}/*.parquet' s FULL JOIN '{duck_file}' d USING (session_id)""").fetchone()
    return {c: n for c, n in zip(["missing", *cols], row, strict=True) if n}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sessionize_compare")
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--people", type=int, required=True)
    ap.add_argument("--out", default=None, help="results CSV (default: bench/results/sessionize-compare-<date>.csv)")
    ap.add_argument("--runs", type=int, default=5, help="runs of each engine; the first is reported cold")
    a = ap.parse_args(argv)

    import duckdb
    from pyspark.sql import functions as F

    from c360.behaviour.sessions import SQL_CONF, session_profiles, with_session_keys
    from c360.config import load_config
    from c360.frames import sql_conf
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
        with sql_conf(spark, SQL_CONF):
            session_profiles(with_session_keys(events, timeout, max_len), None, s).write.parquet(
                str(work / "spark_sessions"))

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
    diffs = compare(con, work / "spark_sessions", work / "duck.parquet")
    same = not diffs
    if diffs:
        print(f"sessionize-compare: the engines disagree: {diffs}", file=sys.stderr)
    print(f"sessionize-compare: {a.people} people: cold spark {spark_s:.1f} s, duckdb {duck_s:.1f} s, "
          f"ratio {spark_s / duck_s:.2f}; warm spark {spark_w:.1f} s, duckdb {duck_w:.1f} s, "
          f"ratio {spark_w / duck_w:.2f}; {sp[0]} sessions; same profiles: {same}", file=sys.stderr)
    append_csv(a.out or result_file("sessionize-compare"), ["date", "machine", "people", "events", "sessions", "spark_seconds", "duckdb_seconds", "ratio",
                       "same_sessions", "runs", "spark_warm_seconds", "duckdb_warm_seconds", "warm_ratio", "compared",
                       "spark_runs", "duckdb_runs"],
               [[dt.date.today().isoformat(), _machine(), a.people, sp[1], sp[0], round(spark_s, 1), round(duck_s, 1),
                 round(spark_s / duck_s, 2), same, a.runs, round(spark_w, 1), round(duck_w, 1),
                 round(spark_w / duck_w, 2), "every profile column",
                 " ".join(f"{t:.1f}" for t in times["spark"]), " ".join(f"{t:.1f}" for t in times["duckdb"])]])
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
