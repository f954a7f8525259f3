"""`c360 profile <customer_id | email | phone> [--json]`: everything c360 knows about one customer.

The key is a customer_id of gold.customer_360, else an email (it has an @) or a phone number, normalised as
standardize does and looked up among the source records (silver.person) and their customer_xref rows. The
profile: the golden record with the source of each attribute, every source record merged into it, recent
orders, tickets with sentiment, recent web sessions, segments, scores, next best offers and open alerts.
A terminal view (rich), or JSON. Unknown key: exit 2. gold.customer_360 is Z-ordered by customer_id, so the
lookup reads one file whatever the table's size.
"""

from __future__ import annotations

import json
import time

import click
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.errors import C360Error, UsageError
from c360.features.customer import compound_sentiment
from c360.io.delta import read_optional, read_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.standardize.columns import to_e164
from c360.tables import table

log = get_logger(__name__)
RECENT = 10
SEGMENTS = ("rfm_segment", "rfm_score", "lifecycle_stage", "value_tier", "behaviour_segment", "churn_risk")
SCORES = ("clv", "p_alive", "churn_probability", "expected_purchases", "scores_as_of")
SUMMARY = ("frequency", "monetary", "recency_days", "profit", "sessions_30d", "tickets", "complaints",
           "social_followers", "occupation", "income_band")
PERSON_COLS = ("source_system", "source_record_id", "first_name", "last_name", "email", "phone", "date_of_birth",
               "street", "city", "postcode", "updated_at")


def _rows(df: DataFrame) -> list[dict]:
    return [r.asDict(recursive=True) for r in df.collect()]


def _latest(df: DataFrame, order_col: str, wanted: tuple[str, ...]) -> list[dict]:
    """The ``RECENT`` newest rows by ``order_col``, with the wanted columns the table has."""
    return _rows(df.orderBy(F.desc(order_col)).limit(RECENT).select(*[c for c in wanted if c in df.columns]))


def find_customers(ctx: JobContext, key: str) -> tuple[list[str], str]:
    """The customer ids the key names and how it was read (customer_id, email or phone)."""
    spark, cfg = ctx.spark, ctx.cfg
    gold = read_table(spark, cfg, table("gold.customer_360"))
    if gold.where(F.col("customer_id") == key).limit(1).count():
        return [key], "customer_id"
    if "@" in key:
        kind, value = "email", "".join(key.split()).lower()
    else:
        kind, value = "phone", to_e164(key, cfg.standardize.default_phone_region)
        if value is None:
            raise UsageError(f"profile: '{key}' is not a customer_id, an email or a valid phone number "
                             f"(region {cfg.standardize.default_phone_region})")
    person = read_table(spark, cfg, table("silver.person"))
    records = person.where(F.col(kind) == value).select("source_system", "source_record_id").collect()
    if not records:
        return [], kind
    xref = read_table(spark, cfg, table("silver.customer_xref")).where(F.col("record_type") == "person")
    ids = xref.where(_keys_in(records, "source_system", "source_record_id")).select("customer_id").distinct()
    return sorted(r[0] for r in ids.collect()), kind


def _keys_in(rows: list, system_col: str, id_col: str):
    """A filter on (system, id) pairs collected first: lookups scan with pushed-down predicates instead of
    joining (no shuffle; a profile answers in seconds on a cold session)."""
    cond = F.lit(False)
    by_system: dict[str, list[str]] = {}
    for r in rows:
        by_system.setdefault(r[0], []).append(r[1])
    for system, ids in by_system.items():
        cond = cond | ((F.col(system_col) == system) & F.col(id_col).isin(ids))
    return cond


def _objects(ctx: JobContext, customer_id: str, name: str) -> DataFrame | None:
    """Rows of an object table (orders, tickets) linked to the customer through silver.object_xref."""
    from c360.resolve.links import OBJECT_TABLES  # noqa: PLC0415

    spark, cfg = ctx.spark, ctx.cfg
    df, objects = read_optional(spark, cfg, table(name)), read_optional(spark, cfg, table("silver.object_xref"))
    if df is None or objects is None:
        return None
    object_type, id_col = OBJECT_TABLES[name]
    keys = (objects.where((F.col("customer_id") == customer_id) & (F.col("object_type") == object_type))
            .select("source_system", "object_id").collect())
    return df.where(_keys_in(keys, "source_system", id_col))


def gather(ctx: JobContext, customer_id: str) -> dict:
    """The profile of one customer as plain data (what --json prints): independent lookups, each a scan with
    pushed-down filters (no join, no shuffle)."""
    parts = {"record": _record, "sources": _sources, "recent_orders": _recent_orders, "tickets": _tickets,
             "recent_sessions": _recent_sessions}
    got = {k: f(ctx, customer_id) for k, f in parts.items()}
    record = got.pop("record")
    if record is None:
        raise UsageError(f"profile: no customer '{customer_id}' in gold.customer_360")
    lineage = record.pop("lineage", None) or {}
    golden = {k: {"value": record.get(k), **(lineage.get(k) or {})} for k in lineage}
    out = {"customer_id": customer_id, "as_of": record.get("as_of"), "golden_record": golden,
           "source_records": got.pop("sources"),
           "segments": {k: record.get(k) for k in SEGMENTS if k in record},
           "scores": {k: record.get(k) for k in SCORES if k in record},
           "summary": {k: record.get(k) for k in SUMMARY if k in record},
           "propensity": record.get("propensity"), "next_best_offers": record.get("next_best_offers") or [],
           "alerts": record.get("open_alerts") or [], "consent": {k: record.get(k) for k in (
               "marketing_consent", "is_email_contactable", "is_phone_contactable") if k in record}}
    out.update({k: v for k, v in got.items() if v is not None})
    return out


