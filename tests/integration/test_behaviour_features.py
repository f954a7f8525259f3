"""`c360 sessionize` and `c360 features` end to end on a generated company, checked against the generator's
truth, an independent DuckDB sessionisation and order counts computed with pandas from the landing files."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pyspark.sql import functions as F

from c360.config import load_config
from c360.generate.synth import GenParams, generate
from c360.io.delta import read_table
from c360.pipelines import JobContext, run_job
from c360.tables import table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def company(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("behaviour")
    landing = root / "landing"
    generate(landing, GenParams(people=200, seed=21, malformed_rate=0.0, chunk_size=200))
    cfg = load_config("test", landing, conf_root=REPO / "conf", warehouse=str(root / "warehouse"), landing=str(landing))
    ctx = JobContext(cfg)
    for job in ("ingest", "standardize", "resolve"):
        run_job(job, ctx)
    sessions = run_job("sessionize", ctx)
    features = run_job("features", ctx)
    return {"landing": landing, "cfg": cfg, "ctx": ctx, "sessions": sessions, "features": features}


def _sessions(spark, cfg) -> pd.DataFrame:
    return (read_table(spark, cfg, table("silver.web_sessions"))
            .select("anonymous_id", "session_start", "session_end", "event_count", "customer_id", "is_bot",
                    "login_person_ref").toPandas())


def test_sessions_equal_the_generators_true_sessions(company, spark):
    landing = company["landing"]
    events = pd.concat([pd.read_json(f, lines=True, dtype={"event_ts": str})
                        for f in sorted((landing / "clickstream").glob("*.jsonl"))])
    events = events.drop_duplicates("event_id")                                  # replays
    truth = pd.concat([pd.read_parquet(f) for f in sorted((landing / "_truth").glob("sessions_*.parquet"))])
    events = events.merge(truth, on="event_id")
    events["ts"] = pd.to_datetime(events["event_ts"], utc=True).dt.tz_localize(None)
    expected = (events.groupby("true_session_id")
                .agg(anonymous_id=("anonymous_id", "first"), session_start=("ts", "min"),
                     session_end=("ts", "max"), event_count=("event_id", "count"), is_bot=("is_bot", "first")))
    got = _sessions(spark, company["cfg"])
    key = ["anonymous_id", "session_start", "session_end", "event_count"]
    exp_set = set(map(tuple, expected[key].astype(str).to_numpy()))
    got_set = set(map(tuple, got[key].astype(str).to_numpy()))
    assert len(got) == len(expected) and got_set == exp_set
    # bots: every generated crawler session is flagged, no human session is
    flagged = set(map(tuple, got[got["is_bot"]][key].astype(str).to_numpy()))
    assert flagged == set(map(tuple, expected[expected["is_bot"]][key].astype(str).to_numpy()))


def test_sessions_equal_duckdb_on_silver_events(company, spark):
    from tests.unit.test_sessions import DUCKDB_SESSIONS

    ev = read_table(spark, company["cfg"], table("silver.events")).select(
        "source_system", "event_id", "anonymous_id", "event_ts").toPandas()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("events", ev)
    ref = con.execute(f"""
        WITH s AS ({DUCKDB_SESSIONS.format(timeout=1800, max_len=14400)})
        SELECT e.anonymous_id, min(e.event_ts) AS s, max(e.event_ts) AS t, count(*) AS n
        FROM s JOIN events e USING (event_id) GROUP BY s.session, e.anonymous_id""").df()
    got = _sessions(spark, company["cfg"])
    as_set = lambda df, cols: set(map(tuple, df[cols].astype(str).to_numpy()))  # noqa: E731
    assert as_set(got, ["anonymous_id", "session_start", "session_end", "event_count"]) == \
        as_set(ref, ["anonymous_id", "s", "t", "n"])


def test_logged_in_cookies_stitch_all_their_sessions(company, spark):
    cfg = company["cfg"]
    got = _sessions(spark, cfg)
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'").toPandas()
    cust = dict(zip("webshop:" + xref[xref["source_system"] == "webshop"]["source_record_id"],
                    xref[xref["source_system"] == "webshop"]["customer_id"], strict=True))
    logins = got[got["login_person_ref"].notna()]
    # a logged-in session belongs to the customer of the account it logged in with
    assert (logins["customer_id"] == ("webshop:" + logins["login_person_ref"]).map(cust)).all()
    # every session of a cookie that ever logged in (and is not shared) has that customer, earlier ones too
    cookie_customer = logins.groupby("anonymous_id")["customer_id"].agg(lambda s: set(s))
    single = cookie_customer[cookie_customer.map(len) == 1].map(lambda s: next(iter(s)))
    of_cookie = got[got["anonymous_id"].isin(single.index)]
    assert len(of_cookie) > len(logins[logins["anonymous_id"].isin(single.index)])   # there are earlier sessions
    assert (of_cookie["customer_id"] == of_cookie["anonymous_id"].map(single)).all()
    assert company["sessions"]["with_customer"] == int(got["customer_id"].notna().sum())


def test_features_one_row_per_customer_with_independent_order_counts(company, spark):
    cfg, landing = company["cfg"], company["landing"]
    feats = read_table(spark, cfg, table("gold.customer_features")).toPandas()
    golden = read_table(spark, cfg, table("silver.golden_customer")).select("customer_id").toPandas()
    assert feats["customer_id"].is_unique and set(feats["customer_id"]) == set(golden["customer_id"])
    as_of = pd.Timestamp(company["features"]["as_of"])
    # orders of each customer, from the landing files and the resolved xref, with pandas
    orders = pd.concat([pd.read_parquet(f) for f in sorted((landing / "orders").glob("*.parquet"))])
    orders = orders[(orders["status"] != "cancelled") & (orders["order_ts"] < as_of + pd.Timedelta(days=1))]
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'").toPandas()
    owner = dict(zip(xref["source_system"] + ":" + xref["source_record_id"], xref["customer_id"], strict=True))
    orders["customer_id"] = (orders["customer_source"] + ":" + orders["customer_ref"]).map(owner)
    expected = orders.groupby("customer_id")["order_id"].nunique()
    got = feats.set_index("customer_id")["frequency"]
    assert (got.reindex(expected.index) == expected).all()
    assert (got.drop(expected.index) == 0).all()
    last = orders.groupby("customer_id")["order_ts"].max().dt.normalize()
    assert (feats.set_index("customer_id")["recency_days"].reindex(last.index) == (as_of - last).dt.days).all()
    buyers = feats[feats["frequency"] > 0]
    assert buyers["r_score"].between(1, 5).all() and buyers["rfm_segment"].notna().all()
    assert buyers["p_alive"].between(0, 1).all() and (buyers["clv"] >= 0).all()
    assert (feats[feats["frequency"] == 0]["lifecycle_stage"] == "prospect").all()
    assert feats["value_tier"].notna().all() and feats["behaviour_segment"].notna().all()


def test_fits_are_recorded_and_features_rerun_identically(company, spark):
    cfg = company["cfg"]
    metrics = read_table(spark, cfg, table("gold.model_metrics")).toPandas().set_index("model")
    bg = json.loads(metrics.loc["bgnbd", "params"])
    assert all(bg[k] > 0 for k in ("r", "alpha", "a", "b"))
    holdout = json.loads(metrics.loc["bgnbd", "metrics"])["holdout"]
    assert holdout["customers"] > 0 and holdout["actual_purchases"] >= 0
    assert json.loads(metrics.loc["profitability", "metrics"])["top_share"] == 0.2
    before = read_table(spark, cfg, table("gold.customer_features")).orderBy("customer_id").collect()
    run_job("features", company["ctx"])
    after = read_table(spark, cfg, table("gold.customer_features")).orderBy("customer_id").collect()
    assert before == after
    again = run_job("sessionize", company["ctx"])
    assert again["sessions"] == company["sessions"]["sessions"]
    assert read_table(spark, cfg, table("silver.web_sessions")).where(F.col("session_id").isNull()).count() == 0
