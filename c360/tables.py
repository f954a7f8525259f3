"""The one registry of every Delta table: layer, name, keys, minimum columns, producing job.

A reader finds any table's producer in one hop from here. Paths are ``<warehouse>/<layer>/<name>``; the
catalog name is ``<layer>.<name>``. Reads and writes go through :mod:`c360.io.delta`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

import yaml

from c360.config import C360Config
from c360.io.files import join

Layer = Literal["bronze", "silver", "gold"]
WriteMode = Literal["merge", "overwrite", "insert_new"]


@dataclass(frozen=True)
class TableSpec:
    layer: Layer
    name: str
    #: business key; MERGE matches on it (null-safe)
    keys: tuple[str, ...]
    #: minimum columns and their Spark SQL types (more are welcome)
    columns: dict[str, str]
    producer: str
    description: str
    write_mode: WriteMode = "merge"
    partition_by: tuple[str, ...] = field(default_factory=tuple)

    def ddl(self, without: tuple[str, ...] = ()) -> str:
        """The declared columns as a Spark DDL schema (``"a string, b long"``), less ``without``: writers build
        their rows against it, so a table's columns are written down once, here."""
        return ", ".join(f"`{c}` {t}" for c, t in self.columns.items() if c not in without)

    @property
    def fqn(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, cfg: C360Config) -> str:
        return join(cfg.paths.warehouse, self.layer, self.name)


BRONZE_META = {"_source_system": "string", "_ingested_at": "timestamp", "_source_file": "string",
               "_row_hash": "string"}


