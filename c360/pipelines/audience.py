"""`c360 audience [--name NAME ...]`: campaign audiences from gold.customer_360, suppressed, split, exported.

Extract: gold.customer_360 (its ``as_of`` is the audience's date), the linked tickets and campaign sends, the
earlier audiences' members, the erasure log's tokens and the suppression lists.

Transform (:mod:`c360.activation`): per audience of ``activation.audiences`` (the enabled ones, or those
named): the selection (Spark SQL), every suppression reason that holds (no consent for the channel, no valid
contact point for it, erased, open complaint, contacted within the cooldown, on a suppression list), the size
cap in the audience's order, the offer, the stratified cells and a response code per member.

Load: ``gold.audience_members``, ``gold.audience_runs`` (counts per reason and cell, files) and one CSV and
one Parquet file per cell under ``<exports>/<audience>/<run_id>/``. A run (a campaign on one
``gold.customer_360`` date) is exported once: the list that went out is what its responses are matched
against, so a later run of the same campaign that day keeps it; ``--replace`` builds it again (its members'
rows and files replaced).
"""

from __future__ import annotations

import datetime as dt

from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360 import privacy
from c360.activation import audiences as A
from c360.activation import suppression as S
from c360.config.models import AudienceConfig
from c360.errors import C360Error, ConfigError, UsageError
from c360.features.customer import rekeyed
from c360.io import files
from c360.io.delta import read_optional, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.pipelines.history import load as load_history
from c360.standardize import columns as SC
from c360.tables import table

log = get_logger(__name__)
#: columns every export carries, first
EXPORT_KEYS = ["customer_id", "campaign_id", "cell", "offer_id", "response_code"]


def _where(ctx: JobContext, key: str) -> str:
    """The file that set ``key`` (or the nearest enclosing key)."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        if (found := ctx.cfg.origins.get(".".join(parts[:n]))):
            return found
    return "the configuration"


def _expr(ctx: JobContext, key: str, sql: str, df: DataFrame, what: str):
    """``df`` with ``what`` = the Spark SQL ``sql``; a condition that does not parse or names an unknown column
    is a ConfigError naming the key and its file (exit 2)."""
    try:
        out = df.withColumn(what, F.expr(sql))
        _ = out.schema
        return out
    except (AnalysisException, ParseException) as e:
        first = str(e).strip().splitlines()[0][:300]
        raise ConfigError(f"{_where(ctx, key)}: {key}: `{sql}` is not a valid condition on gold.customer_360: "
                          f"{first}") from e


def chosen(ctx: JobContext, names: tuple[str, ...]) -> dict[str, AudienceConfig]:
    known = ctx.cfg.activation.audiences
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"audience: no audience named {unknown} in activation.audiences; known: {sorted(known)}")
    return {n: known[n] for n in names} if names else {n: a for n, a in known.items() if a.enabled}


def suppression_list(ctx: JobContext) -> DataFrame | None:
    """The suppression lists' emails, phones and customer ids (normalised as standardize does), or None."""
    spark, cfg = ctx.spark, ctx.cfg
    phone = SC.e164(cfg.standardize.default_phone_region)
    norm = {"email": SC.normalize_email, "phone": phone, "customer_id": F.trim}
    parts = []
    for path in cfg.activation.suppression_lists:
        uri = files.location(path)
        if not files.input_files(spark, uri):
            raise ConfigError(f"{_where(ctx, 'activation.suppression_lists')}: activation.suppression_lists: no file "
                              f"at {uri}")
        df = spark.read.option("header", "true").csv(uri)
        cols = {c.strip().lower(): c for c in df.columns}
        wanted = [c for c in ("email", "phone", "customer_id") if c in cols]
        if not wanted:
            raise ConfigError(f"activation.suppression_lists: {uri} has none of the columns email, phone, "
                              f"customer_id (its header: {df.columns})")
        parts.append(df.select(*[norm[c](F.col(cols[c])).alias(c) for c in wanted]))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p, allowMissingColumns=True)
    return out.cache()


def erased_tokens(ctx: JobContext) -> set[str]:
    log_df = read_optional(ctx.spark, ctx.cfg, table("gold.erasure_log"))
    if log_df is None or "suppression_tokens" not in log_df.columns:
        return set()
    return {r[0] for r in log_df.select(F.explode("suppression_tokens")).distinct().collect()}


def sends(ctx: JobContext) -> DataFrame | None:
    """``(customer_id, campaign_id, sent_at)``: the campaign sends of silver.campaign_responses linked to a
    customer."""
    xref = read_optional(ctx.spark, ctx.cfg, table("silver.object_xref"))
    responses = read_optional(ctx.spark, ctx.cfg, table("silver.campaign_responses"))
    if xref is None or responses is None:
        return None
    return rekeyed(responses, "silver.campaign_responses", xref).select("customer_id", "campaign_id", "sent_at")


