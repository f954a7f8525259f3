"""`c360 forget <customer_id | email | phone>`: erase one person from everything c360 holds.

1. Who: the key is a customer_id (of silver.customer_xref or gold.customer_360), else an email or a phone
   number, normalised as standardize does and looked up among the source records (silver.person). The person
   is every record of those customers, the cookies stitched to them, the objects linked to them
   (silver.object_xref) and, for third-party rows, their name-and-postcode keys (as features links them).
2. Rows: every source's bronze rows that are the person's (the rows mapped by the source's `sources.yml`
   entry, every version of each record), the silver table of each source kind, and every silver and gold
   table with the person's customer_id (identity edges, id history, sessions, features, scores, offers,
   alerts, customer_360 and its analysts' copy, audience members). One Delta DELETE per table that holds any.
3. Text: quarantined rows, quality results' examples, run reports and the data docs that name any of the
   person's identifiers (emails, phones, record, order, ticket and cookie ids) as a whole word: quarantined
   rows are deleted, the other text has the identifiers replaced by ``[erased]``. GraphFrames' checkpoints
   (record ids) are deleted. The landing files that c360 itself wrote (a folder holding the generator's
   manifest) are rewritten without the person's lines, and so are the audience files under the exports folder.
4. Old versions: every changed table is VACUUMed with ``privacy.vacuum_retention_hours`` (168 h: until then
   time travel still reaches the erased rows; less needs ``--ignore-retention-check``; a table with deletion
   vectors is purged first so the rows leave the data files).
5. Audit: one gold.erasure_log row: when, what kind of key, an optional ``--reference``, rows per table,
   files changed, the retention and when time travel stops reaching the rows; never an erased value, only keyed
   hashes of the person's ids, emails and phones, which `c360 audience` suppresses (reason ``erased``).

Later runs see the tables without the person (their versions changed, so every stage runs again). A source
system must erase the person too: a new export that still holds them brings them back as new rows.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid

from delta.tables import DeltaTable
from pyspark.sql import functions as F

from c360 import __version__, privacy
from c360.config import C360Config
from c360.errors import UsageError
from c360.generate.output import MANIFEST
from c360.io import files
from c360.io.delta import commit_info, exists, read_optional, read_table, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.privacy import Erasure
from c360.resolve.links import OBJECT_TABLES
from c360.standardize.columns import to_e164
from c360.standardize.transforms import KIND_TABLE, map_source
from c360.tables import TABLES, bronze_table, table

log = get_logger(__name__)
#: silver tables of the source kinds (erased by each kind's condition)
KIND_TABLES = {fqn: kind for kind, (fqn, _) in KIND_TABLE.items() if kind != "product"}


# ------------------------------------------------------------------------------------------------ who
def key_kind(key: str, cfg: C360Config) -> tuple[str, str]:
    """(``email`` | ``phone`` | ``customer_id``, the value as stored)."""
    if "@" in key:
        return "email", "".join(key.split()).lower()
    phone = to_e164(key, cfg.standardize.default_phone_region)
    return ("phone", phone) if phone is not None else ("customer_id", key)


def gather(ctx: JobContext, key: str) -> tuple[Erasure, str]:
    """The person the key names (an empty Erasure when c360 holds nothing of them), and the key's kind."""
    spark, cfg = ctx.spark, ctx.cfg
    kind, value = key_kind(key, cfg)
    e = Erasure()
    xref = read_optional(spark, cfg, table("silver.customer_xref"))
    person = read_optional(spark, cfg, table("silver.person"))
    if kind == "customer_id":
        e.customer_ids = {key} if xref is not None and xref.where(F.col("customer_id") == key).limit(1).count() \
            else set()
        gold = read_optional(spark, cfg, table("gold.customer_360"))
        if not e.customer_ids and gold is not None and gold.where(F.col("customer_id") == key).limit(1).count():
            e.customer_ids = {key}
    elif person is not None:
        # the records with that email or phone, and (once resolved) their customers
        for r in person.where(F.col(kind) == value).select("source_system", "source_record_id").collect():
            e.records.add((r[0], r[1]))
        if xref is not None and e.records:
            e.customer_ids = {r[0] for r in xref.where(privacy.pairs_in(e.records, F.col("source_system"),
                                                                          F.col("source_record_id")))
                              .select("customer_id").distinct().collect()}
    if xref is not None and e.customer_ids:
        for r in xref.where(F.col("customer_id").isin(sorted(e.customer_ids))).select(
                "source_system", "source_record_id", "record_type").collect():
            (e.cookies if r["record_type"] == "cookie" else e.records).add((r[0], r[1]))
    history = read_optional(spark, cfg, table("silver.customer_id_history"))
    if history is not None and e.customer_ids:  # the ids merged into theirs
        e.customer_ids |= {r[0] for r in history.where(F.col("customer_id").isin(sorted(e.customer_ids))
                                                       & F.col("related_id").isNotNull())
                           .select("related_id").distinct().collect()}
    objects = read_optional(spark, cfg, table("silver.object_xref"))
    if objects is not None and e.customer_ids:
        for r in objects.where(F.col("customer_id").isin(sorted(e.customer_ids))).select(
                "object_type", "source_system", "object_id").collect():
            e.objects.setdefault(r[0], set()).add((r[1], r[2]))
    for fqn, (otype, id_col) in OBJECT_TABLES.items():  # objects that name a record but were never linked
        df = read_optional(spark, cfg, table(fqn))
        if df is not None and e.records and {"person_source", "person_ref"} <= set(df.columns):
            for r in df.where(privacy.pairs_in(e.records, F.coalesce("person_source", F.lit("")),
                                               F.col("person_ref"))).select("source_system", id_col).collect():
                e.objects.setdefault(otype, set()).add((r[0], str(r[1])))
    if person is not None and e.records:
        cols = [c for c in ("email", "email_raw", "phone", "phone_raw", "loyalty_id", "national_id")
                if c in person.columns]
        keys = [privacy.SC.name_key(F.col("first_name")), privacy.SC.name_key(F.col("last_name")),
                privacy.SC.normalize_postcode(F.col("postcode"))]
        for r in person.where(privacy.pairs_in(e.records, F.col("source_system"), F.col("source_record_id"))) \
                .select(*cols, F.array(*keys).alias("_key")).collect():
            e.tokens |= {str(r[c]) for c in cols if r[c]}
            e.contacts |= {str(r[c]) for c in ("email", "phone") if c in cols and r[c]}
            if all(r["_key"]):
                e.enrichment_keys.add(tuple(r["_key"]))
    if kind != "customer_id" and (e.records or e.customer_ids):
        e.tokens.add(value)
    e.tokens |= {i for _, i in e.records | e.cookies} | {i for objs in e.objects.values() for _, i in objs} \
        | e.customer_ids
    return e, kind


