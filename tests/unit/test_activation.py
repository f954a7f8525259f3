"""Activation transforms on hand-written rows: every suppression reason, the cell split (determinism, proportions,
strata), response codes, the size cap, campaign results and uplift, prospects and the lift measure."""

import datetime as dt
import random
from collections import Counter

import numpy as np
import pytest
from pyspark.sql import functions as F

from c360 import privacy
from c360.activation import audiences as A
from c360.activation import lookalike as L
from c360.activation import suppression as S
from c360.config import load_config
from c360.config.models import ActivationConfig, AudienceConfig, CellConfig
from c360.errors import ConfigError

AS_OF = dt.date(2026, 6, 30)
CUSTOMERS = "customer_id string, email string, phone string, street string, postcode string, city string, " \
            "marketing_consent boolean"


def _ids(df, col="customer_id"):
    return sorted(r[0] for r in df.select(col).collect())


@pytest.fixture
def customers(spark):
    return spark.createDataFrame([
        ("c1", "ann@example.com", "+61412000001", "1 A St", "2000", "SYDNEY", True),
        ("c2", "bob@example.com", None, None, "3000", "MELBOURNE", False),     # no consent
        ("c3", "not-an-email", "+61412000003", "3 C St", "4000", "BRISBANE", True),  # invalid email
        ("c4", None, "+61412000004", "4 D St", "5000", "ADELAIDE", None),       # consent unknown
        ("c5", "eve@example.com", "+61412000005", "5 E St", "6000", "PERTH", True),
    ], CUSTOMERS)


def test_consent_false_always_suppresses_and_unknown_follows_the_setting(customers):
    assert _ids(S.no_consent(customers, F.col("marketing_consent"), "allow")) == ["c2"]
    assert _ids(S.no_consent(customers, F.col("marketing_consent"), "suppress")) == ["c2", "c4"]


def test_no_valid_contact_point_for_the_channel_uses_the_shipped_channel_rules(customers):
    channels = load_config("test").activation.channels
    email = S.no_contact(customers, F.expr(channels["email"].contact))
    assert _ids(email) == ["c3", "c4"]              # an invalid email and no email
    assert _ids(S.no_contact(customers, F.expr(channels["sms"].contact))) == ["c2"]
    assert _ids(S.no_contact(customers, F.expr(channels["mail"].contact))) == ["c2"]


def test_open_complaints_count_by_category_status_and_date(spark):
    tickets = spark.createDataFrame([
        ("c1", "Complaint", "OPEN", dt.datetime(2026, 6, 1)),
        ("c2", "complaint", "closed", dt.datetime(2026, 6, 1)),
        ("c3", "inquiry", "open", dt.datetime(2026, 6, 1)),
        ("c4", "complaint", "open", dt.datetime(2026, 7, 1)),       # after the audience's date
        ("c5", "complaint", "open", dt.datetime(2026, 6, 30, 23, 59)),
    ], "customer_id string, category string, status string, created_at timestamp")
    assert _ids(S.open_complaint(tickets, AS_OF, ["complaint"], ["open"])) == ["c1", "c5"]


def test_cooldown_counts_sends_within_the_days_up_to_the_date(spark):
    sends = spark.createDataFrame([
        ("c1", dt.datetime(2026, 6, 17, 0, 0)),   # day 14 counting the date itself: in
        ("c2", dt.datetime(2026, 6, 16, 23, 59)),  # day 15: out
        ("c3", dt.datetime(2026, 6, 30, 12, 0)),
        ("c4", dt.datetime(2026, 7, 2)),           # after the date: not a past contact
    ], "customer_id string, sent_at timestamp")
    assert _ids(S.cooldown(sends, AS_OF, 14)) == ["c1", "c3"]


def test_suppression_list_matches_normalised_email_phone_or_id(spark, customers):
    listed = spark.createDataFrame([("ann@example.com", None, None), (None, "+61412000004", None),
                                    (None, None, "c5")], "email string, phone string, customer_id string")
    assert _ids(S.listed(customers, listed)) == ["c1", "c4", "c5"]
    only_email = spark.createDataFrame([("eve@example.com",)], "email string")
    assert _ids(S.listed(customers, only_email)) == ["c5"]


def test_erased_people_are_found_by_their_keyed_hashes_and_python_tokens_equal_spark_tokens(spark, customers):
    secret = "s3cret"
    tokens = {privacy.token_value("bob@example.com", secret), privacy.token_value("c3", secret)}
    got = S.erased(customers, tokens, lambda c: privacy.token(c, secret))
    assert _ids(got) == ["c2", "c3"]
    spark_tokens = {r[0] for r in customers.select(privacy.token(F.col("email"), secret)).collect() if r[0]}
    assert spark_tokens == {privacy.token_value(v, secret) for v in
                            ("ann@example.com", "bob@example.com", "not-an-email", "eve@example.com")}
    assert S.erased(customers, set(), lambda c: c).count() == 0


