"""Web sessions from clickstream events: pure transforms (``DataFrame -> DataFrame``).

- :func:`with_session_keys`: per cookie (``source_system``, ``anonymous_id``) in event-time order
  (``event_ts``, then ``event_id``), a gap longer than the inactivity timeout starts a new *visit*; a visit
  longer than the maximum session length is cut into consecutive *parts* of at most that length. A session
  is one part of one visit; its ``session_id`` is a hash of the cookie, the visit start and the part
  number, so the same events always give the same ids, whatever order they arrived in.
- :func:`session_profiles`: one row per session: start, end, duration, page views, products and
  categories, carts, checkout, purchase, abandoned cart, landing page, channel, device, bot flag.
- :func:`with_customer_ids`: the session's customer: the person record it logged in with, else the
  cookie's customer (a cookie that ever logged in: its earlier sessions are back-filled) through
  ``silver.customer_xref``.

Both windows (the session keys and the profile aggregation) use the cookie's partitioning, so the plan
has a single shuffle (checked in tests/unit/test_sessions.py). The profile aggregation sorts its rows by
session within each partition (cheap: they are already in cookie and time order) and, run under
:data:`SQL_CONF`, streams through them as one sort aggregation; a hash aggregation of the same rows pays
for a partial and a final pass over object buffers (the sets of products, the first URL), each falling
back to sorting anyway (measured in the README's performance section).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.config import RuleConfig, SessionizeConfig

COOKIE = ["source_system", "anonymous_id"]
SESSION = [*COOKIE, "visit_start", "session_part"]
#: a 64-bit hash of the cookie, first in every partitioning and sort key: sorting compares a fixed-width
#: prefix of each key first, and cookie strings share theirs ("web", "anon-000…"), so without it nearly
#: every comparison falls through to the full strings (the events' sort is 5-10% faster at 100k people)
COOKIE_HASH = "_cookie_hash"
#: runtime settings to run :func:`session_profiles` under (``c360.frames.sql_conf``): an aggregation whose
#: input is already sorted by its keys becomes one streaming sort aggregation (Spark leaves it off by default)
SQL_CONF = {"spark.sql.execution.replaceHashWithSortAgg": "true"}


def epoch_seconds(col: Column) -> Column:
    """A timestamp as fractional seconds since the epoch (microsecond precision)."""
    return F.unix_micros(col) / F.lit(1_000_000.0)


def with_session_keys(events_df: DataFrame, timeout_s: float, max_session_s: float) -> DataFrame:
    """Add ``visit_start`` and ``session_part`` (with the cookie: the session keys) to events with a cookie
    and a time, and ``event_seq``, the event's position in its cookie's (time, id) order."""
    w = Window.partitionBy(COOKIE_HASH, *COOKIE).orderBy("event_ts", "event_id")
    t = epoch_seconds(F.col("event_ts"))
    gap = t - epoch_seconds(F.lag("event_ts").over(w))
    df = events_df.withColumn(COOKIE_HASH, F.xxhash64(*COOKIE))
    df = df.withColumn("_new_visit", gap.isNull() | (gap > F.lit(float(timeout_s))))
    # the event's position in its cookie's order: a cheap total order for "first event of the session"
    df = df.withColumn("event_seq", F.row_number().over(w))
    df = df.withColumn("visit_start", F.last(F.when(F.col("_new_visit"), F.col("event_ts")), ignorenulls=True)
                       .over(w.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
    part = F.floor((t - epoch_seconds(F.col("visit_start"))) / F.lit(float(max_session_s))).cast("int")
    return df.withColumn("session_part", part).drop("_new_visit")


def with_session_id(df: DataFrame) -> DataFrame:
    """``session_id`` from the session keys (per session after aggregating; per event when inspecting)."""
    return df.withColumn("session_id", session_id(*[F.col(c) for c in SESSION]))


def session_id(source_system: Column, anonymous_id: Column, visit_start: Column, part: Column) -> Column:
    text = F.concat_ws("|", source_system, anonymous_id, F.unix_micros(visit_start).cast("string"),
                       part.cast("string"))
    return F.concat(F.lit("WS-"), F.substring(F.sha2(text, 256), 1, 24))


def _is(types: list[str]) -> Column:
    return F.col("event_type").isin(types)


def first_match(rules: list[RuleConfig], default: str | None) -> Column:
    """The name of the first rule whose SQL condition holds, else ``default``."""
    out = F.lit(default).cast("string")
    for rule in reversed(rules):
        out = F.when(F.coalesce(F.expr(rule.when), F.lit(False)), F.lit(rule.name)).otherwise(out)
    return out


def session_profiles(keyed_df: DataFrame, products_df: DataFrame | None, cfg: SessionizeConfig) -> DataFrame:
    """One row per session from events carrying session keys (see :func:`with_session_keys`)."""
    et = cfg.event_types
    df = keyed_df
    if products_df is not None:
        cats = products_df.select("product_id", F.col("category").alias("_category")).dropDuplicates(["product_id"])
        df = df.join(F.broadcast(cats), "product_id", "left")
    else:
        df = df.withColumn("_category", F.lit(None).cast("string"))
    order = F.col("event_seq")
    interest = _is(et.product_view) | _is(et.add_to_cart) | _is(et.purchase)
    login_ref = F.when(F.col("person_ref").isNotNull(), F.struct("person_source", "person_ref"))
    # sorted by session (the cookie's rows are already in time order, so this sort finds runs): see SQL_CONF
    df = df.sortWithinPartitions(COOKIE_HASH, *SESSION, "event_seq")
    agg = df.groupBy(COOKIE_HASH, *SESSION).agg(
        F.min("event_ts").alias("session_start"),
        F.max("event_ts").alias("session_end"),
        F.count(F.lit(1)).alias("event_count"),
        F.count(F.when(_is(et.page_view), 1)).alias("page_views"),
        F.count(F.when(_is(et.product_view), 1)).alias("product_views"),
        F.array_sort(F.collect_set(F.when(_is(et.product_view), F.col("product_id")))).alias("products_viewed"),
        F.array_sort(F.collect_set(F.when(interest, F.col("_category")))).alias("categories"),
        F.count(F.when(_is(et.add_to_cart), 1)).alias("cart_adds"),
        F.array_sort(F.collect_set(F.when(_is(et.add_to_cart), F.col("product_id")))).alias("carted_products"),
        F.max(_is(et.checkout)).alias("has_checkout"),
        F.max(_is(et.purchase)).alias("has_purchase"),
        F.max(_is(et.login) | F.col("person_ref").isNotNull()).alias("is_logged_in"),
        F.min_by(login_ref, F.when(login_ref.isNotNull(), order)).alias("_login"),
        F.min_by("url", order).alias("landing_page"),
        F.min_by("referrer", order).alias("referrer"),
        F.min_by("device", F.when(F.col("device").isNotNull(), order)).alias("device"),
    )
    duration = (F.unix_micros("session_end") - F.unix_micros("session_start")) / F.lit(1_000_000.0)
    agg = (agg
           .withColumn("duration_s", F.floor(duration).cast("long"))
           .withColumn("is_abandoned_cart", (F.col("cart_adds") > 0) & ~F.col("has_purchase"))
           .withColumn("login_person_source", F.col("_login.person_source"))
           .withColumn("login_person_ref", F.col("_login.person_ref")).drop("_login")
           .withColumn("utm_source", F.lower(F.expr("parse_url(landing_page, 'QUERY', 'utm_source')")))
           .withColumn("utm_medium", F.lower(F.expr("parse_url(landing_page, 'QUERY', 'utm_medium')")))
           .withColumn("referrer", F.when(F.trim("referrer") != "", F.col("referrer"))))
    agg = agg.withColumn("channel", first_match(cfg.channels, cfg.default_channel))
    bot = F.lit(False)
    for rule in cfg.bot_rules:
        bot = bot | F.coalesce(F.expr(rule.when), F.lit(False))
    visit = Window.partitionBy(COOKIE_HASH, *COOKIE, "visit_start")
    return (with_session_id(agg).withColumn("is_bot", bot)
            .withColumn("is_split", F.max("session_part").over(visit) > 0)
            .withColumn("session_date", F.to_date("session_start")).drop(COOKIE_HASH))


def with_customer_ids(sessions_df: DataFrame, xref_df: DataFrame | None) -> DataFrame:
    """``customer_id``: the login record's customer, else the cookie's (null while the cookie is unknown)."""
    if xref_df is None:
        return sessions_df.withColumn("customer_id", F.lit(None).cast("string"))
    persons = xref_df.where(F.col("record_type") == "person").select(
        F.col("source_system").alias("login_person_source"), F.col("source_record_id").alias("login_person_ref"),
        F.col("customer_id").alias("_login_cid"))
    cookies = xref_df.where(F.col("record_type") == "cookie").select(
        "source_system", F.col("source_record_id").alias("anonymous_id"), F.col("customer_id").alias("_cookie_cid"))
    return (sessions_df.drop("customer_id")
            .join(persons, ["login_person_source", "login_person_ref"], "left")
            .join(cookies, COOKIE, "left")
            .withColumn("customer_id", F.coalesce("_login_cid", "_cookie_cid"))
            .drop("_login_cid", "_cookie_cid"))