# ------------------------------------------------------------------------------------------------ rows
def _count_and_delete(spark, path: str, cond) -> int:
    """DELETE the rows matching ``cond`` (one commit; none when no row matches). Rows deleted."""
    df = spark.read.format("delta").load(path)
    if df.where(cond).limit(1).count() == 0:
        return 0
    DeltaTable.forPath(spark, path).delete(cond)
    return int(commit_info(spark, path).get("numDeletedRows", 0))


def _bronze_rows(ctx: JobContext, e: Erasure, changed: dict, touched_files: set) -> None:
    """Each source's bronze rows that are the person's: mapped as standardize maps them, found by the kind's
    condition, deleted by their row hash (every version of a record)."""
    spark, cfg = ctx.spark, ctx.cfg
    for source in cfg.enabled_sources:
        spec = bronze_table(source.name)
        if not exists(spark, cfg, spec):
            continue
        mapped = map_source(read_table(spark, cfg, spec), source)
        natural = KIND_TABLE[source.kind][1]
        if natural:
            mapped = mapped.withColumn(natural, F.coalesce(F.col(natural).cast("string"),
                                                           F.col("source_record_id")))
        cond = privacy.kind_condition(source.kind, e, mapped.columns)
        if cond is None:
            continue
        hits = mapped.where(cond).select("_row_hash", "_source_file").distinct().collect()
        if not hits:
            continue
        touched_files |= {r[1] for r in hits}
        n = _count_and_delete(spark, spec.path(cfg), F.col("_row_hash").isin(sorted({r[0] for r in hits})))
        changed[spec.fqn] = n


