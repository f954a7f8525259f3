"""`c360 sessionize`: silver.events -> silver.web_sessions (session profiles stitched to customer_id).

Incremental by default. With ``B`` = the newest stored session end minus ``lookback_days``, each cookie is
recomputed from ``R`` = the earliest start of its stored visits that end within the timeout of ``B`` (else
``B``); a cookie never seen before is computed whole. Late events at or after ``B`` therefore give exactly
the sessions they would have given on time; events later than that but older than ``R`` are left out and
counted (``late_events_beyond_lookback``; ``--full`` recomputes everything). One MERGE replaces the
recomputed sessions, removes the ones that no longer exist and re-stitches older sessions whose customer
changed (a cookie that logged in later back-fills its earlier sessions).
"""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.behaviour.sessions import COOKIE, SQL_CONF, session_profiles, with_customer_ids, with_session_keys
from c360.frames import sql_conf
from c360.io import files
from c360.io.delta import read_optional, read_table, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.tables import table

log = get_logger(__name__)


def _report_path(ctx: JobContext) -> str:
    return files.join(ctx.cfg.system_path, "sessionize", "last_run.json")


def _previous_run_at(ctx: JobContext) -> dt.datetime | None:
    text = files.read_text(ctx.spark, _report_path(ctx))
    return None if text is None else dt.datetime.fromisoformat(json.loads(text)["started_at"])


def recompute_region(events_df: DataFrame, old_df: DataFrame, lookback_days: float,
                     timeout_s: float) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(events to sessionise again, stored sessions they replace, events left out as too late).

    Events and sessions carry ``source_system, anonymous_id``; see the module docstring for the rule."""
    def secs(x: float):
        return F.expr(f"make_dt_interval(0, 0, 0, {float(x)})")

    b_df = old_df.agg((F.max("session_end") - secs(lookback_days * 86400)).alias("_b"))
    open_from = old_df.crossJoin(F.broadcast(b_df)).groupBy(*COOKIE, "_b").agg(
        F.min(F.when(F.col("session_end") >= F.col("_b") - secs(timeout_s), F.col("visit_start"))).alias("_open_from"))
    b = F.col("_b")
    bounds = open_from.select(*COOKIE, F.least("_open_from", b).alias("_from"))
    ev = events_df.join(bounds, COOKIE, "left")
    in_region = F.col("_from").isNull() | (F.col("event_ts") >= F.col("_from"))
    replaced = old_df.join(bounds, COOKIE).where(F.col("session_start") >= F.col("_from")).drop("_from")
    return ev.where(in_region).drop("_from"), replaced, ev.where(~in_region).drop("_from")


def run(ctx: JobContext, full: bool = False) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    s = cfg.sessionize
    started = dt.datetime.now(dt.UTC)
    timeout_s, max_s = s.inactivity_timeout_minutes * 60, s.max_session_minutes * 60
    events = read_optional(spark, cfg, table("silver.events"))
    if events is None:
        log.info("sessionize: no silver.events (no source of kind event): nothing to sessionise")
        return {"sessions": 0}
    usable = F.col("anonymous_id").isNotNull() & F.col("event_ts").isNotNull()
    cols = ["source_system", "event_id", "anonymous_id", "person_source", "person_ref", "event_type", "event_ts",
            "url", "referrer", "product_id", "device", "_ingested_at"]
    events = events.select(*[F.col(c) if c in events.columns else F.lit(None).cast("string").alias(c)
                             for c in cols])
    facts: dict = {"events_without_cookie_or_time": events.where(~usable).count()}
    events = events.where(usable)

    spec = table("silver.web_sessions")
    old = None if full else read_optional(spark, cfg, spec)
    if old is not None:
        region, replaced, left_out = recompute_region(events, old, s.lookback_days, timeout_s)
        prev = _previous_run_at(ctx)
        facts["late_events_beyond_lookback"] = (
            left_out.where(F.col("_ingested_at") > F.lit(prev)).count() if prev else 0)
    else:
        region, replaced = events, None

    products = read_optional(spark, cfg, table("silver.products"))
    xref = read_optional(spark, cfg, table("silver.customer_xref"))
    if xref is None:
        log.warning("silver.customer_xref not found: sessions get no customer_id (run `c360 resolve` first)")

    keyed = with_session_keys(region, timeout_s, max_s)
    sessions = with_customer_ids(session_profiles(keyed, products, s), xref)
    with sql_conf(spark, SQL_CONF):   # computed here, once: localCheckpoint is eager
        sessions = sessions.withColumn("sessionized_at", F.lit(started).cast("timestamp")).localCheckpoint()

    if old is None:
        write_table(spark, cfg, spec, sessions, mode="overwrite")
        facts["sessions_recomputed"] = sessions.count()
    else:
        gone = (replaced.join(sessions.select("session_id"), "session_id", "left_anti")
                .withColumn("_delete", F.lit(True))).localCheckpoint()   # read before the MERGE changes it
        untouched = old.join(replaced.select("session_id"), "session_id", "left_anti")
        restitched = (with_customer_ids(untouched, xref)
                      .join(untouched.select("session_id", F.col("customer_id").alias("_old_cid")), "session_id")
                      .where(~F.col("customer_id").eqNullSafe(F.col("_old_cid"))).drop("_old_cid"))
        restitched = restitched.localCheckpoint()
        source = (sessions.withColumn("_delete", F.lit(False))
                  .unionByName(restitched.withColumn("_delete", F.lit(False)), allowMissingColumns=True)
                  .unionByName(gone, allowMissingColumns=True))
        write_table(spark, cfg, spec, source, mode="merge", delete_flag="_delete")
        facts.update({"sessions_recomputed": sessions.count(), "sessions_removed": gone.count(),
                      "sessions_restitched": restitched.count()})

    stored = read_table(spark, cfg, spec)
    summary = stored.agg(
        F.count(F.lit(1)).alias("sessions"),
        F.sum(F.col("customer_id").isNotNull().cast("int")).alias("with_customer"),
        F.sum(F.col("is_bot").cast("int")).alias("bot_sessions"),
        F.countDistinct(F.when(F.col("is_split"), F.struct(*COOKIE, "visit_start"))).alias("visits_split"),
    ).first().asDict()
    facts.update({k: int(v or 0) for k, v in summary.items()})
    if facts["visits_split"]:
        log.warning(f"{facts['visits_split']} visit(s) longer than {s.max_session_minutes} minutes were split")
    if facts.get("late_events_beyond_lookback"):
        log.warning(f"{facts['late_events_beyond_lookback']} late event(s) older than the lookback were left out; "
                    "`c360 sessionize --full` includes them")
    files.write_text(ctx.spark, _report_path(ctx),
                     json.dumps({"started_at": started.isoformat(), "full": full or old is None, **facts}, indent=2))
    return facts
