"""`c360 sessionize` on hand-built silver tables: late events, incremental = full, login back-fill, re-runs."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from c360.io.delta import read_table, write_table
from c360.pipelines import JobContext, run_job
from c360.tables import table

pytestmark = [pytest.mark.integration]

T0 = dt.datetime(2025, 3, 1, 10, 0, 0)
EVENTS = ("source_system string, event_id string, anonymous_id string, person_source string, person_ref string, "
          "event_type string, event_ts timestamp, url string, referrer string, product_id string, device string, "
          "_ingested_at timestamp")
XREF = ("source_system string, source_record_id string, customer_id string, match_probability double, "
        "record_type string")


def ev(i, anon, minutes, etype="page_view", person=None, ingested=T0):
    return ("clickstream", f"E{i:04d}", anon, "webshop" if person else None, person, etype,
            T0 + dt.timedelta(minutes=minutes), "https://shop.example.com/", None, None, "mobile", ingested)


def put_events(spark, cfg, rows):
    write_table(spark, cfg, table("silver.events"), spark.createDataFrame(rows, EVENTS), mode="merge")


def put_xref(spark, cfg, rows):
    write_table(spark, cfg, table("silver.customer_xref"), spark.createDataFrame(rows, XREF), mode="overwrite")


def sessions(spark, cfg):
    cols = ["session_id", "anonymous_id", "customer_id", "session_start", "session_end", "event_count", "is_split"]
    return sorted(tuple(r) for r in read_table(spark, cfg, table("silver.web_sessions")).select(*cols).collect())


def test_late_event_merges_two_sessions_incremental_equals_full(spark, cfg, tmp_path):
    ctx = JobContext(cfg)
    on_time = [ev(1, "a", 0), ev(2, "a", 20), ev(3, "a", 60),       # 40-minute gap: two sessions
               ev(4, "b", 0), ev(5, "b", 10)]
    put_events(spark, cfg, on_time)
    put_xref(spark, cfg, [])
    first = run_job("sessionize", ctx)
    assert first["sessions"] == 3
    # a late event at 0:40 closes the gap: one session 0:00-1:00 for cookie a
    late = [ev(6, "a", 40, ingested=T0 + dt.timedelta(hours=2))]
    put_events(spark, cfg, late)
    again = run_job("sessionize", ctx)
    assert again["sessions"] == 2 and again["sessions_removed"] == 1
    got = sessions(spark, cfg)
    a = [s for s in got if s[1] == "a"]
    assert len(a) == 1 and a[0][3] == T0 and a[0][4] == T0 + dt.timedelta(minutes=60) and a[0][5] == 4
    # the same as computing everything at once
    run_job("sessionize", ctx, full=True)
    assert sessions(spark, cfg) == got
    # and a re-run without new events changes nothing
    run_job("sessionize", ctx)
    assert sessions(spark, cfg) == got


def test_login_backfills_earlier_sessions_and_lookback(spark, cfg):
    ctx = JobContext(cfg)
    day = 24 * 60
    put_events(spark, cfg, [ev(1, "c1", 0), ev(2, "c1", 5),            # day 0, anonymous
                            ev(3, "c2", 0), ev(8, "c2", 9 * day)])      # another cookie, never logs in
    put_xref(spark, cfg, [("webshop", "W1", "K1", 1.0, "person")])
    run_job("sessionize", ctx)
    assert sorted((s[1], s[2]) for s in sessions(spark, cfg)) == [("c1", None), ("c2", None), ("c2", None)]
    # day 10: cookie c1 logs in as webshop W1 (K1); a second device c3 of the same person logs in too.
    # resolve then links both cookies to K1.
    later = T0 + dt.timedelta(days=10)
    put_events(spark, cfg, [ev(4, "c1", 10 * day, ingested=later), ev(5, "c1", 10 * day + 1, "login", "W1", later),
                            ev(6, "c3", 10 * day + 30, "login", "W1", later)])
    put_xref(spark, cfg, [("webshop", "W1", "K1", 1.0, "person"), ("clickstream", "c1", "K1", 1.0, "cookie"),
                          ("clickstream", "c3", "K1", 1.0, "cookie")])
    out = run_job("sessionize", ctx)
    got = sessions(spark, cfg)
    assert [(s[1], s[2]) for s in got if s[1] == "c1"] == [("c1", "K1"), ("c1", "K1")]   # day 0 back-filled
    assert sorted((s[1], s[2] or "") for s in got if s[1] != "c1") == [("c2", ""), ("c2", ""), ("c3", "K1")]
    # the day-0 session is older than the lookback (3 days before the newest stored session, day 9): it is
    # not recomputed, only re-stitched
    assert out["sessions_restitched"] == 1
    # an event of day 1 arriving now is older than the lookback (3 days before day 10): left out, reported
    put_events(spark, cfg, [ev(7, "c2", day, ingested=dt.datetime.now(dt.UTC).replace(tzinfo=None))])
    out = run_job("sessionize", ctx)
    assert out["late_events_beyond_lookback"] == 1 and out["sessions"] == len(got)
    out = run_job("sessionize", ctx, full=True)
    assert out["sessions"] == len(got) + 1
    stored = read_table(spark, cfg, table("silver.web_sessions"))
    assert stored.where(F.col("customer_id").isNull()).count() == 3