def _silver_kind_rows(ctx: JobContext, e: Erasure, changed: dict) -> None:
    spark, cfg = ctx.spark, ctx.cfg
    for fqn, kind in KIND_TABLES.items():
        spec = table(fqn)
        if not exists(spark, cfg, spec):
            continue
        cond = privacy.kind_condition(kind, e, read_table(spark, cfg, spec).columns)
        if cond is not None and (n := _count_and_delete(spark, spec.path(cfg), cond)):
            changed[fqn] = n


def _customer_rows(ctx: JobContext, e: Erasure, changed: dict) -> None:
    """Every other silver and gold table: the rows of the person's customer ids, records and cookies."""
    spark, cfg = ctx.spark, ctx.cfg
    ids = sorted(e.customer_ids)
    keys = sorted(e.record_keys)
    anon = sorted({a for _, a in e.cookies})
    for spec in TABLES.values():
        if spec.layer == "bronze" or spec.fqn in KIND_TABLES or not exists(spark, cfg, spec):
            continue
        columns = read_table(spark, cfg, spec).columns
        cond = F.lit(False)
        if "customer_id" in columns and ids:
            cond = cond | F.col("customer_id").isin(ids)
        if spec.fqn == "silver.customer_xref" and e.records:
            cond = cond | privacy.pairs_in(e.records | e.cookies, F.col("source_system"), F.col("source_record_id"))
        if spec.fqn == "silver.identity_edges" and keys:
            cond = cond | F.col("left_key").isin(keys) | F.col("right_key").isin(keys)
        if spec.fqn == "silver.customer_id_history" and ids:
            cond = cond | F.col("related_id").isin(ids)
        if spec.fqn == "silver.web_sessions" and anon:
            cond = cond | F.col("anonymous_id").isin(anon)
        if spec.fqn == "silver.object_xref":
            for otype, objs in e.objects.items():
                cond = cond | ((F.col("object_type") == otype)
                               & privacy.pairs_in(objs, F.col("source_system"), F.col("object_id")))
        if (n := _count_and_delete(spark, spec.path(cfg), cond)):
            changed[spec.fqn] = n


# ------------------------------------------------------------------------------------------------ text
def _quarantine(ctx: JobContext, pattern: str | None, changed: dict, touched_files: set) -> None:
    spark, cfg = ctx.spark, ctx.cfg
    spec = table("bronze.quarantine")
    if pattern is None or not exists(spark, cfg, spec):
        return
    cond = F.col("raw").rlike(pattern)
    touched_files |= {r[0] for r in read_table(spark, cfg, spec).where(cond).select("_source_file").distinct()
                      .collect()}
    if (n := _count_and_delete(spark, spec.path(cfg), cond)):
        changed[spec.fqn] = n


def _quality_results(ctx: JobContext, pattern: str | None, changed: dict) -> None:
    """Quality results keep a few unexpected values as examples: the person's are replaced."""
    spark, cfg = ctx.spark, ctx.cfg
    spec = table("gold.quality_results")
    if pattern is None or not exists(spark, cfg, spec):
        return
    df = read_table(spark, cfg, spec)
    if df.where(F.col("observed").rlike(pattern)).limit(1).count() == 0:
        return
    DeltaTable.forPath(spark, spec.path(cfg)).update(
        F.col("observed").rlike(pattern), {"observed": F.regexp_replace("observed", pattern, "[erased]")})
    changed[spec.fqn] = int(commit_info(spark, spec.path(cfg)).get("numUpdatedRows", 0))


