"""Session keys and profiles on hand-built events, and against an independent DuckDB implementation."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pandas as pd
import pytest

from c360.behaviour.sessions import SQL_CONF, session_profiles, with_session_id, with_session_keys
from c360.config import SessionizeConfig, load_config
from c360.frames import sql_conf

T0 = dt.datetime(2025, 3, 1, 10, 0, 0)
SCHEMA = ("source_system string, event_id string, anonymous_id string, person_source string, person_ref string, "
          "event_type string, event_ts timestamp, url string, referrer string, product_id string, device string")


@pytest.fixture(scope="module")
def scfg() -> SessionizeConfig:
    from tests.conftest import REPO

    return load_config("test", conf_root=REPO / "conf").sessionize


def ev(i, anon, seconds, etype="page_view", url="https://shop.example.com/", referrer=None, product=None,
       person=None, device="mobile"):
    return ("web", f"E{i:04d}", anon, "webshop" if person else None, person, etype,
            T0 + dt.timedelta(seconds=seconds), url, referrer, product, device)


def sessions_of(spark, rows, scfg, timeout_min=30, max_min=240):
    df = spark.createDataFrame(rows, SCHEMA)
    keyed = with_session_keys(df, timeout_min * 60, max_min * 60)
    return with_session_id(keyed), session_profiles(keyed, None, scfg)


def test_timeout_boundary(spark, scfg):
    rows = [ev(1, "a", 0), ev(2, "a", 29 * 60 + 59),                    # 29:59 later: same session
            ev(3, "a", 29 * 60 + 59 + 30 * 60 + 1),                      # 30:01 later: new session
            ev(4, "a", 29 * 60 + 59 + 30 * 60 + 1 + 30 * 60)]            # exactly 30:00 later: same session
    keyed, _ = sessions_of(spark, rows, scfg)
    by_event = {r["event_id"]: r["session_id"] for r in keyed.collect()}
    assert by_event["E0001"] == by_event["E0002"]
    assert by_event["E0002"] != by_event["E0003"]
    assert by_event["E0003"] == by_event["E0004"]


def test_arrival_order_does_not_matter(spark, scfg):
    rows = [ev(i, "a" if i % 3 else "b", i * 600 + (4000 if i > 5 else 0)) for i in range(12)]
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    first = {r["event_id"]: r["session_id"] for r in sessions_of(spark, rows, scfg)[0].collect()}
    second = {r["event_id"]: r["session_id"] for r in sessions_of(spark, shuffled, scfg)[0].collect()}
    assert first == second
    # equal timestamps are ordered by event id, never by arrival
    tie = [ev(1, "c", 0, "page_view", url="https://x/1"), ev(2, "c", 0, "page_view", url="https://x/2")]
    for order in (tie, tie[::-1]):
        prof = sessions_of(spark, order, scfg)[1].first()
        assert prof["landing_page"] == "https://x/1"


def test_max_length_split(spark, scfg):
    rows = [ev(i, "a", i * 20 * 60) for i in range(16)]   # one event every 20 minutes for 5 hours
    _, prof = sessions_of(spark, rows, scfg, max_min=240)
    got = sorted((r["session_part"], r["event_count"], r["is_split"]) for r in prof.collect())
    # 0:00..3:40 (12 events) in part 0; 4:00..5:00 (4 events) in part 1
    assert got == [(0, 12, True), (1, 4, True)]
    _, prof = sessions_of(spark, rows, scfg, max_min=600)
    assert [(r["event_count"], r["is_split"]) for r in prof.collect()] == [(16, False)]


def test_profile(spark, scfg):
    rows = [
        ev(1, "a", 0, url="https://shop.example.com/?utm_source=Newsletter&utm_medium=email",
           referrer="https://mail.example.com/"),
        ev(2, "a", 60, "product_view", url="https://shop.example.com/p/SKU-1", product="SKU-1"),
        ev(3, "a", 120, "add_to_cart", product="SKU-1"),
        ev(4, "a", 180, "login", person="W1"),
        ev(5, "a", 240, "product_view", product="SKU-2", person="W1"),
        # a second cookie: lands from Google, buys
        ev(6, "b", 0, referrer="https://www.google.com/", device="desktop"),
        ev(7, "b", 30, "add_to_cart", product="SKU-3"),
        ev(8, "b", 90, "purchase"),
    ]
    products = spark.createDataFrame([("SKU-1", "books"), ("SKU-2", "toys"), ("SKU-3", "home")],
                                     "product_id string, category string")
    keyed = with_session_keys(spark.createDataFrame(rows, SCHEMA), 1800, 14400)
    prof = {r["anonymous_id"]: r for r in session_profiles(keyed, products, scfg).collect()}
    a, b = prof["a"], prof["b"]
    assert (a["event_count"], a["page_views"], a["product_views"], a["cart_adds"]) == (5, 3, 2, 1)
    assert a["duration_s"] == 240 and a["products_viewed"] == ["SKU-1", "SKU-2"]
    assert a["categories"] == ["books", "toys"] and a["carted_products"] == ["SKU-1"]
    assert a["is_abandoned_cart"] and not a["has_purchase"] and a["is_logged_in"]
    assert (a["login_person_source"], a["login_person_ref"]) == ("webshop", "W1")
    assert (a["utm_source"], a["utm_medium"], a["channel"]) == ("newsletter", "email", "email")
    assert a["device"] == "mobile" and not a["is_bot"]
    assert b["has_purchase"] and not b["is_abandoned_cart"] and b["channel"] == "organic_search"
    assert b["device"] == "desktop" and not b["is_logged_in"] and b["login_person_ref"] is None


def test_bot_flag(spark, scfg):
    rows = [ev(i, "bot", i) for i in range(60)]          # 60 page views in a minute
    _, prof = sessions_of(spark, rows, scfg)
    assert prof.first()["is_bot"]


def test_single_shuffle_and_a_streaming_aggregation(spark, scfg):
    rows = [ev(i, "a", i * 60) for i in range(5)]
    _, prof = sessions_of(spark, rows, scfg)
    (key, value), = SQL_CONF.items()
    before = spark.conf.get(key, None)
    with sql_conf(spark, SQL_CONF):
        assert spark.conf.get(key) == value
        plan = prof._jdf.queryExecution().executedPlan().toString()
    assert spark.conf.get(key, None) == before     # put back for the session's other queries
    assert plan.count("Exchange hashpartitioning") == 1, plan
    # one sort for the cookie windows, one (over rows already in order) for the sessions; no hash aggregation
    assert plan.count("Sort [") == 2 and "SortAggregate" in plan and "HashAggregate" not in plan, plan


DUCKDB_SESSIONS = """
WITH ordered AS (
  SELECT *, epoch_us(event_ts) / 1e6 AS t,
         epoch_us(event_ts) / 1e6 - lag(epoch_us(event_ts) / 1e6) OVER w AS gap
  FROM events WINDOW w AS (PARTITION BY source_system, anonymous_id ORDER BY event_ts, event_id)
), visits AS (
  SELECT *, sum(CASE WHEN gap IS NULL OR gap > {timeout} THEN 1 ELSE 0 END)
            OVER (PARTITION BY source_system, anonymous_id ORDER BY event_ts, event_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit_no
  FROM ordered
), parts AS (
  SELECT *, floor((t - min(t) OVER (PARTITION BY source_system, anonymous_id, visit_no)) / {max_len}) AS part
  FROM visits
)
SELECT event_id, source_system || '|' || anonymous_id || '|' || visit_no || '|' || part AS session
FROM parts
"""


def reference_sessions(events: pd.DataFrame, timeout_s: float, max_s: float) -> dict[str, str]:
    """Event -> session label, by DuckDB SQL written independently of the Spark code."""
    con = duckdb.connect()
    con.register("events", events)
    out = con.execute(DUCKDB_SESSIONS.format(timeout=timeout_s, max_len=max_s)).df()
    return dict(zip(out["event_id"], out["session"], strict=True))


def partition_of(labels: dict[str, str]) -> set[frozenset]:
    groups: dict[str, set] = {}
    for e, s in labels.items():
        groups.setdefault(s, set()).add(e)
    return {frozenset(g) for g in groups.values()}


def test_matches_duckdb_reference(spark, scfg):
    rnd = random.Random(11)
    rows, i = [], 0
    for anon in [f"c{k}" for k in range(25)]:
        t = rnd.uniform(0, 3600)
        for _ in range(rnd.randint(1, 40)):
            # gaps around the timeout, ties, and long streaks that hit the maximum length
            t += rnd.choice([0, 1, 60, 1799, 1800, 1801, 2400, rnd.uniform(0, 4000)])
            rows.append(ev(i, anon, t))
            i += 1
    keyed, _ = sessions_of(spark, rows, scfg, timeout_min=30, max_min=90)
    spark_labels = {r["event_id"]: r["session_id"] for r in keyed.collect()}
    pdf = pd.DataFrame(rows, columns=[c.split()[0] for c in SCHEMA.split(", ")])
    ref = reference_sessions(pdf, 1800, 5400)
    assert partition_of(spark_labels) == partition_of(ref)


def test_every_profile_column_matches_the_benchmarks_duckdb_sql(spark, scfg, tmp_path):
    """The DuckDB SQL that `make bench` times against (bench/sessionize_compare.py) gives the same profile,
    column by column, on random events with every feature the profile reads; and the comparison catches a
    difference."""
    from bench.sessionize_compare import DUCKDB_SQL, compare

    rnd = random.Random(5)
    urls = ["https://shop.example.com/", "https://shop.example.com/p/P1?utm_source=Google&utm_medium=cpc",
            "https://shop.example.com/?utm_source=news&utm_medium=email", "https://shop.example.com/p/P2",
            None]
    refs = [None, "", " ", "https://www.google.com/", "https://t.co/x", "https://mail.yahoo.com/",
            "https://shop.example.com/c/1", "https://blog.example.org/"]
    types = ["page_view", "product_view", "add_to_cart", "checkout", "purchase", "login"]
    rows, i = [], 0
    for anon in [f"c{k}" for k in range(30)]:
        t = rnd.uniform(0, 3600)
        for _ in range(rnd.randint(1, 40)):
            t += rnd.choice([0, 1, 5, 60, 1799, 1801, rnd.uniform(0, 4000)])
            rows.append(ev(i, anon, t, etype=rnd.choice(types), url=rnd.choice(urls), referrer=rnd.choice(refs),
                           product=rnd.choice([None, "P1", "P2", "P3"]),
                           person=rnd.choice([None, None, None, f"W{anon}", "Wother"]),
                           device=rnd.choice([None, "mobile", "desktop"])))
            i += 1
    events = tmp_path / "events"
    spark.createDataFrame(rows, SCHEMA).write.parquet(str(events))
    keyed = with_session_keys(spark.read.parquet(str(events)), 30 * 60, 90 * 60)
    with sql_conf(spark, SQL_CONF):     # as `c360 sessionize` runs it
        session_profiles(keyed, None, scfg).write.parquet(str(tmp_path / "spark"))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(DUCKDB_SQL.format(events=events, timeout=30 * 60, max_len=90 * 60, out=tmp_path / "duck.parquet"))
    assert con.execute(f"SELECT count(*) FROM '{tmp_path / 'duck.parquet'}'").fetchone()[0] > 30
    assert compare(con, tmp_path / "spark", tmp_path / "duck.parquet") == {}

    con.execute(f"""COPY (SELECT * REPLACE (CASE WHEN event_count = 1 THEN 'x' ELSE channel END AS channel)
                    FROM '{tmp_path / 'duck.parquet'}') TO '{tmp_path / 'changed.parquet'}' (FORMAT parquet)""")
    singles = con.execute(f"SELECT count(*) FROM '{tmp_path / 'duck.parquet'}' WHERE event_count = 1").fetchone()[0]
    assert singles > 0 and compare(con, tmp_path / "spark", tmp_path / "changed.parquet") == {"channel": singles}
