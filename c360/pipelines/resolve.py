"""`c360 resolve`: silver.person -> one stable customer_id per real person, and the golden record.

Steps: records and blocking keys -> candidate pairs (skewed keys skipped and reported) -> Fellegi-Sunter
model (trained on the first run, when the comparisons or blocking change, or with ``--retrain``; reused
otherwise) -> scored pairs (``silver.identity_edges``; a pair whose two records are unchanged since the
last run keeps its stored score, so only new and changed records are compared) -> guarded clustering
with cookie logins -> stable ids (``silver.customer_xref``, ``silver.customer_id_history``) -> golden
records (``silver.golden_customer``) and object re-keying (``silver.object_xref``).

``--full`` re-scores every pair with the stored model; its result equals the incremental run's.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from pyspark.sql import functions as F

from c360.io import files
from c360.io.delta import exists, read_optional, read_table, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.resolve.blocking import (
    record_key,
)
from c360.resolve.ids import assign_ids
from c360.resolve.links import OBJECT_TABLES, login_links, object_links
from c360.resolve.matching import match, rule_yield
from c360.resolve.survivorship import golden_records
from c360.tables import table

log = get_logger(__name__)


def run(ctx: JobContext, retrain: bool = False, full: bool = False) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    t0 = time.perf_counter()

    def step(name: str, **kw) -> None:
        log.info(f"resolve: {name}", seconds=round(time.perf_counter() - t0, 1), **kw)

    person = read_table(spark, cfg, table("silver.person"))
    keys = person.select(record_key().alias("rk"))
    logins, login_report = login_links(read_optional(spark, cfg, table("silver.events")), keys,
                                       cfg.resolve.login_links)
    edges_spec = table("silver.identity_edges")
    stored = read_table(spark, cfg, edges_spec) if not full and exists(spark, cfg, edges_spec) else None
    found = match(spark, cfg, person, logins, retrain=retrain, stored_edges=stored, step=step)
    records, model, retrained, scored, clusters, facts = (found.records, found.model, found.retrained,
                                                          found.scored, found.clusters, found.facts)
    matches = scored.where("decision = 'match'")
    edges = (scored.join(found.held.select(F.col("src").alias("left_key"), F.col("dst").alias("right_key"),
                                           F.lit(True).alias("_held")), ["left_key", "right_key"], "left")
             .withColumn("decision", F.when(F.col("_held"), F.lit("review")).otherwise(F.col("decision")))
             .drop("_held").withColumn("run_id", F.lit(run_id))).localCheckpoint()

    # ------------------------------------------------------------------ stable ids
    xref_spec, hist_spec = table("silver.customer_xref"), table("silver.customer_id_history")
    previous = history = None
    if exists(spark, cfg, xref_spec):
        previous = read_table(spark, cfg, xref_spec).select(
            record_key().alias("id"), "customer_id")
    if exists(spark, cfg, hist_spec):
        history = read_table(spark, cfg, hist_spec)
    assigned, events = assign_ids(clusters, previous, history, run_id)
    assigned, events = assigned.localCheckpoint(), events.localCheckpoint()
    step("clustered, ids assigned")

    # match probability of a record: its strongest match edge inside its customer (1.0 when alone)
    cid = assigned.select(F.col("id").alias("k"), "customer_id")
    inside = (matches.join(cid.withColumnRenamed("k", "left_key").withColumnRenamed("customer_id", "cl"), "left_key")
              .join(cid.withColumnRenamed("k", "right_key").withColumnRenamed("customer_id", "cr"), "right_key")
              .where("cl = cr"))
    best = (inside.select(F.col("left_key").alias("k"), "match_probability")
            .unionByName(inside.select(F.col("right_key").alias("k"), "match_probability"))
            .groupBy("k").agg(F.max("match_probability").alias("match_probability")))
    rec_meta = records.select(F.col("rk").alias("k"), "source_system", "source_record_id", "rec_hash",
                              F.lit("person").alias("record_type"))
    cookie_meta = logins.select(F.col("cookie").alias("k"), "source_system",
                                F.col("anonymous_id").alias("source_record_id"),
                                F.lit(None).cast("string").alias("rec_hash"),
                                F.lit("cookie").alias("record_type")).distinct()
    status = clusters.select(F.col("id").alias("k"), "cluster_status")
    xref = (rec_meta.unionByName(cookie_meta).join(cid, "k").join(status, "k", "left").join(best, "k", "left")
            .select("source_system", "source_record_id", "customer_id",
                    F.coalesce("match_probability", F.lit(1.0)).alias("match_probability"), "record_type",
                    "cluster_status", "rec_hash", F.lit(run_id).alias("run_id")))

    write_table(spark, cfg, edges_spec, edges, mode="overwrite")
    write_table(spark, cfg, xref_spec, xref, mode="overwrite")
    write_table(spark, cfg, hist_spec, events, mode="insert_new", check_unique=False)
    xref = read_table(spark, cfg, xref_spec)
    step("edges, xref, history written")

    # ------------------------------------------------------------------ golden record, objects
    # read by every survivorship family and the contacts: materialised once, partitioned by customer
    person_rows = (records.join(xref.where("record_type = 'person'")
                                .select("source_system", "source_record_id", "customer_id"),
                                ["source_system", "source_record_id"])
                   .repartition("customer_id").localCheckpoint())
    golden = golden_records(person_rows, cfg)
    write_table(spark, cfg, table("silver.golden_customer"), golden, mode="overwrite")
    contacts = person_rows.select("customer_id", "email", "phone")
    objects = {name: df for name in OBJECT_TABLES if (df := read_optional(spark, cfg, table(name))) is not None}
    members = read_optional(spark, cfg, table("gold.audience_members"))  # responses carrying a response code
    write_table(spark, cfg, table("silver.object_xref"), object_links(
        objects, xref, contacts, cfg.standardize.default_phone_region,
        members.select("response_code", "customer_id") if members is not None else None), mode="overwrite")

    step("golden records and object links written")
    summary = read_table(spark, cfg, xref_spec).where("record_type = 'person'").agg(
        F.countDistinct("customer_id").alias("customers"),
        F.sum(F.when(F.col("cluster_status") != "ok", 1).otherwise(0)).alias("flagged")).first()
    counts = {row["decision"]: row["count"] for row in edges.groupBy("decision").count().collect()}
    facts["pairs_completeness_estimate"] = rule_yield(edges, found.blocking_report)
    ev = {row["event"]: row["count"] for row in events.groupBy("event").count().collect()}
    facts.update({"customers": summary["customers"], "records_flagged_for_review": summary["flagged"] or 0,
                  "decisions": counts, "id_events": ev, "model_retrained": retrained, **login_report})
    report = {"run_id": run_id, **facts, "blocking": found.blocking_report,
              "model": {"match_share": model.match_share, "fingerprint": model.fingerprint,
                        "trained_at": model.trained_at}}
    _write_report(ctx, report)
    log.info("resolve: summary", **{k: v for k, v in facts.items() if not isinstance(v, dict)})
    return {k: v for k, v in facts.items() if not isinstance(v, (dict, list))}


def _write_report(ctx: JobContext, report: dict) -> None:
    files.write_text(ctx.spark, files.join(ctx.cfg.system_path, "resolve", "last_run.json"),
                     json.dumps(report, indent=2, default=str))