def contacted(ctx: JobContext, responses: DataFrame | None, campaign_id: str) -> DataFrame | None:
    """``(customer_id, sent_at)``: sends of other campaigns, and members of other campaigns' contacted cells
    (their audience's date stands for the send). The campaign's own sends do not count: re-running it after
    its responses came back keeps its members."""
    parts = ([responses.where(~F.coalesce(F.col("campaign_id") == campaign_id, F.lit(False)))
              .select("customer_id", "sent_at")] if responses is not None else [])
    members = read_optional(ctx.spark, ctx.cfg, table("gold.audience_members"))
    if members is not None:
        parts.append(members.where(~F.col("is_control") & (F.col("campaign_id") != campaign_id))
                     .select("customer_id", F.col("as_of").cast("timestamp").alias("sent_at")))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])


def build_members(ctx: JobContext, name: str, a: AudienceConfig, c360: DataFrame, as_of: dt.date,
                  common: dict) -> tuple[DataFrame, dict]:
    """The audience's members (cells, response codes) and its counts."""
    spark, cfg = ctx.spark, ctx.cfg
    ac = cfg.activation
    campaign = a.campaign_id or name
    key = f"activation.audiences.{name}"
    missing = [f for f in [*a.fields, *([a.stratify_by] if a.stratify_by else [])] if f not in c360.columns]
    if missing:
        raise ConfigError(f"{_where(ctx, key + '.fields')}: {key}: unknown column(s) {missing} of gold.customer_360")
    if a.offer not in (None, "next_best") and a.offer not in {o.id for o in cfg.offers.catalogue}:
        raise ConfigError(f"{_where(ctx, key + '.offer')}: {key}.offer: '{a.offer}' is neither `next_best` nor an "
                          f"offer id of offers.catalogue {sorted(o.id for o in cfg.offers.catalogue)}")
    selected = _expr(ctx, f"{key}.selection", a.selection, c360, "_selected").where("_selected").drop("_selected")
    ch = ac.channels[a.channel]
    checks = _expr(ctx, f"activation.channels.{a.channel}.consent", ch.consent, selected, "_consent")
    checks = _expr(ctx, f"activation.channels.{a.channel}.contact", ch.contact, checks, "_contact")
    selected = selected.localCheckpoint()
    parts = [S.no_consent(checks, F.col("_consent"), ac.unknown_consent),
             S.no_contact(checks, F.col("_contact"))]
    if common["tokens"]:
        parts.append(S.erased(selected, common["tokens"], lambda c: privacy.token(c, common["secret"])))
    if common["list"] is not None:
        parts.append(S.listed(selected, common["list"]))
    if common["tickets"] is not None:
        parts.append(S.open_complaint(common["tickets"], as_of, cfg.features.complaint_categories,
                                      cfg.offers.open_ticket_status))
    contacts = contacted(ctx, common["responses"], campaign)
    if contacts is not None and ac.cooldown_days > 0:
        parts.append(S.cooldown(contacts, as_of, ac.cooldown_days))
    reasons = S.all_reasons(parts, spark).join(selected.select("customer_id"), "customer_id", "left_semi").cache()
    by_reason = {r["reason"]: r["count"] for r in reasons.groupBy("reason").count().collect()}
    kept = selected.join(reasons.select("customer_id").distinct(), "customer_id", "left_anti")
    members = A.capped(kept, a.max_size, a.order_by)
    members = A.with_offer(members, a.offer, a.channel)
    members = A.with_cells(members, a.cells, ac.seed, campaign, a.stratify_by)
    members = members.withColumn("response_code", A.response_code(campaign, ac.seed, F.col("cell"),
                                                                   F.col("offer_id")))
    members = members.select(
        F.lit(name).alias("audience"), F.lit(A.audience_run_id(campaign, as_of)).alias("run_id"),
        F.lit(campaign).alias("campaign_id"), F.lit(as_of.isoformat()).cast("date").alias("as_of"), "customer_id",
        "cell", "is_control", "stratum", "response_code", "offer_id", F.lit(a.channel).alias("channel"),
        F.col("audience_rank").cast("int"), *[F.col(f).alias(f"_x_{f}") for f in a.fields if f not in EXPORT_KEYS])
    members = members.localCheckpoint()
    n_selected = selected.count()
    n_suppressed = reasons.select("customer_id").distinct().count()
    reasons.unpersist()
    cells = {r["cell"]: r["count"] for r in members.groupBy("cell").count().collect()}
    n_members = sum(cells.values())
    counts = {"selected": n_selected, "suppressed": n_suppressed, "suppressed_by": by_reason,
              "capped": n_selected - n_suppressed - n_members, "members": n_members, "cells": cells}
    return members, counts