def _scrub_files(ctx: JobContext, pattern: str | None) -> list[str]:
    """Reports, data docs and run reports that name the person: the identifiers replaced. Returns the files."""
    spark, cfg = ctx.spark, ctx.cfg
    if pattern is None:
        return []
    folders = [cfg.reports_path, files.join(cfg.system_path, "resolve"), files.join(cfg.system_path, "sessionize"),
               files.join(cfg.system_path, "runs")]
    scrubbed = []
    for path in [p for folder in folders for p in files.walk(spark, folder)]:
        if not path.endswith((".html", ".json", ".md", ".txt", ".csv")):
            continue
        text = files.read_text(spark, path)
        new, n = privacy.scrub(text or "", pattern)
        if n:
            files.write_text(spark, path, new, note=False)
            scrubbed.append(path)
    return scrubbed


def _exports(ctx: JobContext, e: Erasure) -> list[str]:
    """Audience files (`c360 audience`) that hold the person: rewritten without their rows. Returns the files."""
    spark, cfg = ctx.spark, ctx.cfg
    ids = sorted(e.customer_ids)
    if not ids:
        return []
    rewritten = []
    for path in files.walk(spark, cfg.exports_path):
        name = path.rsplit("/", 1)[-1]
        if name.startswith(("_", ".")) or not name.endswith((".csv", ".parquet")):
            continue
        fmt, options = ("csv", {"header": "true"}) if name.endswith(".csv") else ("parquet", {})
        reader = spark.read.format(fmt)
        for k, v in options.items():
            reader = reader.option(k, v)
        df = reader.load(path)
        if "customer_id" not in df.columns or df.where(F.col("customer_id").isin(ids)).limit(1).count() == 0:
            continue
        kept = df.where(~F.col("customer_id").isin(ids)).localCheckpoint()  # read fully before the file goes
        files.write_one_file(kept, path, fmt, options)
        rewritten.append(path)
    return rewritten


def _generated_root(path: str) -> str | None:
    """The folder the generator wrote that holds ``path`` (its manifest inside), or None."""
    if not path or not files.is_local(path):
        return None
    folder = files.local_path(path)
    for _ in range(4):
        if os.path.exists(os.path.join(folder, MANIFEST)):
            return folder
        folder = os.path.dirname(folder)
    return None


