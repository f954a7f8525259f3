"""Privacy as small pure transforms: which rows of a table are one person's (for ``c360 forget``), how their
identifiers are found in free text (the quarantine, reports), and the analysts' copy of the gold table with its
PII masked or tokenised. The job (:mod:`c360.pipelines.forget`) reads, calls these, and writes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from c360.standardize import columns as SC


@dataclass
class Erasure:
    """Everything that identifies the person to erase, gathered from the silver tables (small: one person)."""

    customer_ids: set[str] = field(default_factory=set)
    #: (source_system, source_record_id) of the person's records
    records: set[tuple[str, str]] = field(default_factory=set)
    #: (event source_system, anonymous_id) of the cookies stitched to the person
    cookies: set[tuple[str, str]] = field(default_factory=set)
    #: object_type -> {(source_system, object_id)} (orders, tickets, campaign responses, social profiles)
    objects: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    #: (first name key, last name key, postcode) of the person's records: how enrichment rows are linked
    enrichment_keys: set[tuple[str, str, str]] = field(default_factory=set)
    #: identifying values as written anywhere (emails, phones, ids), to find the person in free text
    tokens: set[str] = field(default_factory=set)
    #: the person's emails and phones as standardize normalises them (their keyed hashes keep audiences from
    #: contacting the person again)
    contacts: set[str] = field(default_factory=set)

    @property
    def record_keys(self) -> set[str]:
        """``<source>:<id>`` keys of records and cookies (identity edges' ends)."""
        return {f"{s}:{i}" for s, i in self.records | self.cookies}

    @property
    def order_ids(self) -> set[str]:
        return {i for _, i in self.objects.get("order", set())}

    def is_empty(self) -> bool:
        return not (self.customer_ids or self.records)


def pairs_in(pairs: set[tuple[str, str]], system: Column, ident: Column) -> Column:
    """``(system, ident)`` is one of ``pairs`` (a pushed-down filter: the pairs are few)."""
    cond = F.lit(False)
    by_system: dict[str, list[str]] = {}
    for s, i in sorted(pairs):
        by_system.setdefault(s, []).append(i)
    for s, ids in by_system.items():
        cond = cond | ((system == F.lit(s)) & ident.cast("string").isin(ids))
    return cond


def _col(df_columns: list[str], name: str) -> Column | None:
    return F.col(name) if name in df_columns else None


def kind_condition(kind: str, e: Erasure, columns: list[str]) -> Column | None:
    """Rows of a source of ``kind`` (canonical columns: a silver table, or bronze rows mapped by the source's
    ``sources.yml`` entry) that are the person's; None when the kind holds nothing of a person (products)."""
    has = set(columns)
    by_ref = (pairs_in(e.records, F.coalesce(F.col("person_source"), F.lit("")), F.col("person_ref"))
              if {"person_source", "person_ref"} <= has else F.lit(False))
    own = {"order": ("order", "order_id"), "ticket": ("ticket", "ticket_id"),
           "campaign_response": ("campaign_response", "response_id"),
           "social": ("social_profile", "source_record_id")}
    if kind == "person":
        return pairs_in(e.records, F.col("source_system"), F.col("source_record_id"))
    if kind in own:
        otype, id_col = own[kind]
        return by_ref | pairs_in(e.objects.get(otype, set()), F.col("source_system"), F.col(id_col).cast("string"))
    if kind == "order_line":
        return F.col("order_id").cast("string").isin(sorted(e.order_ids)) if e.order_ids else F.lit(False)
    if kind == "event":
        return by_ref | pairs_in(e.cookies, F.col("source_system"), F.col("anonymous_id"))
    if kind == "enrichment":
        if not {"first_name", "last_name", "postcode"} <= has or not e.enrichment_keys:
            return F.lit(False)
        key = F.concat_ws("\u0001", SC.name_key(F.col("first_name")), SC.name_key(F.col("last_name")),
                          SC.normalize_postcode(F.col("postcode")))
        return key.isin(sorted("\u0001".join(k) for k in e.enrichment_keys))
    return None


def token_pattern(tokens: set[str]) -> str | None:
    """A case-insensitive Java/Python regex matching any token as a whole (not inside a longer word or number):
    how the person is found in text that was never parsed (quarantined rows, reports)."""
    wanted = sorted({t.strip() for t in tokens if t and len(t.strip()) >= 3}, key=lambda t: (-len(t), t))
    if not wanted:
        return None
    body = "|".join(re.escape(t) for t in wanted)
    return rf"(?i)(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])"


def scrub(text: str, pattern: str | None, mark: str = "[erased]") -> tuple[str, int]:
    """``text`` with every match of ``pattern`` replaced by ``mark``; and how many were replaced."""
    if not pattern:
        return text, 0
    return re.subn(pattern, mark, text)


# ------------------------------------------------------------------------------------------- analysts' copy
def protect(df: DataFrame, rules: dict[str, str], secret: str, prefix_chars: int = 3) -> DataFrame:
    """``df`` with each column of ``rules`` protected (see :class:`c360.config.models.PrivacyConfig`); the
    lineage's source record ids are tokenised too (they lead back to the person in a source system)."""
    out = df
    for name, rule in rules.items():
        if name not in out.columns:
            continue
        col = F.col(name)
        if rule == "drop":
            out = out.drop(name)
            continue
        value = {"token": token(col, secret),
                 "mask": F.when(col.isNotNull() & (F.length(col) > 0),
                                F.concat(F.substring(col.cast("string"), 1, 1), F.lit("***"))),
                 "year": F.make_date(F.year(col), F.lit(1), F.lit(1)),
                 "prefix": F.substring(col.cast("string"), 1, prefix_chars)}[rule]
        out = out.withColumn(name, value)
    if "lineage" in out.columns:
        out = out.withColumn("lineage", F.transform_values(
            "lineage", lambda _k, v: v.withField("source_record_id", token(v["source_record_id"], secret))))
    return out


def token(col: Column, secret: str) -> Column:
    """``tok_`` + the first 16 hex characters of HMAC-SHA256(secret, value) (null stays null): stable, not
    reversible by hashing guesses without the secret."""
    block = 64
    key = secret.encode("utf-8")
    key = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    ipad = bytes(b ^ 0x36 for b in key).hex()
    opad = bytes(b ^ 0x5C for b in key).hex()
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(ipad)), F.encode(col.cast("string"), "UTF-8")), 256))
    mac = F.sha2(F.concat(F.unhex(F.lit(opad)), inner), 256)
    return F.when(col.isNotNull(), F.concat(F.lit("tok_"), F.substring(mac, 1, 16)))


def token_value(value: str, secret: str) -> str:
    """:func:`token` of one value, in Python (the same token as the Spark column function gives)."""
    return "tok_" + hmac.new(secret.encode("utf-8"), str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:16]
