"""`c360 publish [--as-of D]`: gold.customer_360, one row per customer of silver.golden_customer.

Extract: the golden record, the features as of D (``gold.customer_features`` when it is as of D, else built),
the scores, next best offers and alerts of the latest scoring date on or before D, and the counts of source
records and linked objects. Without ``--as-of``, D is the features' date.

Transform (:mod:`c360.gold.customer360`): everything on one row per customer, columns in the data dictionary's
order, a content hash.

Load: MERGE on ``customer_id``: a row is updated only when its content hash changed (its ``updated_at`` then
moves), new customers are inserted, customers that no longer exist (merged away) are deleted; a re-run with
nothing new changes no row. When rows changed the files are Z-ordered by ``customer_id`` (a profile lookup
reads one file). Delta keeps the earlier versions: ``VERSION AS OF`` / ``TIMESTAMP AS OF`` read yesterday's table.
Column comments come from the data dictionary.

Then gold.customer_360_analyst, the same rows for analysts with the PII protected (``privacy.analyst_columns``:
names masked, emails and phones tokenised with a keyed hash, birth dates cut to the year, streets and national
ids left out): the clear table is for the jobs and for the people allowed to see PII.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360 import privacy
from c360.errors import C360Error
from c360.gold import customer360 as G
from c360.io import files
from c360.io.delta import optimize, read_optional, read_table, set_column_comments, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.pipelines import features as features_job
from c360.tables import column_doc, column_order, table

log = get_logger(__name__)
SPEC = "gold.customer_360"
ANALYST = "gold.customer_360_analyst"


def _latest_on_or_before(df: DataFrame | None, as_of: dt.date) -> tuple[DataFrame | None, dt.date | None]:
    """The rows of the latest ``as_of`` on or before the date (a scoring run), and that date."""
    if df is None:
        return None, None
    day = df.where(F.col("as_of") <= F.lit(as_of.isoformat()).cast("date")).agg(F.max("as_of")).first()[0]
    if day is None:
        return None, None
    return df.where(F.col("as_of") == F.lit(day.isoformat()).cast("date")), day


def build(ctx: JobContext) -> tuple[DataFrame, dict]:
    """The customer_360 rows (without ``updated_at``) and facts about their inputs."""
    spark, cfg = ctx.spark, ctx.cfg
    golden = read_table(spark, cfg, table("silver.golden_customer"))
    current = read_optional(spark, cfg, table("gold.customer_features"))
    if current is None and ctx.as_of is None:
        raise C360Error("publish: gold.customer_features does not exist; run `c360 features` first (or give --as-of)")
    as_of = ctx.as_of or current.agg(F.max("as_of")).first()[0]
    feats = features_job.as_of_or_build(ctx, as_of)
    scores, scores_as_of = _latest_on_or_before(read_optional(spark, cfg, table("gold.customer_scores")), as_of)
    parts = [G.source_counts(read_table(spark, cfg, table("silver.customer_xref")))]
    objects = read_optional(spark, cfg, table("silver.object_xref"))
    if objects is not None:
        parts.append(G.object_counts(objects))
    if scores_as_of is not None:
        nbo, _ = _latest_on_or_before(read_optional(spark, cfg, table("gold.next_best_offers")), scores_as_of)
        alerts, _ = _latest_on_or_before(read_optional(spark, cfg, table("gold.customer_alerts")), scores_as_of)
        day = F.lit(scores_as_of.isoformat()).cast("date")
        if nbo is not None:
            parts.append(G.offers_array(nbo.where(F.col("as_of") == day)))
        if alerts is not None:
            parts.append(G.alerts_array(alerts.where(F.col("as_of") == day)))
    else:
        log.warning("publish: no scores on or before the date: scores, offers and alerts are left null",
                    as_of=as_of.isoformat())
    df = G.assemble(golden, feats, parts, as_of, scores)
    df = G.with_content_hash(df)
    df = df.select(*column_order(SPEC, df.columns))
    return df, {"as_of": as_of.isoformat(), "scores_as_of": scores_as_of.isoformat() if scores_as_of else None}


def comments(columns: list[str]) -> dict[str, str]:
    """The data dictionary's meaning of each column (those it knows)."""
    out = {}
    for c in columns:
        doc = column_doc(SPEC, c)
        if doc is not None:
            out[c] = f"[{doc.group}] {doc.meaning}" if doc.group else doc.meaning
    return out


def token_secret(ctx: JobContext) -> str:
    """The analysts' tokens' secret: the environment variable ``privacy.token_secret_env``, else
    ``<system>/privacy/token.key`` (32 random bytes, made once per warehouse)."""
    env = os.environ.get(ctx.cfg.privacy.token_secret_env)
    if env:
        return env
    path = files.join(ctx.cfg.system_path, "privacy", "token.key")
    files.create_exclusive(ctx.spark, path, secrets.token_hex(32))
    return (files.read_text(ctx.spark, path) or "").strip()


def run(ctx: JobContext) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    t0 = time.perf_counter()
    spec = table(SPEC)
    df, facts = build(ctx)
    undocumented = [c for c in df.columns if column_doc(SPEC, c) is None]
    if undocumented:
        log.warning("publish: columns without an entry in the data dictionary", columns=undocumented)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    df = df.withColumn("updated_at", F.lit(now)).localCheckpoint()
    first = read_optional(spark, cfg, spec) is None
    if first:  # the first write carries the comments in the schema (one commit)
        notes = comments(df.columns)
        df = df.select(*[F.col(c).alias(c, metadata={"comment": notes[c]}) if c in notes else F.col(c)
                         for c in df.columns])
    metrics = write_table(spark, cfg, spec, df, mode="merge", update_when="NOT (t.content_hash <=> s.content_hash)",
                          delete_missing=True)
    if first:  # the table was created by a plain write
        metrics["numTargetRowsInserted"] = metrics.get("numOutputRows", 0)
    changed = sum(int(metrics.get(k, 0) or 0) for k in ("numTargetRowsInserted", "numTargetRowsUpdated",
                                                         "numTargetRowsDeleted"))
    if changed:
        optimize(spark, cfg, spec, zorder_by=("customer_id",))
    altered = set_column_comments(spark, cfg, spec, comments(df.columns))
    analyst = table(ANALYST)
    if changed or read_optional(spark, cfg, analyst) is None:
        protected = privacy.protect(read_table(spark, cfg, spec), cfg.privacy.analyst_columns, token_secret(ctx),
                                    cfg.privacy.prefix_chars)
        write_table(spark, cfg, analyst, protected, mode="overwrite")
    facts.update({"customers": df.count(), "inserted": int(metrics.get("numTargetRowsInserted", 0) or 0),
                  "updated": int(metrics.get("numTargetRowsUpdated", 0) or 0),
                  "deleted": int(metrics.get("numTargetRowsDeleted", 0) or 0), "comments_set": altered,
                  "columns": len(df.columns), "publish_seconds": round(time.perf_counter() - t0, 1)})
    log.info("publish: summary", **{k: v for k, v in facts.items() if v is not None})
    return facts