def _landing_copies(cfg: C360Config, pattern: str | None, touched_files: set) -> list[str]:
    """The landing folders c360 itself wrote (the generator's: its manifest inside) without the person: every
    text file line by line (a CSV's header kept), every Parquet file row by row (any text column naming them),
    the ground truth included. Returns the files rewritten."""
    if pattern is None:
        return []
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    rx = re.compile(pattern)
    roots = {r for r in (_generated_root(p) for p in {*touched_files, cfg.paths.landing}) if r}
    rewritten = []
    for root in sorted(roots):
        for folder, _, names in os.walk(root):
            for name in sorted(names):
                local = os.path.join(folder, name)
                if local.endswith(MANIFEST) or name in ("_SUCCESS", "sources.yml"):
                    continue
                if name.endswith(".parquet"):
                    data = pq.read_table(local)
                    texts = [c for c in data.column_names if str(data[c].type) in ("string", "large_string")]
                    keep = [not any(v is not None and rx.search(v) for v in values)
                            for values in zip(*(data[c].to_pylist() for c in texts), strict=True)] if texts else []
                    if texts and not all(keep):
                        pq.write_table(data.filter(pa.array(keep)), local)
                        rewritten.append(local)
                    continue
                if not name.endswith((".csv", ".json", ".jsonl", ".txt", ".tsv")):
                    continue
                with open(local, encoding="utf-8", errors="surrogateescape", newline="") as f:
                    lines = f.read().split("\n")
                kept = [ln for i, ln in enumerate(lines) if (i == 0 and name.endswith((".csv", ".tsv")))
                        or not rx.search(ln)]
                if len(kept) != len(lines):
                    with open(local, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
                        f.write("\n".join(kept))
                    rewritten.append(local)
    return rewritten


def suppression_tokens(ctx: JobContext, e: Erasure) -> list[str]:
    """Keyed hashes (privacy.token_secret_env) of the person's customer ids, emails and phones: never the
    values, but enough for an audience to recognise the person if a source exports them again."""
    if e.is_empty():
        return []
    from c360.pipelines.publish import token_secret  # noqa: PLC0415

    secret = token_secret(ctx)
    return sorted({privacy.token_value(v, secret) for v in e.customer_ids | e.contacts})


# ------------------------------------------------------------------------------------------------ versions
def vacuum(ctx: JobContext, fqns: list[str], hours: float, ignore_check: bool) -> None:
    """VACUUM the tables (purging deletion vectors first), keeping ``hours`` of history."""
    spark, cfg = ctx.spark, ctx.cfg
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    before = spark.conf.get(check, "true")
    if ignore_check:
        spark.conf.set(check, "false")
    try:
        for fqn in fqns:
            path = table(fqn).path(cfg)
            props = DeltaTable.forPath(spark, path).detail().select("properties").first()[0] or {}
            if props.get("delta.enableDeletionVectors") == "true":
                spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
            try:
                DeltaTable.forPath(spark, path).vacuum(hours)
            except Exception as e:
                if "retention" in str(e).lower():
                    raise UsageError(
                        f"forget: VACUUM of {fqn} with privacy.vacuum_retention_hours = {hours:g} is below Delta's "
                        f"safety check (spark.databricks.delta.retentionDurationCheck; default 168 h): raise it, or "
                        f"pass --ignore-retention-check when no run reads an older version of the tables") from e
                raise
    finally:
        spark.conf.set(check, before)


def run(ctx: JobContext, key: str, reference: str | None = None, retention_hours: float | None = None,
        ignore_retention_check: bool = False) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    if not key or not key.strip():
        raise UsageError("forget: give the customer_id, email or phone number of the person to erase")
    hours = cfg.privacy.vacuum_retention_hours if retention_hours is None else retention_hours
    if hours < 168 and not ignore_retention_check:
        raise UsageError(f"forget: a retention of {hours:g} h is below Delta's 168 h safety check: pass "
                         f"--ignore-retention-check when no run or reader uses an older version of the tables")
    e, kind = gather(ctx, key.strip())
    changed: dict[str, int] = {}
    touched_files: set[str] = set()
    pattern = privacy.token_pattern(e.tokens)
    if not e.is_empty():
        _bronze_rows(ctx, e, changed, touched_files)
        _silver_kind_rows(ctx, e, changed)
        _customer_rows(ctx, e, changed)
    _quarantine(ctx, pattern, changed, touched_files)
    _quality_results(ctx, pattern, changed)
    scrubbed = _scrub_files(ctx, pattern) + _exports(ctx, e)
    rewritten = _landing_copies(cfg, pattern, touched_files)
    if changed:
        files.delete(spark, files.join(cfg.system_path, "checkpoints"))  # GraphFrames' intermediate graphs
    vacuum(ctx, sorted(changed), hours, ignore_retention_check)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    row = {"erasure_id": uuid.uuid4().hex[:16], "requested_at": now, "key_type": kind, "reference": reference,
           "customers": len(e.customer_ids), "records": len(e.records), "rows_erased": changed,
           "files_scrubbed": len(scrubbed), "landing_files_rewritten": len(rewritten), "retention_hours": float(hours),
           "time_travel_until": now + dt.timedelta(hours=hours), "run_id": ctx.run_id, "c360_version": __version__,
           "suppression_tokens": suppression_tokens(ctx, e)}
    audit = spark.createDataFrame([row], table("gold.erasure_log").ddl())
    write_table(spark, cfg, table("gold.erasure_log"), audit)
    found = "found" if not e.is_empty() else "nothing held"
    log.info(f"forget: {found}", key_type=kind, customers=len(e.customer_ids), records=len(e.records),
             rows=sum(changed.values()), tables=len(changed), files=len(scrubbed) + len(rewritten))
    return {"erasure_id": row["erasure_id"], "customers": len(e.customer_ids), "rows_erased": sum(changed.values()),
            "tables": len(changed), "files": len(scrubbed) + len(rewritten), "retention_hours": hours}