def _split_top_level(text: str) -> list[str]:
    """Split "a int, b map<string,string>" on the commas outside angle brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += {"<": 1, ">": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def _t(layer: Layer, name: str, keys: tuple[str, ...], columns: str, producer: str, description: str,
       **kw) -> TableSpec:
    cols = dict(c.strip().split(" ", 1) for c in _split_top_level(columns) if c.strip())
    return TableSpec(layer, name, keys, cols, producer, description, **kw)


_SPECS = [
    # ------------------------------------------------------------------ bronze
    _t("bronze", "quarantine", ("source_system", "_row_hash"),
       "source_system string, raw string, reason string, _source_file string, _row_hash string, "
       "_ingested_at timestamp", "ingest",
       "Rows that could not be parsed or broke the source's declared schema, with the raw text and a reason.",
       write_mode="insert_new"),
    _t("bronze", "ingest_log", ("run_id", "source_system", "_source_file"),
       "run_id string, source_system string, _source_file string, file_size long, file_mtime long, "
       "rows_read long, rows_kept long, rows_quarantined long, _ingested_at timestamp", "ingest",
       "Reconciliation per run, source and file: rows read = rows kept + rows quarantined."),
    # ------------------------------------------------------------------ silver
    _t("silver", "person", ("source_system", "source_record_id"),
       "source_system string, source_record_id string, first_name string, last_name string, email string, "
       "phone string, date_of_birth date, postcode string, updated_at timestamp", "standardize",
       "Standardised person records from every person-kind source (one row per source record)."),
    _t("silver", "orders", ("source_system", "order_id"),
       "source_system string, order_id string, person_source string, person_ref string, order_ts timestamp, "
       "amount double", "standardize", "Typed, de-duplicated orders."),
    _t("silver", "order_lines", ("source_system", "order_id", "line_no"),
       "source_system string, order_id string, line_no int, product_id string, quantity int, "
       "unit_price double", "standardize", "Typed, de-duplicated order lines."),
    _t("silver", "products", ("source_system", "product_id"),
       "source_system string, product_id string, category string", "standardize", "Product catalogue."),
    _t("silver", "events", ("source_system", "event_id"),
       "source_system string, event_id string, anonymous_id string, event_type string, event_ts timestamp",
       "standardize", "Clickstream events, typed and de-duplicated (replays removed)."),
    _t("silver", "tickets", ("source_system", "ticket_id"),
       "source_system string, ticket_id string, created_at timestamp", "standardize", "Support tickets."),
    _t("silver", "enrichment", ("source_system", "source_record_id"),
       "source_system string, source_record_id string", "standardize", "Third-party enrichment records."),
    _t("silver", "social", ("source_system", "source_record_id"),
       "source_system string, source_record_id string, handle string", "standardize", "Social profiles."),
    _t("silver", "campaign_responses", ("source_system", "response_id"),
       "source_system string, response_id string, sent_at timestamp, response string", "standardize",
       "Campaign responses (accepted / declined / ignored)."),
    _t("silver", "customer_xref", ("source_system", "source_record_id"),
       "source_system string, source_record_id string, customer_id string, match_probability double",
       "resolve",
       "One row per source person record (record_type person) and per logged-in cookie (record_type cookie): "
       "the customer it belongs to."),
    _t("silver", "identity_edges", ("left_key", "right_key"),
       "left_key string, right_key string, blocked_by array<string>, levels map<string,string>, "
       "weights map<string,double>, match_weight double, match_probability double, decision string", "resolve",
       "Every scored candidate pair with the evidence (blocking rules, comparison levels, weights) and the "
       "decision: match, no_match, cannot_link or review.", write_mode="overwrite"),
    _t("silver", "golden_customer", ("customer_id",), "customer_id string, record_count long, lineage "
       "map<string,struct<source_system:string,source_record_id:string,rule:string,updated_at:timestamp>>",
       "resolve", "One row per customer_id: survivorship applied, with per-attribute lineage.",
       write_mode="overwrite"),
    _t("silver", "customer_id_history", ("customer_id", "event", "run_id", "related_id"),
       "customer_id string, event string, related_id string, run_id string, at timestamp", "resolve",
       "Created, merged (related_id: the retired id) and split (related_id: the earlier id) customer ids.",
       write_mode="insert_new"),
    _t("silver", "object_xref", ("object_type", "source_system", "object_id"),
       "object_type string, source_system string, object_id string, customer_id string, link_method string",
       "resolve", "Orders, tickets, campaign responses and social profiles re-keyed to customer_id.",
       write_mode="overwrite"),
    _t("silver", "web_sessions", ("session_id",),
       "session_id string, anonymous_id string, customer_id string, session_start timestamp, "
       "session_end timestamp, duration_s long, page_views long, event_count long, is_bot boolean, channel string, "
       "is_abandoned_cart boolean, visit_start timestamp, session_part int", "sessionize",
       "One row per web session (a visit, or a part of a visit longer than the maximum length) with its profile "
       "and the customer it is stitched to."),
    _t("silver", "prospects", ("source_system", "source_record_id"),
       "source_system string, source_record_id string, first_name string, last_name string, postcode string, "
       "region string, occupation string, income_band string, household_size int, home_value double, "
       "updated_at timestamp", "lookalike",
       "Third-party enrichment records that belong to no customer (their name-and-postcode key matches no "
       "customer's records): the people lookalike acquisition ranks.", write_mode="overwrite"),
    # ------------------------------------------------------------------ gold
    _t("gold", "customer_features", ("customer_id",),
       "customer_id string, as_of date, recency_days int, frequency long, monetary double, rfm_segment string, "
       "profit double, clv double, p_alive double, lifecycle_stage string, value_tier string, "
       "behaviour_segment string", "features",
       "One row per customer: RFM, profitability, CLV, lifecycle, value tier, behaviour, segments, support, "
       "social, enrichment (docs/features.md)."),
    _t("gold", "cross_sell_rules", ("antecedent", "consequent"),
       "antecedent array<string>, consequent array<string>, support double, confidence double, lift double, "
       "version string, as_of date", "train",
       "FP-Growth association rules between products (one-item consequents) of the latest training run.",
       write_mode="overwrite"),
    _t("gold", "customer_scores", ("customer_id", "as_of"),
       "customer_id string, as_of date, churn_probability double, churn_risk string, "
       "propensity map<string,double>, model_versions map<string,string>", "score",
       "Per customer and scoring date: calibrated churn probability and risk band for (as_of, as_of + horizon], "
       "propensity per category and campaign offer, the model versions used.", partition_by=("as_of",)),
    _t("gold", "next_best_offers", ("customer_id", "as_of", "rank"),
       "customer_id string, as_of date, rank int, offer_id string, expected_value double, p_accept double, "
       "channel string, reason string", "score",
       "Per customer and scoring date: the top eligible offers by expected value, with the reason.",
       partition_by=("as_of",)),
    _t("gold", "customer_alerts", ("customer_id", "alert", "as_of"),
       "customer_id string, alert string, as_of date, severity string, action string, evidence string", "score",
       "One row per customer, alert rule that holds and scoring date, with the evidence (JSON).",
       partition_by=("as_of",)),
    _t("gold", "model_metrics", ("model", "version"),
       "model string, version string, trained_at timestamp, params string, metrics string", "train",
       "One row per trained model version (also identity evaluation, BG/NBD and Gamma-Gamma fits)."),
    _t("gold", "customer_360", ("customer_id",),
       "customer_id string, as_of date, updated_at timestamp, content_hash string", "publish",
       "One row per customer: the golden record with lineage, the five data types of a 360 view, segments, CLV, "
       "scores, next best offers, open alerts, consent and source counts (docs/data-dictionary.md).",
       write_mode="merge"),
    _t("gold", "customer_360_analyst", ("customer_id",),
       "customer_id string, as_of date", "publish",
       "gold.customer_360 for analysts: names masked, emails and phones tokenised (equal values, equal tokens), "
       "birth dates cut to the year, streets and national ids left out (privacy.analyst_columns). The clear "
       "gold.customer_360 is for the jobs and the people allowed to see PII.", write_mode="overwrite"),
    _t("gold", "audience_members", ("audience", "run_id", "customer_id"),
       "audience string, run_id string, campaign_id string, as_of date, customer_id string, cell string, "
       "is_control boolean, stratum string, response_code string, offer_id string, channel string, "
       "audience_rank int", "audience",
       "One row per audience run and member after suppression: the cell (test, control, ...), the response code "
       "the export carries, the offer; responses that come back with the code are matched to it."),
    _t("gold", "audience_runs", ("audience", "run_id"),
       "audience string, run_id string, campaign_id string, as_of date, channel string, selected long, "
       "suppressed long, suppressed_by map<string,bigint>, capped long, members long, cells map<string,bigint>, "
       "files array<string>, created_at timestamp", "audience",
       "One row per audience run: customers selected, suppressed (per reason: a customer counts for each reason "
       "that holds), left out by the size cap, members per cell and the files exported."),
    _t("gold", "prospect_scores", ("seed_audience", "source_system", "source_record_id"),
       "seed_audience string, source_system string, source_record_id string, score double, rank int, "
       "decile int, model_version string, scored_at timestamp", "lookalike",
       "Prospects (silver.prospects) ranked by the lookalike score of a seed audience: rank 1 resembles the "
       "seed most; decile 1 is the top tenth.", write_mode="overwrite"),
    _t("gold", "erasure_log", ("erasure_id",),
       "erasure_id string, requested_at timestamp, key_type string, reference string, customers int, "
       "records int, rows_erased map<string,bigint>, files_scrubbed int, landing_files_rewritten int, "
       "retention_hours double, time_travel_until timestamp, run_id string, c360_version string, "
       "suppression_tokens array<string>", "forget",
       "One row per `c360 forget`: when, the kind of key, the request's reference, rows erased per table, files "
       "changed, and until when time travel still reaches the erased rows; never an erased value (only keyed "
       "hashes of the person's ids, emails and phones, so that audiences keep suppressing them)."),
    _t("gold", "quality_results", ("run_id", "table_name", "expectation"),
       "run_id string, checked_at timestamp, stage string, table_name string, expectation string, "
       "severity string, success boolean, observed string", "quality",
       "One row per gate run, table and expectation: whether it held and what was observed (conf/base/quality.yml).",
       write_mode="merge"),
]

TABLES: dict[str, TableSpec] = {s.fqn: s for s in _SPECS}


def table(fqn: str) -> TableSpec:
    """The spec of a registered table (``"silver.person"``), or of a bronze source table (``"bronze.crm"``)."""
    if fqn in TABLES:
        return TABLES[fqn]
    layer, _, name = fqn.partition(".")
    if layer == "bronze" and name:
        return bronze_table(name)
    raise KeyError(f"unknown table '{fqn}'; registered: {sorted(TABLES)}")


def bronze_table(source: str) -> TableSpec:
    """`bronze.<source>`: raw rows of one source plus lineage columns, appended once per row hash."""
    return TableSpec("bronze", source, ("_row_hash",), dict(BRONZE_META), "ingest",
                     f"Raw rows of source '{source}'.", write_mode="insert_new")


def all_tables(cfg: C360Config) -> list[TableSpec]:
    return [bronze_table(s.name) for s in cfg.enabled_sources] + list(TABLES.values())


def data_dictionary() -> str:
    """``docs/tables.md``: every registered table with its keys, minimum columns, producer and description
    (``python -m c360.tables > docs/tables.md``; a test checks the page is current)."""
    out = ["# Tables", "",
           "Every Delta table lives at `<warehouse>/<layer>/<table>` and is registered in the session catalog as",
           "`<layer>.<table>` (`spark.table(\"silver.person\")`). This page is generated from the one registry",
           "(`c360/tables.py`): the columns listed are the minimum each table has (most have more; the stage",
           "pages describe them). Writes are idempotent: MERGE on the keys (a duplicate key in the rows to write",
           "is an error naming the table and the key), insert-only MERGE, or an overwrite.", "",
           "`bronze.<source>` (one per source of `sources.yml`, written by `ingest`): the raw rows plus",
           "`" + "`, `".join(BRONZE_META) + "`; key `_row_hash`, appended once per row hash.", ""]
    for layer in ("bronze", "silver", "gold"):
        out += [f"## {layer}", "", "| table | keys | written by | what | minimum columns |", "|---|---|---|---|---|"]
        for spec in (s for s in TABLES.values() if s.layer == layer):
            cols = ", ".join(f"`{c}` {t}" for c, t in spec.columns.items()).replace("|", "\\|")
            out.append(f"| `{spec.fqn}` | {', '.join(spec.keys)} | `c360 {spec.producer}` ({spec.write_mode}) | "
                       f"{spec.description} | {cols} |")
        out.append("")
    return "\n".join(out)


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    meaning: str
    group: str | None = None


@cache
def _dictionary() -> dict[str, dict[str, ColumnDoc]]:
    """``c360/resources/dictionary.yml``, references resolved: table -> column (or ``<n>`` pattern) -> doc."""
    raw = yaml.safe_load(resources.files("c360.resources").joinpath("dictionary.yml").read_text("utf-8"))

    def resolve(fqn: str, name: str) -> ColumnDoc:
        entry = raw[fqn][name]
        entry = [entry] if isinstance(entry, str) else list(entry)
        if entry[0] in raw:  # [other table, group?]: that table's type and meaning
            base = resolve(entry[0], name)
            return ColumnDoc(name, base.type, base.meaning, entry[1] if len(entry) > 1 else base.group)
        if len(entry) == 3:
            return ColumnDoc(name, entry[0], entry[2], entry[1])
        return ColumnDoc(name, entry[0], entry[1])

    return {fqn: {name: resolve(fqn, name) for name in cols} for fqn, cols in raw.items()}


def _pattern(name: str) -> re.Pattern:
    return re.compile("^" + re.escape(name).replace(re.escape("<n>"), "[0-9]+") + "$")


def column_docs(fqn: str) -> list[ColumnDoc]:
    """The documented columns of a gold table in reading order (``<n>`` entries stand for a family)."""
    return list(_dictionary().get(fqn, {}).values())


def column_doc(fqn: str, column: str) -> ColumnDoc | None:
    """The documentation of one actual column (``sessions_30d`` matches ``sessions_<n>d``), or None."""
    docs = _dictionary().get(fqn, {})
    if column in docs:
        return docs[column]
    for name, doc in docs.items():
        if "<n>" in name and _pattern(name).match(column):
            return ColumnDoc(column, doc.type, doc.meaning, doc.group)
    return None


def column_order(fqn: str, columns: list[str]) -> list[str]:
    """``columns`` in the dictionary's order (a family's members by their number); unknown ones last, by name."""
    rank = {name: i for i, name in enumerate(_dictionary().get(fqn, {}))}

    def key(c: str):
        for name, i in rank.items():
            if name == c or ("<n>" in name and _pattern(name).match(c)):
                return (i, int(re.sub(r"\D", "", c) or 0) if "<n>" in name else 0, c)
        return (len(rank), 0, c)
    return sorted(columns, key=key)


def gold_dictionary() -> str:
    """``docs/data-dictionary.md``: every gold column with its type, meaning and producing job
    (``python -m c360.tables dictionary > docs/data-dictionary.md``; a test checks the page is current)."""
    out = ["# Data dictionary", "",
           "Every column of the gold tables: its type, what it means and the job that writes it. Generated from",
           "`c360/resources/dictionary.yml` with the table registry; `gold.customer_360` also carries these meanings",
           "as Delta column comments (`DESCRIBE TABLE gold.customer_360`). A column written `<n>` stands for one",
           "column per configured window (`sessions_7d`, `sessions_30d`, ...). Tables are listed in",
           "[tables](tables.md).", ""]
    gold = [s for s in TABLES.values() if s.layer == "gold"]
    for spec in sorted(gold, key=lambda s: (s.name != "customer_360", s.name)):
        docs = column_docs(spec.fqn)
        out += [f"## `{spec.fqn}`", "", f"{spec.description} Written by `c360 {spec.producer}`; keys: "
                f"{', '.join(f'`{k}`' for k in spec.keys)}.", ""]
        grouped = any(d.group for d in docs)
        out += (["| column | type | group | meaning |", "|---|---|---|---|"] if grouped
                else ["| column | type | meaning |", "|---|---|---|"])
        for d in docs:
            typ = d.type.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            cells = [f"`{d.name}`".replace("<n>", "&lt;n&gt;"), typ, *([d.group or ""] if grouped else []),
                     d.meaning.replace("|", "\\|")]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    print(gold_dictionary() if sys.argv[1:] == ["dictionary"] else data_dictionary(), end="")