def test_first_reason_follows_the_order_and_all_reasons_are_kept_once(spark):
    reasons = spark.createDataFrame([("c1", "cooldown"), ("c1", "no_consent"), ("c1", "no_consent"),
                                     ("c2", "open_complaint"), ("c2", "erased"), (None, "cooldown")], S.SCHEMA)
    kept = S.all_reasons([reasons], spark)
    assert sorted(tuple(r) for r in kept.collect()) == [("c1", "cooldown"), ("c1", "no_consent"),
                                                         ("c2", "erased"), ("c2", "open_complaint")]
    first = {r[0]: r[1] for r in S.first_reason(kept).collect()}
    assert first == {"c1": "no_consent", "c2": "erased"}


# ------------------------------------------------------------------------------------------------ cells
CELLS = [CellConfig(name="test", share=0.8), CellConfig(name="alt", share=0.1),
         CellConfig(name="control", share=0.1, control=True)]


def _people(spark, n=3000, seed=1):
    rng = random.Random(seed)
    rows = [(f"c{i:05d}", rng.choice(["a", "b", "b", "c", "c", "c", None])) for i in range(n)]
    return spark.createDataFrame(rows, "customer_id string, segment string")


def test_cells_split_every_stratum_in_the_shares(spark):
    df = _people(spark)
    got = A.with_cells(df, CELLS, seed=7, campaign_id="spring", stratify_by="segment").collect()
    by = Counter((r["stratum"], r["cell"]) for r in got)
    sizes = Counter(r["stratum"] for r in got)
    assert set(sizes) == {"a", "b", "c", "(none)"}
    for stratum, n in sizes.items():
        for c in CELLS:
            assert abs(by[(stratum, c.name)] - n * c.share) <= 1, (stratum, c.name, by[(stratum, c.name)], n)
    assert {r["cell"]: r["is_control"] for r in got} == {"test": False, "alt": False, "control": True}


def test_cells_are_deterministic_whatever_the_row_order_and_change_with_seed_or_campaign(spark):
    df = _people(spark, 2000)
    base = {r[0]: r[1] for r in A.with_cells(df, CELLS, 7, "spring", "segment").select("customer_id", "cell").collect()}
    shuffled = df.orderBy(F.rand(3)).repartition(5)
    again = {r[0]: r[1] for r in A.with_cells(shuffled, CELLS, 7, "spring", "segment")
             .select("customer_id", "cell").collect()}
    assert again == base
    other_seed = {r[0]: r[1] for r in A.with_cells(df, CELLS, 8, "spring", "segment").select("customer_id", "cell").collect()}
    other_campaign = {r[0]: r[1] for r in A.with_cells(df, CELLS, 7, "summer", "segment")
                      .select("customer_id", "cell").collect()}
    moved = [sum(base[k] != d[k] for k in base) for d in (other_seed, other_campaign)]
    assert all(m > 300 for m in moved), moved  # a new draw: about 1 - (.8² + .1² + .1²) = 34% move


def test_a_control_cell_is_independent_of_the_stratum_values(spark):
    df = _people(spark, 3000)
    got = A.with_cells(df, CELLS, 7, "spring", None).collect()
    assert {r["stratum"] for r in got} == {"(all)"}
    assert abs(sum(r["cell"] == "control" for r in got) - 300) <= 1


# ------------------------------------------------------------------------------------------------ codes
def test_response_codes_name_campaign_cell_and_offer_are_unique_and_parse_back(spark):
    df = _people(spark, 5000).withColumn("cell", F.lit("test")).withColumn(
        "offer_id", F.when(F.col("segment") == "a", F.lit(None)).otherwise(F.lit("10pct_off")))
    coded = df.withColumn("code", A.response_code("spring-26", 7, F.col("cell"), F.col("offer_id")))
    parts = A.parse_response_code(F.col("code"))
    rows = coded.select("customer_id", "offer_id", "code", *[v.alias(k) for k, v in parts.items()]).collect()
    assert len({r["code"] for r in rows}) == len(rows)
    for r in rows:
        campaign, cell, offer, key = r["code"].split(".")
        assert (campaign, cell, offer) == ("spring-26", "test", r["offer_id"] or "-")
        assert len(key) == 16 and r["customer_id"] not in r["code"]
        assert (r["campaign_id"], r["cell"], r["offer"]) == ("spring-26", "test", r["offer_id"])
    bad = spark.createDataFrame([("a.b",), (None,), ("x.y.z.w.v",)], "code string")
    assert all(v is None for r in bad.select(*[v.alias(k) for k, v in A.parse_response_code(F.col("code")).items()])
               .collect() for v in r)


