"""The matching settings a run uses: the configured library narrowed to the fields the data has.

``conf/base/resolve.yml`` lists a comparison for every person field c360 knows and blocking keys over them.
A source maps some fields and leaves the others empty, so a comparison, blocking rule, deterministic rule or
``cannot_link`` rule is used only when every column it reads has values in ``silver.person`` (at least two
records: one alone can match nothing). A one-source registry of names, addresses, birth dates and national
ids is compared on those; a web shop's emails and phones come in as soon as a source maps them. What was
left out, and why, is reported.
"""

from __future__ import annotations

import re

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import ResolveConfig
from c360.resolve.blocking import referenced_columns
from c360.resolve.comparisons import Comparison


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def key_columns(keys: list[str], available: list[str]) -> list[str]:
    """The ``silver.person`` columns that a blocking rule's key expressions read."""
    words = set().union(*(_words(k) for k in keys))
    return [c for c in available if c in words]


def present_columns(person: DataFrame, columns: list[str], minimum: int = 2) -> tuple[set[str], int]:
    """The ``columns`` that hold a value (not null, not empty) in at least ``minimum`` records, and the number
    of records (one query)."""
    columns = [c for c in dict.fromkeys(columns) if c in person.columns]

    def filled(c: str):
        col = F.col(c)
        has = col.isNotNull()
        if dict(person.dtypes)[c] == "string":
            has = has & (F.trim(col) != "")
        return F.count(F.when(has, F.lit(1))).alias(c)

    row = person.agg(F.count(F.lit(1)).alias("_records"), *[filled(c) for c in columns]).first()
    return {c for c in columns if row[c] >= minimum}, row["_records"]


def effective_settings(person: DataFrame, r: ResolveConfig) -> tuple[ResolveConfig, dict]:
    """``r`` with only the comparisons and rules whose columns have data, and a report of what was left out
    (with ``records``, the number of records: the same query counts them)."""
    comparisons = [Comparison(c) for c in r.comparisons]
    available = person.columns
    wanted = [col for c in comparisons for col in c.columns]
    wanted += [col for b in r.blocking.rules for col in key_columns(b.keys, available)]
    wanted += [col for d in r.deterministic for col in referenced_columns(d.when, available)]
    present, n_records = present_columns(person, wanted)

    # a comparison needs its main column (the others refine it: a nickname form, the other name part, the
    # coarser levels of a hierarchy)
    kept_cmp = [c for c in comparisons if c.config.column in present]
    kept_names = {c.name for c in kept_cmp}
    all_names = {c.name for c in comparisons}
    rules = [b for b in r.blocking.rules
             if (cols := key_columns(b.keys, available)) and all(c in present for c in cols)]
    deterministic = [d for d in r.deterministic
                     if all(c in present for c in referenced_columns(d.when, available))]
    # a cannot_link rule reads comparison levels: it needs every comparison it names
    cannot_link = [x for x in r.cannot_link if (_words(x.when) & all_names) <= kept_names]
    report = {
        "records": n_records,
        "fields_present": sorted(present),
        "comparisons": [c.name for c in kept_cmp],
        "comparisons_without_data": sorted(all_names - kept_names),
        "blocking_rules": [b.name for b in rules],
        "blocking_rules_without_data": [b.name for b in r.blocking.rules if b not in rules],
        "deterministic_without_data": [d.name for d in r.deterministic if d not in deterministic],
        "cannot_link_without_data": [x.name for x in r.cannot_link if x not in cannot_link],
    }
    narrowed = r.model_copy(update={"comparisons": [c.config for c in kept_cmp],
                                    "blocking": r.blocking.model_copy(update={"rules": rules}),
                                    "deterministic": deterministic, "cannot_link": cannot_link})
    return narrowed, report
