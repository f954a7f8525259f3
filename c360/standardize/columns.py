"""Column functions (``Column -> Column``) that standardise names, emails, phones, dates and addresses.

Spark built-ins everywhere except phone numbers, which need Google's libphonenumber rules
(``phonenumbers``) and run as a vectorised ``pandas_udf`` over the distinct values.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd
import phonenumbers
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DateType, StringType, TimestampNTZType, TimestampType

_ACCENTED = "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŠšŽžŁłŚśŻżŹźĆćŃńĘęĄąŐőŰű"
_PLAIN = "AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyySsZzLlSsZzZzCcNnEeAaOoUu"
EMAIL_RE = r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"
STREET_ABBREVIATIONS = {
    "STREET": "ST", "ROAD": "RD", "AVENUE": "AVE", "DRIVE": "DR", "PARADE": "PDE", "LANE": "LN",
    "COURT": "CT", "PLACE": "PL", "CRESCENT": "CRES", "HIGHWAY": "HWY", "TERRACE": "TCE", "BOULEVARD": "BLVD",
}


def strip_accents(col: Column) -> Column:
    """Latin letters with diacritics to their plain form (é -> e, Ł -> L); ß -> ss, æ -> ae."""
    col = F.regexp_replace(F.regexp_replace(col, "ß", "ss"), "[æÆ]", "ae")
    return F.translate(col, _ACCENTED, _PLAIN)


def normalize_whitespace(col: Column) -> Column:
    trimmed = F.trim(F.regexp_replace(col, r"\s+", " "))
    return F.when(trimmed != "", trimmed)


def clean_name(col: Column) -> Column:
    """Display form: accents kept, stray characters removed, single spaces, Title Case (o'brien -> O'brien)."""
    cleaned = normalize_whitespace(F.regexp_replace(col, r"[^\p{L}\s'\-]", " "))
    return F.initcap(F.lower(cleaned))


def name_key(col: Column) -> Column:
    """Matching form: lower case ASCII letters only ("O'Brien" -> "obrien", "Zoë" -> "zoe")."""
    key = F.regexp_replace(F.lower(strip_accents(col)), r"[^a-z]", "")
    return F.when(key != "", key)


def normalize_email(col: Column) -> Column:
    e = F.lower(F.regexp_replace(col, r"\s+", ""))
    return F.when(e != "", e)


def is_valid_email(col: Column) -> Column:
    return F.coalesce(col.rlike(EMAIL_RE), F.lit(False))


def normalize_postcode(col: Column) -> Column:
    p = F.upper(F.regexp_replace(col.cast("string"), r"[^0-9A-Za-z]", ""))
    return F.when(p != "", p)


def normalize_street(col: Column) -> Column:
    """Upper case, punctuation removed, street types abbreviated (Street -> ST)."""
    s = F.upper(strip_accents(col))
    s = F.regexp_replace(s, r"[^A-Z0-9 ]", " ")
    for word, abbr in STREET_ABBREVIATIONS.items():
        s = F.regexp_replace(s, rf"\b{word}\b", abbr)
    return normalize_whitespace(s)


def street_tokens(col: Column) -> Column:
    return F.split(col, " ")


def parse_date(col: Column, data_type: DataType, formats: list[str]) -> Column:
    """A date from a date, a timestamp or text in any of ``formats`` (first that parses wins)."""
    if isinstance(data_type, DateType):
        return col
    if isinstance(data_type, (TimestampType, TimestampNTZType)):
        return F.to_date(col)
    text = F.trim(col.cast("string"))
    return F.coalesce(*[F.to_date(text, f) for f in formats])


def parse_timestamp(col: Column, data_type: DataType, formats: list[str]) -> Column:
    if isinstance(data_type, TimestampType):
        return col
    if isinstance(data_type, (DateType, TimestampNTZType)):
        return col.cast("timestamp")
    text = F.trim(col.cast("string"))
    return F.coalesce(*[F.to_timestamp(text, f) for f in formats], F.to_timestamp(text))


def to_e164(text: str | None, region: str) -> str | None:
    """Phone text -> E.164 (``+61412345678``), or None when it is not a valid number (plain Python)."""
    if text is None or not str(text).strip():
        return None
    try:
        number = phonenumbers.parse(str(text), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164(region: str):
    """A vectorised UDF: phone text -> E.164 (:func:`to_e164`) or null when not a valid number."""

    @F.pandas_udf(StringType())
    def _e164(raw: pd.Series) -> pd.Series:
        one = cache(lambda text: to_e164(text, region))
        return raw.map(one)

    return _e164


@cache
def nickname_pairs() -> tuple[tuple[str, str], ...]:
    with resources.files("c360.resources").joinpath("nicknames.csv").open() as f:
        df = pd.read_csv(f)
    return tuple(zip(df["nickname"], df["canonical"], strict=True))


def nicknames_df(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(list(nickname_pairs()), "nickname string, canonical string")


def with_canonical_first_name(df: DataFrame, nick_df: DataFrame, key_col: str = "first_name_key",
                              out_col: str = "first_name_canonical") -> DataFrame:
    """Nickname -> canonical given name (bob -> robert); other names map to themselves."""
    nick = F.broadcast(nick_df.withColumnRenamed("nickname", "_nick"))
    return (df.join(nick, F.col(key_col) == F.col("_nick"), "left")
            .withColumn(out_col, F.coalesce("canonical", key_col)).drop("_nick", "canonical"))


def split_full_name(full: Column) -> tuple[Column, Column]:
    """("SMITH, John" or "John Smith") -> (first, last); a single word is taken as the last name."""
    f = normalize_whitespace(full)
    has_comma = f.contains(",")
    first = F.when(has_comma, F.trim(F.substring_index(f, ",", -1))).otherwise(
        F.regexp_extract(f, r"^(.*) [^ ]+$", 1))
    last = F.when(has_comma, F.trim(F.substring_index(f, ",", 1))).otherwise(F.substring_index(f, " ", -1))
    return F.when(first != "", first), F.when(last != "", last)
