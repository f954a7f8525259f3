"""The privacy transforms on hand-written rows: finding a person in free text, and the analysts' protection."""

import datetime as dt
import hashlib
import hmac

from c360.privacy import Erasure, kind_condition, protect, scrub, token_pattern


def test_identifiers_are_found_as_whole_words_whatever_their_case():
    pattern = token_pattern({"Jane.Doe@Example.com", "+61412345678", "C-1001", "ab"})
    text = 'C-1001,"JANE.DOE@example.COM",+61412345678;C-10011,xjane.doe@example.comx,ab'
    out, n = scrub(text, pattern)
    assert n == 3
    assert out == '[erased],"[erased]",[erased];C-10011,xjane.doe@example.comx,ab'
    assert token_pattern({"", "ab"}) is None  # too short to name anyone: nothing matches
    assert scrub("anything", None) == ("anything", 0)


def test_each_kind_finds_the_persons_rows(spark):
    e = Erasure(customer_ids={"c1"}, records={("crm", "7")}, cookies={("web", "cookie-9")},
                objects={"order": {("shop", "o1")}})
    orders = spark.createDataFrame(
        [("shop", "o1", None, None), ("shop", "o2", "crm", "7"), ("shop", "o3", "crm", "8"), ("pos", "o1", None, None)],
        "source_system string, order_id string, person_source string, person_ref string")
    got = {(r[0], r[1]) for r in orders.where(kind_condition("order", e, orders.columns)).collect()}
    assert got == {("shop", "o1"), ("shop", "o2")}
    events = spark.createDataFrame([("web", "cookie-9", None, None), ("web", "cookie-1", "crm", "7"),
                                    ("web", "cookie-2", "crm", "70")],
                                   "source_system string, anonymous_id string, person_source string, person_ref string")
    got = {r[1] for r in events.where(kind_condition("event", e, events.columns)).collect()}
    assert got == {"cookie-9", "cookie-1"}
    lines = spark.createDataFrame([("o1", 1), ("o9", 1)], "order_id string, line_no int")
    assert [r[0] for r in lines.where(kind_condition("order_line", e, lines.columns)).collect()] == ["o1"]
    assert kind_condition("product", e, ["product_id"]) is None


def test_the_analysts_columns_are_masked_tokenised_and_cut(spark):
    df = spark.createDataFrame([("c1", "Jane", "jane@x.org", "+61412345678", dt.date(1984, 7, 3), "2000", "1 Main St")],
                               "customer_id string, first_name string, email string, phone string, "
                               "date_of_birth date, postcode string, street string")
    rules = {"first_name": "mask", "email": "token", "phone": "token", "date_of_birth": "year",
             "postcode": "prefix", "street": "drop"}
    secret = "s" * 70  # longer than HMAC's block: hashed first, as RFC 2104 says
    row = protect(df, rules, secret, prefix_chars=2).first().asDict()
    mac = hmac.new(secret.encode(), b"jane@x.org", hashlib.sha256).hexdigest()[:16]
    assert row == {"customer_id": "c1", "first_name": "J***", "email": f"tok_{mac}",
                   "phone": "tok_" + hmac.new(secret.encode(), b"+61412345678", hashlib.sha256).hexdigest()[:16],
                   "date_of_birth": dt.date(1984, 1, 1), "postcode": "20"}