def test_size_cap_keeps_the_first_by_order_then_customer_id(spark):
    df = spark.createDataFrame([("c1", 5.0), ("c2", 9.0), ("c3", 9.0), ("c4", 1.0), ("c5", None)],
                               "customer_id string, clv double")
    got = A.capped(df, 3, "clv DESC NULLS LAST").orderBy("audience_rank").collect()
    assert [(r["customer_id"], r["audience_rank"]) for r in got] == [("c2", 1), ("c3", 2), ("c1", 3)]
    assert A.capped(df, None, "clv").count() == 5


def test_next_best_offer_on_the_channel(spark):
    df = spark.createDataFrame([
        ("c1", [("b", "sms"), ("a", "email")]), ("c2", [("c", "push")]), ("c3", None)],
        "customer_id string, next_best_offers array<struct<offer_id:string,channel:string>>")
    got = {r[0]: r[1] for r in A.with_offer(df, "next_best", "email").select("customer_id", "offer_id").collect()}
    assert got == {"c1": "a", "c2": None, "c3": None}
    assert {r[0] for r in A.with_offer(df, "free_shipping", "email").select("offer_id").collect()} == {"free_shipping"}


# ------------------------------------------------------------------------------------------------ results
def test_campaign_results_by_hand(spark):
    d = dt.date(2026, 6, 30)
    members = spark.createDataFrame(
        [("aud", "spring-20260630", "spring", d, f"c{i}", "control" if i >= 8 else "test", i >= 8, f"code{i}")
         for i in range(10)],
        "audience string, run_id string, campaign_id string, as_of date, customer_id string, cell string, "
        "is_control boolean, response_code string")
    responses = spark.createDataFrame([("code0", "accepted"), ("code0", "declined"), ("code1", "declined"),
                                       ("code2", "Accepted"), ("other", "accepted")],
                                      "response_code string, response string")
    orders = spark.createDataFrame([
        ("c0", dt.datetime(2026, 7, 5)), ("c0", dt.datetime(2026, 7, 6)),  # one conversion, two orders
        ("c1", dt.datetime(2026, 6, 30, 10)),                               # on the audience's day: before the window
        ("c3", dt.datetime(2026, 7, 30, 23)),                               # day 30: in
        ("c4", dt.datetime(2026, 7, 31, 1)),                                # day 31: out
        ("c8", dt.datetime(2026, 7, 2)),
    ], "customer_id string, order_ts timestamp")
    got = {r["cell"]: r.asDict() for r in A.campaign_results(members, responses, orders, 30).collect()}
    test, control = got["test"], got["control"]
    assert (test["members"], test["responses"], test["accepted"], test["converted"]) == (8, 3, 2, 2)
    assert test["response_rate"] == pytest.approx(2 / 8) and test["conversion_rate"] == pytest.approx(2 / 8)
    assert (control["members"], control["converted"], control["uplift"]) == (2, 1, None)
    assert test["uplift"] == pytest.approx(2 / 8 - 1 / 2)
    no_control = A.campaign_results(members.where("NOT is_control"), None, None, 30).first()
    assert no_control["uplift"] is None and no_control["responses"] == 0


# ------------------------------------------------------------------------------------------------ lookalike
def test_prospects_are_enrichment_records_of_no_customer(spark):
    person_xref = spark.createDataFrame([
        ("Ann", "Lee", "2000", "k1"), ("Bob", "Ng", "3000", "k2"), ("Bob", "Ng", "3000", "k3"),  # shared key
        ("Cy", "Wu", None, "k4")], "first_name string, last_name string, postcode string, customer_id string")
    enrichment = spark.createDataFrame([
        ("x", "1", "ANN", "LEE", "2000", "pro", "90-120k", 2, 5e5),   # a customer's (accents/case aside)
        ("x", "2", "BOB", "NG", "3000", "pro", "90-120k", 2, 5e5),    # shared by two customers: still a customer's
        ("x", "3", "ANN", "LEE", "2001", "pro", "<40k", 1, 3e5),      # another postcode: a prospect
        ("x", "4", "DAN", "MOORE", " 4 000", "sales", "40-60k", 3, 4e5),
        ("x", "5", "EVE", None, "5000", "sales", "40-60k", 3, 4e5),   # no full key: left out
    ], "source_system string, source_record_id string, first_name string, last_name string, postcode string, "
       "occupation string, income_band string, household_size int, home_value double")
    enrichment = enrichment.withColumn("updated_at", F.lit(None).cast("timestamp"))
    got = {r["source_record_id"]: r for r in L.prospects(enrichment, person_xref, "substring(postcode, 1, 1)").collect()}
    assert sorted(got) == ["3", "4"]
    assert got["4"]["postcode"] == "4000" and got["4"]["region"] == "4"


