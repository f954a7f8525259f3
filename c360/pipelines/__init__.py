"""Jobs: one module per job with ``run(ctx, **options) -> dict`` (extract -> transform -> load).

``JOBS`` is the one list of jobs: the CLI, ``run all``, ``jobs/<job>.py`` and the Makefile follow it.
A job whose module is ``None`` is not built yet: it says so and exits 2.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from functools import cached_property

from c360.config import C360Config
from c360.errors import NotBuiltError


@dataclass(frozen=True)
class Job:
    name: str
    summary: str
    module: str | None
    #: issue that builds it, for the "not built yet" message
    planned: str = ""


JOBS: dict[str, Job] = {j.name: j for j in [
    Job("generate", "Write a synthetic multi-source company with ground truth to landing files.",
        "c360.pipelines.generate"),
    Job("ingest", "Read every source of sources.yml into bronze.<source>; bad rows to bronze.quarantine.",
        "c360.pipelines.ingest"),
    Job("standardize", "Standardise bronze into silver (person, orders, events, ...), de-duplicated.",
        "c360.pipelines.standardize"),
    Job("resolve", "Identity resolution: blocking, scoring, clustering into customer_id; survivorship.",
        "c360.pipelines.resolve"),
    Job("sessionize", "Web sessions and session profiles from silver.events, stitched to customers.",
        "c360.pipelines.sessionize"),
    Job("features", "Customer features: RFM, profitability, CLV, lifecycle, segments, sentiment.",
        "c360.pipelines.features"),
    Job("train", "Train churn and propensity models (point in time) and FP-Growth cross-sell rules.",
        "c360.pipelines.train"),
    Job("score", "Score customers: churn, propensity, next best offers, alerts.", "c360.pipelines.score"),
    Job("publish", "Publish gold.customer_360: one row per customer with everything known about them.",
        "c360.pipelines.publish"),
    Job("audience", "Campaign audiences from gold.customer_360: suppressed by reason, split into test and control "
        "cells, exported as CSV and Parquet with a response code per member (gold.audience_members).",
        "c360.pipelines.audience"),
    Job("lookalike", "Rank prospects (enrichment records of no customer) by resemblance to a seed audience with a "
        "Spark ML model (gold.prospect_scores).", "c360.pipelines.lookalike"),
    Job("quality", "Run the great-expectations quality gates over every table; data docs; exit 3 on a failed "
        "critical expectation.", "c360.pipelines.quality"),
    Job("report", "Write the customer scorecard: one self-contained HTML file with plotly charts.",
        "c360.pipelines.report"),
    Job("profile", "One customer's profile by customer_id, email or phone: golden record with sources, merged "
        "records, orders, tickets, sessions, segments, scores, offers, alerts.", "c360.pipelines.profile"),
    Job("evaluate-identity", "Precision/recall/F1 and B-cubed of identity resolution against ground truth.",
        "c360.pipelines.evaluate_identity"),
    Job("explain-match", "Show why two records were or were not linked.", "c360.pipelines.explain_match"),
    Job("evaluate-models", "Churn AUC against the oracle of the generator's latent hazard; planted cross-sell "
        "affinities found among the rules.", "c360.pipelines.evaluate_models"),
    Job("forget", "Erase a person from every table, the quarantine, reports and c360's own landing files, then "
        "VACUUM old versions; an audit row in gold.erasure_log (right to be forgotten).", "c360.pipelines.forget"),
]}

#: the stages of `c360 run all`, in order
RUN_ALL: tuple[str, ...] = ("ingest", "standardize", "resolve", "sessionize", "features", "train", "score",
                            "publish", "audience", "quality", "report")


@dataclass
class JobContext:
    """What every job gets: the configuration, the as-of date and (lazily) the Spark session."""

    cfg: C360Config
    as_of: dt.date | None = None
    facts: dict = field(default_factory=dict)
    #: the data-quality gates of this process (c360.pipelines.quality.Gates), made on first use
    gates: object | None = None
    #: this run's id (ingest log, quality results, the run summary and lock: c360.runs)
    run_id: str = field(default_factory=lambda: _new_run_id())
    #: per stage of this run: name, status (ran, skipped, failed), seconds, facts (the run summary's)
    stages: list[dict] = field(default_factory=list)

    @cached_property
    def spark(self):
        from c360.session import get_spark  # noqa: PLC0415 (keep --help and config errors Spark-free)

        return get_spark(self.cfg)


def _new_run_id() -> str:
    from c360.runs import new_run_id  # noqa: PLC0415

    return new_run_id()


def is_built(name: str) -> bool:
    return JOBS[name].module is not None


def run_job(name: str, ctx: JobContext, **options) -> dict:
    job = JOBS[name]
    if job.module is None:
        raise NotBuiltError(f"`c360 {name}` is not built yet (planned with {job.planned}).")
    module = importlib.import_module(job.module)
    return module.run(ctx, **options) or {}