def _record(ctx: JobContext, customer_id: str) -> dict | None:
    row = (read_table(ctx.spark, ctx.cfg, table("gold.customer_360"))
           .where(F.col("customer_id") == customer_id).first())
    return row.asDict(recursive=True) if row is not None else None


def _sources(ctx: JobContext, customer_id: str) -> list[dict]:
    """The source person records merged into the customer, with their match probability."""
    spark, cfg = ctx.spark, ctx.cfg
    xref = (read_table(spark, cfg, table("silver.customer_xref"))
            .where((F.col("customer_id") == customer_id) & (F.col("record_type") == "person"))
            .select("source_system", "source_record_id", "match_probability").collect())
    person = read_table(spark, cfg, table("silver.person"))
    probability = {(r[0], r[1]): r[2] for r in xref}
    sources = _rows(person.where(_keys_in(xref, "source_system", "source_record_id"))
                    .select(*[c for c in PERSON_COLS if c in person.columns])
                    .orderBy("source_system", "source_record_id"))
    for r in sources:
        r["match_probability"] = probability.get((r["source_system"], r["source_record_id"]))
    return sources


def _recent_orders(ctx: JobContext, customer_id: str) -> list[dict] | None:
    orders = _objects(ctx, customer_id, "silver.orders")
    return None if orders is None else _latest(orders, "order_ts", (
        "order_id", "order_ts", "amount", "currency", "channel", "status", "source_system"))


def _tickets(ctx: JobContext, customer_id: str) -> list[dict] | None:
    """The latest tickets with the VADER sentiment of their subject and body."""
    tickets = _objects(ctx, customer_id, "silver.tickets")
    if tickets is None:
        return None
    recent = _latest(tickets, "created_at", ("ticket_id", "created_at", "channel", "category", "status", "subject",
                                             "body"))
    if recent:
        import pandas as pd  # noqa: PLC0415

        text = pd.Series([" ".join(filter(None, [t.get("subject"), t.get("body")])) for t in recent])
        for t, s in zip(recent, compound_sentiment(text), strict=True):
            t["sentiment"] = None if s is None or s != s else round(float(s), 3)
            t.pop("body", None)
    return recent


def _recent_sessions(ctx: JobContext, customer_id: str) -> list[dict] | None:
    sessions = read_optional(ctx.spark, ctx.cfg, table("silver.web_sessions"))
    if sessions is None:
        return None
    return _latest(sessions.where(F.col("customer_id") == customer_id), "session_start", (
        "session_id", "session_start", "duration_s", "page_views", "channel", "device", "has_purchase",
        "is_abandoned_cart"))


def render(profile: dict) -> None:
    """The terminal view (rich)."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from c360.report.render import fmt  # noqa: PLC0415

    out = Console()
    seg = profile["segments"]
    out.rule(f"[bold]{profile['customer_id']}[/] · as of {profile['as_of']} · "
             + " · ".join(str(v) for v in seg.values() if v is not None))

    def grid(title: str, rows: list[dict], columns: list[str] | None = None) -> None:
        if not rows:
            return
        cols = columns or list(rows[0])
        t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for c in cols:
            t.add_column(c)
        for r in rows:
            t.add_row(*["" if r.get(c) is None else fmt(r[c]) for c in cols])
        out.print(t)

    grid("Golden record (value, and the source record and rule that chose it)",
         [{"attribute": k, **v} for k, v in profile["golden_record"].items()],
         ["attribute", "value", "source_system", "source_record_id", "rule"])
    grid("Key figures", [{"measure": k, "value": v} for k, v in {**profile["summary"], **profile["scores"],
                                                                 **profile["consent"]}.items()])
    grid(f"Source records merged ({len(profile['source_records'])})", profile["source_records"])
    grid("Next best offers", profile["next_best_offers"], ["rank", "offer_id", "expected_value", "p_accept",
                                                             "channel", "reason"])
    grid("Open alerts", profile["alerts"], ["severity", "alert", "action"])
    grid("Recent orders", profile.get("recent_orders", []))
    grid("Tickets", profile.get("tickets", []))
    grid("Recent web sessions", profile.get("recent_sessions", []))


def run(ctx: JobContext, customer_id: str, as_json: bool = False) -> dict:
    t0 = time.perf_counter()
    if read_optional(ctx.spark, ctx.cfg, table("gold.customer_360")) is None:
        raise C360Error("profile: gold.customer_360 does not exist; run `c360 publish` first")
    ids, kind = find_customers(ctx, customer_id.strip())
    if not ids:
        raise UsageError(f"profile: no customer with the {kind} '{customer_id}'")
    if len(ids) > 1:
        raise UsageError(f"profile: the {kind} '{customer_id}' belongs to {len(ids)} customers: {ids}; "
                         "give one customer_id")
    lookup = time.perf_counter() - t0
    profile = gather(ctx, ids[0])
    seconds = time.perf_counter() - t0
    if as_json:
        click.echo(json.dumps(profile, default=str, indent=2))
    else:
        render(profile)
    return {"customer_id": ids[0], "found_by": kind, "lookup_seconds": round(lookup, 2),
            "profile_seconds": round(seconds, 2)}
