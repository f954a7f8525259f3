"""Customer features on hand-built orders, tickets and sessions; expected values written by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from c360.config import load_config
from c360.features import customer as C

AS_OF = dt.date(2025, 12, 31)
ORDERS = "customer_id string, order_id string, order_ts timestamp, amount double"
LINES = ("order_id string, product_id string, quantity int, unit_price double, unit_cost double, discount double, "
         "is_returned boolean")


@pytest.fixture(scope="module")
def fcfg():
    from tests.conftest import REPO

    return load_config("test", conf_root=REPO / "conf").features


def ts(days_before: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(AS_OF - dt.timedelta(days=days_before), dt.time(hour))


def orders_df(spark, rows):
    return C.order_facts(spark.createDataFrame(rows, ORDERS), None)


def test_rfm_scores_and_segments(spark, fcfg):
    # five customers, each better than the previous on recency, frequency and money
    rows = []
    for i, (recency, n, amount) in enumerate([(300, 1, 10.0), (200, 2, 20.0), (100, 3, 30.0), (50, 4, 40.0),
                                              (5, 5, 50.0)]):
        rows += [(f"K{i}", f"O{i}-{j}", ts(recency + 10 * j), amount) for j in range(n)]
    # K5 ties K4 on frequency (4 orders) but spends less and bought long ago
    rows += [("K5", f"O5-{j}", ts(400 + j), 1.0) for j in range(4)]
    got = {r["customer_id"]: r for r in C.rfm(orders_df(spark, rows), AS_OF, fcfg.rfm).collect()}
    assert got["K4"]["recency_days"] == 5 and got["K4"]["frequency"] == 5 and got["K4"]["monetary"] == 250.0
    # 6 customers: percent rank 0, .2, .4, .6, .8, 1 -> scores 1..5 (ties share the lower rank)
    assert [got[f"K{i}"]["r_score"] for i in range(6)] == [2, 3, 4, 5, 5, 1]
    assert [got[f"K{i}"]["f_score"] for i in range(6)] == [1, 2, 3, 4, 5, 4]
    assert [got[f"K{i}"]["m_score"] for i in range(6)] == [2, 3, 4, 5, 5, 1]
    # R x F grid (conf/base/features.yml)
    assert [got[f"K{i}"]["rfm_segment"] for i in range(6)] == [
        "Hibernating", "About to Sleep", "Potential Loyalists", "Champions", "Champions", "At Risk"]
    assert got["K3"]["rfm_score"] == "545"


def test_lifecycle_boundaries(spark, fcfg):
    rows = [  # (orders, recency_days, mean_interval_days, previous_gap_days) -> stage
        (0, None, None, None, "prospect"),
        (1, 90, None, None, "new"),
        (1, 135, None, None, "active"),       # not beyond 1.5 x the default 90-day interval
        (1, 136, None, None, "at_risk"),
        (1, 271, None, None, "lapsed"),
        (3, 365, 250.0, 100, "active"),
        (3, 366, 250.0, 100, "churned"),
        (4, 45, 30.0, 30, "active"),
        (4, 46, 30.0, 30, "at_risk"),
        (4, 91, 30.0, 30, "lapsed"),
        (2, 90, 200.0, 200, "reactivated"),
        (2, 91, 200.0, 200, "active"),
    ]
    df = spark.createDataFrame([r[:4] for r in rows],
                               "orders int, recency_days int, mean_interval_days double, previous_gap_days int")
    got = [r["lifecycle_stage"] for r in C.lifecycle(df, fcfg.lifecycle.stages, fcfg.lifecycle.default_stage).collect()]
    assert got == [r[4] for r in rows]


def test_profitability_and_contribution(spark, fcfg):
    orders = spark.createDataFrame([("K1", "O1", ts(10), 0.0), ("K1", "O2", ts(5), 0.0), ("K2", "O3", ts(3), 0.0)],
                                   ORDERS)
    lines = spark.createDataFrame([
        ("O1", "P1", 2, 10.0, 4.0, 2.0, False),    # 20 gross, 2 discount, cost 8
        ("O1", "P2", 1, 30.0, 20.0, 0.0, True),    # 30 gross, returned: 30 back, no cost of goods
        ("O2", "P1", 1, 10.0, 4.0, 0.0, False),    # 10 gross, cost 4
        ("O3", "P3", 1, 100.0, 50.0, 10.0, False),
    ], LINES)
    tickets = spark.createDataFrame([("K1", "phone"), ("K1", "email"), ("K3", "fax")], "customer_id string, channel string")
    facts = C.order_facts(orders, lines)
    got = {r["customer_id"]: r for r in C.profitability(facts, tickets, fcfg.profitability).collect()}
    k1 = got["K1"]
    assert (k1["gross_revenue"], k1["discounts"], k1["returns_value"], k1["net_revenue"]) == (60.0, 2.0, 30.0, 28.0)
    assert k1["gross_margin"] == 28.0 - 12.0
    # 2 orders x 2.5 fulfilment + phone 9 + email 4
    assert k1["cost_to_serve"] == 2 * 2.5 + 9.0 + 4.0 and k1["profit"] == 16.0 - 18.0
    assert got["K2"]["profit"] == 100.0 - 10.0 - 50.0 - 2.5
    assert got["K3"]["profit"] == -5.0                       # a ticket in an unknown channel: the default cost
    view = C.contribution(spark.createDataFrame([(k, r["profit"]) for k, r in got.items()],
                                                "customer_id string, profit double"), 0.34)
    assert view["top_customers"] == 1 and view["top_profit_share"] == pytest.approx(37.5 / (37.5 - 2.0 - 5.0))
    assert view["unprofitable_customers"] == 2


def test_purchase_summary(spark):
    rows = [("K1", "O1", ts(100, 9), 10.0), ("K1", "O2", ts(100, 15), 5.0),   # same day: one purchase day
            ("K1", "O3", ts(30), 20.0), ("K1", "O4", ts(2), 40.0),
            ("K2", "O5", ts(7), 12.0)]
    got = {r["customer_id"]: r for r in C.purchase_summary(orders_df(spark, rows), AS_OF).collect()}
    assert (got["K1"]["x"], got["K1"]["t_x_days"], got["K1"]["T_days"]) == (2, 98, 100)
    assert got["K1"]["repeat_mean_value"] == 30.0
    assert (got["K2"]["x"], got["K2"]["t_x_days"], got["K2"]["T_days"], got["K2"]["repeat_mean_value"]) == (0, 0, 7, None)


def test_order_windows(spark):
    rows = [("K1", "O1", ts(0), 10.0), ("K1", "O2", ts(89), 5.0),       # day 89: inside 90 days
            ("K1", "O3", ts(90), 20.0), ("K1", "O4", ts(400), 40.0),    # day 90: outside; day 400: in none
            ("K2", "O5", ts(200), 12.0)]
    got = {r["customer_id"]: r.asDict() for r in C.order_windows(orders_df(spark, rows), AS_OF, [90, 365]).collect()}
    assert got["K1"] == {"customer_id": "K1", "orders_90d": 2, "spend_90d": 15.0, "orders_365d": 3,
                         "spend_365d": 35.0}
    assert got["K2"] == {"customer_id": "K2", "orders_90d": 0, "spend_90d": 0.0, "orders_365d": 1,
                         "spend_365d": 12.0}


def test_behaviour_windows(spark):
    schema = ("customer_id string, session_date date, duration_s long, page_views long, cart_adds long, "
              "is_abandoned_cart boolean, has_purchase boolean, is_bot boolean")
    d = lambda n: AS_OF - dt.timedelta(days=n)  # noqa: E731
    rows = [("K1", d(0), 600, 5, 1, True, False, False), ("K1", d(6), 120, 2, 1, False, True, False),
            ("K1", d(7), 60, 1, 0, False, False, False), ("K1", d(40), 60, 1, 1, True, False, False),
            ("K1", d(1), 6000, 500, 0, False, False, True),            # a bot session: ignored
            ("K1", d(-1), 60, 1, 0, False, False, False)]              # after as_of: ignored
    got = C.behaviour(spark.createDataFrame(rows, schema), AS_OF, [7, 30, 90]).first()
    assert (got["sessions_7d"], got["sessions_30d"], got["sessions_90d"]) == (2, 3, 4)
    assert got["engaged_minutes_7d"] == 12.0 and got["page_views_30d"] == 8
    assert got["cart_abandonment_rate_7d"] == 0.5 and got["cart_abandonment_rate_90d"] == pytest.approx(2 / 3)
    assert got["days_since_last_visit"] == 0 and got["purchase_sessions_90d"] == 1


def test_support_sentiment(spark):
    schema = "customer_id string, category string, created_at timestamp, subject string, body string"
    rows = [("K1", "complaint", ts(20), "Problem with my order", "Terrible service, the parcel arrived broken!"),
            ("K1", "inquiry", ts(5), "Question", "Thanks so much, great help!"),
            ("K2", "inquiry", ts(3), "Question", "Love it, works great")]
    got = {r["customer_id"]: r for r in C.support(spark.createDataFrame(rows, schema), AS_OF, ["complaint"]).collect()}
    assert (got["K1"]["tickets"], got["K1"]["complaints"], got["K1"]["days_since_last_complaint"]) == (2, 1, 20)
    assert got["K1"]["negative_tickets"] == 1 and got["K2"]["negative_tickets"] == 0
    assert got["K2"]["ticket_sentiment"] > 0.5 and got["K2"]["days_since_last_complaint"] is None


def test_segment_names():
    names = C.segment_names([[2.0, 0.1, -1.0], [0.1, 0.2, 0.0], [1.5, 0.0, 0.2], [0.0, 0.1, 0.3]], ["a", "b", "c"])
    assert names == ["high_a & low_c", "average", "high_a", "average (2)"]


def test_value_tiers(spark, fcfg):
    df = spark.createDataFrame([(f"K{i:02d}", float(i)) for i in range(20)], "customer_id string, clv double")
    got = {r["customer_id"]: r["value_tier"] for r in C.with_value_tier(df, "clv", fcfg.value_tiers).collect()}
    # 20 customers: the best 1 (5%) platinum, next 3 (to 20%) gold, next 6 (to 50%) silver, the rest bronze
    tiers = [got[f"K{i:02d}"] for i in range(19, -1, -1)]
    assert tiers == ["platinum"] + ["gold"] * 3 + ["silver"] * 6 + ["bronze"] * 10
