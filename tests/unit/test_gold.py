"""The gold transforms, the quality suites' configuration, the data dictionary and the scorecard's summaries,
on hand-written rows with expected values worked out by hand or by plain Python."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import yaml
from pyspark.sql import functions as F

from c360.errors import ConfigError
from c360.gold import customer360 as G
from c360.quality import suites as S
from c360.report import scorecard as SC
from c360.tables import TABLES, column_doc, column_docs, column_order

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ gold transforms
def test_source_and_object_counts(spark):
    xref = spark.createDataFrame([("crm", "1", "c1", "person"), ("crm", "2", "c1", "person"), ("web", "9", "c1", "person"),
                                  ("web", "a", "c1", "cookie"), ("crm", "3", "c2", "person")],
                                 "source_system string, source_record_id string, customer_id string, record_type string")
    got = {r["customer_id"]: r["source_records"] for r in G.source_counts(xref).collect()}
    assert got == {"c1": {"crm": 2, "web": 1}, "c2": {"crm": 1}}
    objects = spark.createDataFrame([("order", "c1"), ("order", "c1"), ("ticket", "c1"), ("order", None)],
                                    "object_type string, customer_id string")
    assert {r[0]: r[1] for r in G.object_counts(objects).collect()} == {"c1": {"order": 2, "ticket": 1}}


def test_offers_and_alerts_arrays_keep_rank_order(spark):
    nbo = spark.createDataFrame([("c1", 2, "b", 1.0, 0.1, "email", "x"), ("c1", 1, "a", 2.0, 0.2, "sms", "y"),
                                 ("c2", 1, "c", 0.5, 0.3, "email", "z")],
                                "customer_id string, rank int, offer_id string, expected_value double, p_accept double, "
                                "channel string, reason string")
    got = {r["customer_id"]: ([o["offer_id"] for o in r["next_best_offers"]], r["top_offer"])
           for r in G.offers_array(nbo).collect()}
    assert got == {"c1": (["a", "b"], "a"), "c2": (["c"], "c")}
    alerts = spark.createDataFrame([("c1", "churn", "high", "call", "{}"), ("c1", "vip", "low", "thank", "{}")],
                                   "customer_id string, alert string, severity string, action string, evidence string")
    row = G.alerts_array(alerts).first()
    assert row["alert_count"] == 2 and {a["alert"] for a in row["open_alerts"]} == {"churn", "vip"}


def test_assemble_one_row_per_golden_customer_with_age_and_contactability(spark):
    golden = spark.createDataFrame(
        [("c1", "a@x.com", None, dt.date(1990, 6, 2), True, "r1"), ("c2", None, "+61400000000", dt.date(1990, 6, 1), None, "r2"),
         ("c3", "c@x.com", "+61400000001", None, False, "r3")],
        "customer_id string, email string, phone string, date_of_birth date, marketing_consent boolean, run_id string")
    feats = spark.createDataFrame([("c1", 10.0, dt.date(2020, 1, 1))], "customer_id string, clv double, as_of date")
    alerts = spark.createDataFrame([("c1", "vip", "low", "thank", "{}")],
                                   "customer_id string, alert string, severity string, action string, evidence string")
    out = G.assemble(golden, feats, [G.alerts_array(alerts)], dt.date(2025, 6, 1))
    rows = {r["customer_id"]: r for r in out.collect()}
    assert set(rows) == {"c1", "c2", "c3"} and "run_id" not in out.columns
    assert (rows["c1"]["age"], rows["c2"]["age"], rows["c3"]["age"]) == (34, 35, None)  # the day before / on the birthday
    assert (rows["c1"]["is_email_contactable"], rows["c1"]["is_phone_contactable"]) == (True, False)
    assert rows["c2"]["is_phone_contactable"] is False  # consent unknown: not contactable
    assert rows["c3"]["is_email_contactable"] is False  # consent refused
    assert rows["c1"]["clv"] == 10.0 and rows["c2"]["clv"] is None
    assert (rows["c1"]["alert_count"], rows["c2"]["alert_count"]) == (1, 0)
    assert all(r["as_of"] == dt.date(2025, 6, 1) for r in rows.values())


def test_content_hash_moves_with_content_not_with_updated_at(spark):
    df = spark.createDataFrame([("c1", "Ann", dt.datetime(2025, 1, 1))], "customer_id string, name string, updated_at timestamp")
    h = G.with_content_hash(df).first()["content_hash"]
    later = G.with_content_hash(df.withColumn("updated_at", F.lit(dt.datetime(2026, 1, 1)))).first()["content_hash"]
    renamed = G.with_content_hash(df.withColumn("name", F.lit("Anne"))).first()["content_hash"]
    assert h == later and h != renamed


# ------------------------------------------------------------------------------------------ data dictionary
def test_the_dictionary_covers_every_registered_gold_column_with_its_type():
    for spec in (s for s in TABLES.values() if s.layer == "gold"):
        for col, typ in spec.columns.items():
            doc = column_doc(spec.fqn, col)
            ddl = {"long": "bigint", "integer": "int"}.get(typ, typ)  # the registry's DDL names, Spark's simple names
            assert doc is not None and doc.type == ddl, (spec.fqn, col)
    families = column_order("gold.customer_360", ["sessions_90d", "customer_id", "unknown", "sessions_7d", "clv"])
    assert families == ["customer_id", "clv", "sessions_7d", "sessions_90d", "unknown"]
    assert {d.group for d in column_docs("gold.customer_360")} >= {
        "demographic", "transactional", "third_party", "behavioural", "social", "segments", "scores", "actions"}


# ------------------------------------------------------------------------------------------ quality suites
def test_the_shipped_suites_parse_and_name_their_checks():
    suites = yaml.safe_load((REPO / "conf" / "base" / "quality.yml").read_text())["quality"]["suites"]
    checks = S.parse(suites)
    assert {"gold.customer_360", "silver.customer_xref", "bronze.ingest_log", "bronze.<source>"} <= set(checks)
    labels = [c.label for c in checks["gold.customer_360"]]
    assert "column_values_to_be_unique(customer_id)" in labels
    ref = [c for c in checks["silver.customer_xref"] if c.expect == "unexpected_rows"]
    assert {t for c in ref for t in c.referenced_tables()} == {"silver.golden_customer", "silver.person"}
    count = next(c for c in checks["gold.customer_360"] if c.expect == "table_row_count_to_equal")
    assert count.referenced_tables() == {"silver.golden_customer"}
    assert S.expectation(count, {"silver.golden_customer": 42}).value == 42


@pytest.mark.parametrize("item, message", [
    ({"expect": "column_values_to_be_purple", "column": "a"}, "unknown expectation 'column_values_to_be_purple'"),
    ({"expect": "column_values_to_not_be_null", "column": "a", "severity": "fatal"}, "severity 'fatal'"),
    ({"expect": "column_values_to_not_be_null", "colum": "a"}, "has no argument ['colum']"),
    ({"expect": "unexpected_rows"}, "needs a 'query'"),
    ({"column": "a"}, "'expect' is required"),
])
def test_a_bad_suite_entry_is_a_config_error_naming_its_key(item, message):
    with pytest.raises(ConfigError) as e:
        S.parse({"gold.customer_360": [item]}, "my/quality.yml")
    assert message in str(e.value) and "quality.suites.gold.customer_360[0] in my/quality.yml" in str(e.value)


# ------------------------------------------------------------------------------------------ scorecard
def test_histogram_matches_numpy(spark):
    values = [0.5, 1.0, 1.5, 2.5, 2.6, 3.9, 4.0, 9.0, None]
    df = spark.createDataFrame([(v,) for v in values], "x double")
    got = SC.histogram(df, "x", bins=4, lo=0.0, hi=4.0)
    clipped = np.clip([v for v in values if v is not None], 0, 4 - 1e-9)  # outside values fall in the end bins
    expected, _ = np.histogram(clipped, bins=4, range=(0, 4))
    assert got["count"].tolist() == expected.tolist() and got["left"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_lifecycle_movement_against_plain_python(spark):
    orders = [("a", "2025-01-01"), ("a", "2025-05-20"), ("b", "2024-03-01"), ("c", "2025-05-01"), ("d", "2024-09-01")]
    df = spark.createDataFrame([(c, dt.datetime.fromisoformat(d)) for c, d in orders], "customer_id string, order_ts timestamp")
    as_of = dt.date(2025, 6, 1)
    got = SC.lifecycle_movement(df, as_of, months=2, step_days=30)

    def status(point):
        out = {}
        for cust in {c for c, _ in orders}:
            days = [dt.date.fromisoformat(d) for c, d in orders if c == cust and dt.date.fromisoformat(d) <= point]
            if not days:
                continue
            first, last = (point - min(days)).days, (point - max(days)).days
            s = "new" if first < 90 else "active" if last < 180 else "lapsed" if last < 365 else "lost"
            out[s] = out.get(s, 0) + 1
        return out

    assert len(got) == 3
    for _, row in got.iterrows():
        expected = status(row["point"])
        assert {k: int(row[k]) for k in ("new", "active", "lapsed", "lost") if row[k]} == expected, row["point"]


def test_campaign_performance_rates(spark):
    df = spark.createDataFrame([("c1", "accepted"), ("c1", "declined"), ("c1", "ignored"), ("c1", "ignored"), ("c2", "accepted")],
                               "campaign_id string, response string")
    got = {r["campaign_id"]: (r["sent"], r["response_rate"], r["conversion_rate"])
           for _, r in SC.campaign_performance(df, "campaign_id").iterrows()}
    assert got == {"c1": (4, 0.5, 0.25), "c2": (1, 1.0, 1.0)}


def test_a_check_names_the_columns_it_needs():
    check = S.Check("t", "column_pair_values_a_to_be_greater_than_b", "critical",
                    {"column_A": "end", "column_B": "start", "or_equal": True})
    assert check.columns() == ["end", "start"]
    assert S.Check("t", "compound_columns_to_be_unique", "critical", {"column_list": ["a", "b"]}).columns() == ["a", "b"]
    assert S.Check("t", "unexpected_rows", "critical", {"query": "SELECT 1"}).columns() == []