def test_training_rows_label_the_seed_and_need_an_attribute(spark):
    df = spark.createDataFrame([("a", "gold", "pro", None), ("b", "bronze", None, 2), ("c", "platinum", None, None),
                                ("d", None, "sales", 1)], "customer_id string, value_tier string, occupation string, "
                               "household_size int")
    got = {r[0]: r[1] for r in L.training_rows(df, "value_tier IN ('platinum', 'gold')",
                                               ["occupation", "household_size"]).collect()}
    assert got == {"a": 1.0, "b": 0.0, "d": 0.0}


def test_lift_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    positive = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    assert L.lift(scores, positive, top=0.1) == pytest.approx(1.0 / 0.2)
    assert L.lift(scores, positive, top=0.5) == pytest.approx(0.4 / 0.2)
    assert L.lift(scores, np.zeros(10)) is None


# ------------------------------------------------------------------------------------------------ config
def test_audience_configuration_errors_name_the_problem():
    with pytest.raises(ValueError, match="add up to 1"):
        AudienceConfig(selection="true", cells=[CellConfig(name="a", share=0.5), CellConfig(name="b", share=0.4)])
    with pytest.raises(ValueError, match="distinct"):
        AudienceConfig(selection="true", cells=[CellConfig(name="a", share=0.5), CellConfig(name="a", share=0.5)])
    with pytest.raises(ValueError, match="not among activation.channels"):
        ActivationConfig(channels={}, audiences={"x": AudienceConfig(selection="true")})
    with pytest.raises(ValueError, match="letters, digits"):
        ActivationConfig(channels={"email": {}}, audiences={"a.b": AudienceConfig(selection="true")})
    with pytest.raises(ValueError):
        AudienceConfig(selection="true", campaign_id="spring.26")


def test_a_response_source_needs_a_person_reference_or_a_response_code(tmp_path):
    (tmp_path / "sources.yml").write_text(
        "sources:\n  - {name: r, kind: campaign_response, format: csv, path: r/*.csv, "
        "fields: {sent_at: sent, response: resp}}\n")
    with pytest.raises(ConfigError, match="person_source \\+ person_ref or response_code"):
        load_config("test", tmp_path)
    (tmp_path / "sources.yml").write_text(
        "sources:\n  - {name: r, kind: campaign_response, format: csv, path: r/*.csv, "
        "fields: {sent_at: sent, response: resp, response_code: code}}\n")
    assert load_config("test", tmp_path).sources[0].fields["response_code"] == "code"


def test_a_response_code_links_the_response_to_the_member_while_their_id_is_current(spark):
    from c360.resolve.links import object_links

    xref = spark.createDataFrame([("crm", "1", "k1"), ("crm", "2", "k2")],
                                 "source_system string, source_record_id string, customer_id string")
    records = spark.createDataFrame([("k1", "a@x.org", None), ("k2", "b@x.org", None)],
                                    "customer_id string, email string, phone string")
    responses = spark.createDataFrame([
        ("esp", "r1", None, None, "C.test.-.AAA", None),        # a member's code
        ("esp", "r2", "crm", "1", "C.test.-.BBB", None),        # the code wins over the reference
        ("esp", "r3", None, None, "C.test.-.OLD", None),        # its member's id was retired: no link by code
        ("esp", "r4", None, None, None, "b@x.org"),              # no code: by email, as before
    ], "source_system string, response_id string, person_source string, person_ref string, response_code string, "
       "email string")
    members = spark.createDataFrame([("C.test.-.AAA", "k2"), ("C.test.-.BBB", "k2"), ("C.test.-.OLD", "gone")],
                                    "response_code string, customer_id string")
    got = {r["object_id"]: (r["customer_id"], r["link_method"]) for r in object_links(
        {"silver.campaign_responses": responses}, xref, records, "AU", members).collect()}
    assert got == {"r1": ("k2", "response_code"), "r2": ("k2", "response_code"), "r3": (None, "unmatched"),
                   "r4": ("k2", "email")}
