"""Standardisers on tricky inputs; expected values written by hand."""

import datetime as dt

from pyspark.sql import functions as F

from c360.config import StandardizeConfig
from c360.standardize import columns as C


def _one(spark, values, fn, typ="string"):
    df = spark.createDataFrame([(v,) for v in values], f"v {typ}")
    return [r[0] for r in df.select(fn(F.col("v"))).collect()]


def test_names(spark):
    raw = ["  JOHN  ", "o'brien", "Zoë", "mary-jane  SMITH", "José!", "", None]
    assert _one(spark, raw, C.clean_name) == ["John", "O'brien", "Zoë", "Mary-jane Smith", "José", None, None]
    assert _one(spark, raw, C.name_key) == ["john", "obrien", "zoe", "maryjanesmith", "jose", None, None]
    assert _one(spark, ["Müller", "Łukasz", "Renée"], C.strip_accents) == ["Muller", "Lukasz", "Renee"]


def test_emails(spark):
    raw = ["  John.Smith@Gmail.COM ", "bad-email@", "a b@x.com", "", None]
    assert _one(spark, raw, C.normalize_email) == ["john.smith@gmail.com", "bad-email@", "ab@x.com", None, None]
    assert _one(spark, raw, lambda c: C.is_valid_email(C.normalize_email(c))) == [True, False, True, False, False]


def test_phones_to_e164(spark):
    raw = ["0412 345 678", "(04) 1234 5678", "+61 412 345 678", "0412-345-678", "+61412345678",
           "61412345678", "12345", "not a phone", "", None, "+44 20 7946 0958"]
    expected = ["+61412345678", "+61412345678", "+61412345678", "+61412345678", "+61412345678",
                "+61412345678", None, None, None, None, "+442079460958"]
    assert _one(spark, raw, C.e164("AU")) == expected


def test_dates_in_several_formats(spark):
    fmts = StandardizeConfig().date_formats
    raw = ["1987-06-13", "13/06/1987", "19870613", "3/6/1987", "31/02/1990", "garbage", None]
    got = _one(spark, raw, lambda c: C.parse_date(c, spark.createDataFrame([], "v string").schema["v"].dataType, fmts))
    assert got == [dt.date(1987, 6, 13), dt.date(1987, 6, 13), dt.date(1987, 6, 13), dt.date(1987, 6, 3),
                   None, None, None]


def test_streets_and_postcodes(spark):
    assert _one(spark, ["12 George Street", "5/7 king  road.", "1 Ocean Parade"], C.normalize_street) == [
        "12 GEORGE ST", "5 7 KING RD", "1 OCEAN PDE"]
    assert _one(spark, [" 2000 ", "sw1a 1aa", "", None], C.normalize_postcode) == ["2000", "SW1A1AA", None, None]


def test_split_full_name(spark):
    df = spark.createDataFrame([("SMITH, John",), ("Mary Jane Watson",), ("Cher",), (None,)], "v string")
    first, last = C.split_full_name(F.col("v"))
    assert [(r[0], r[1]) for r in df.select(first, last).collect()] == [
        ("John", "SMITH"), ("Mary Jane", "Watson"), (None, "Cher"), (None, None)]


def test_nicknames_map_to_canonical(spark):
    df = spark.createDataFrame([("bob",), ("robert",), ("liz",), ("zoe",), (None,)], "first_name_key string")
    out = C.with_canonical_first_name(df, C.nicknames_df(spark))
    got = {r["first_name_key"]: r["first_name_canonical"] for r in out.collect()}
    assert got == {"bob": "robert", "robert": "robert", "liz": "elizabeth", "zoe": "zoe", None: None}