def export(ctx: JobContext, name: str, a: AudienceConfig, run_id: str, members: DataFrame,
           cells: dict[str, int]) -> list[str]:
    """One CSV and one Parquet file per cell: the key columns, then the audience's fields."""
    folder = files.join(ctx.cfg.exports_path, name, run_id)
    files.delete(ctx.spark, folder)  # a re-run replaces the run's files (a cell that is gone leaves none)
    fields = [F.col(f"_x_{f}").alias(f) for f in a.fields if f not in EXPORT_KEYS]
    written = []
    for cell in sorted(cells):
        rows = members.where(F.col("cell") == cell).orderBy("audience_rank").select(*EXPORT_KEYS, *fields)
        for fmt, options in (("csv", {"header": "true", "escape": '"'}), ("parquet", {})):
            written.append(files.write_one_file(rows, files.join(folder, f"{name}_{cell}.{fmt}"), fmt, options))
    return written


def exported_runs(ctx: JobContext) -> set[tuple[str, str]]:
    """``(audience, run_id)`` of the runs already exported (their gold.audience_runs row is written last)."""
    runs = read_optional(ctx.spark, ctx.cfg, table("gold.audience_runs"))
    return set() if runs is None else {(r[0], r[1]) for r in runs.select("audience", "run_id").collect()}


def run(ctx: JobContext, names: tuple[str, ...] = (), replace: bool = False) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    wanted = chosen(ctx, tuple(names or ()))
    if not wanted:
        log.warning("audience: no enabled audience in activation.audiences (name one with --name)")
        return {"audiences": 0}
    c360 = read_optional(spark, cfg, table("gold.customer_360"))
    if c360 is None:
        raise C360Error("audience: gold.customer_360 does not exist; run `c360 publish` first")
    as_of = c360.agg(F.max("as_of")).first()[0] or dt.date.today()
    hist = load_history(ctx, "audience")
    tokens = erased_tokens(ctx)
    common = {"tokens": tokens, "list": suppression_list(ctx), "tickets": hist.tickets,
              "responses": sends(ctx), "secret": None}
    if tokens:
        from c360.pipelines.publish import token_secret  # noqa: PLC0415

        common["secret"] = token_secret(ctx)
    facts: dict = {"as_of": as_of.isoformat(), "audiences": {}}
    done = exported_runs(ctx)
    for name, a in wanted.items():
        campaign = a.campaign_id or name
        run_id = A.audience_run_id(campaign, as_of)
        if (name, run_id) in done and not replace:
            # the list that went out is the record its responses are matched against: it stays as it was
            log.info(f"audience '{name}': run {run_id} was exported already: kept (--replace builds it again)")
            facts["audiences"][name] = {"run_id": run_id, "kept": True}
            continue
        members, counts = build_members(ctx, name, a, c360, as_of, common)
        where = f"audience = '{name}' AND run_id = '{run_id}'"
        spec = table("gold.audience_members")
        write_table(spark, cfg, spec, members.select(*spec.columns), mode="overwrite", replace_where=where)
        written = []
        if counts["members"] == 0:
            log.warning(f"audience '{name}': empty after suppression: nothing exported", selected=counts["selected"],
                        suppressed=counts["suppressed"], by_reason=counts["suppressed_by"])
            files.delete(spark, files.join(cfg.exports_path, name, run_id))
        else:
            written = export(ctx, name, a, run_id, members, counts["cells"])
        row = {"audience": name, "run_id": run_id, "campaign_id": campaign, "as_of": as_of, "channel": a.channel,
               "selected": counts["selected"], "suppressed": counts["suppressed"],
               "suppressed_by": {k: int(v) for k, v in counts["suppressed_by"].items()},
               "capped": counts["capped"], "members": counts["members"],
               "cells": {k: int(v) for k, v in counts["cells"].items()}, "files": written,
               "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
        write_table(spark, cfg, table("gold.audience_runs"),
                    spark.createDataFrame([row], table("gold.audience_runs").ddl()))
        log.info(f"audience '{name}'", run_id=run_id, selected=counts["selected"], suppressed=counts["suppressed"],
                 members=counts["members"], **{f"cell_{k}": v for k, v in sorted(counts["cells"].items())})
        facts["audiences"][name] = {"run_id": run_id, **{k: v for k, v in counts.items()},
                                    "files": len(written)}
    if common["list"] is not None:
        common["list"].unpersist()
    return facts
