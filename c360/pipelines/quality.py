"""`c360 quality`: the great-expectations gates over every table, results to gold.quality_results, data docs.

Each table's suite (``conf/base/quality.yml``) runs as one great-expectations validation of the table read
from Delta. ``c360 run all`` runs a stage's tables right after the stage (:func:`gate`); the ``quality``
stage then validates what was not validated in this run and writes great-expectations' data docs (HTML)
under ``<reports>/quality``. A failed ``critical`` expectation raises :class:`QualityGateError` (exit 3)
naming the table and the expectation, after every result of the table has been stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import tempfile

from c360.errors import QualityGateError
from c360.io import files
from c360.io.delta import exists, read_table, register_all, write_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.quality import suites as S
from c360.tables import TableSpec, all_tables, table

log = get_logger(__name__)
SOURCE_SUITE = "bronze.<source>"
DOCS_SITE = "c360"


def is_source_table(spec: TableSpec) -> bool:
    """A source's bronze table: checked by the ``bronze.<source>`` suite."""
    return spec.layer == "bronze" and spec.producer == "ingest" and spec.keys == ("_row_hash",)


class Gates:
    """The gates of one process: a great-expectations context, the run id, what was validated."""

    def __init__(self, ctx: JobContext):
        import great_expectations as gx  # noqa: PLC0415
        from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: PLC0415

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self.ctx = ctx
        _ = ctx.spark  # c360's session first: great-expectations would otherwise start a bare one
        self.checks = S.parse(ctx.cfg.quality.suites, "conf quality.yml")
        self.run_id = ctx.run_id
        self.gx = gx.get_context(mode="ephemeral")
        self.gx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.source = self.gx.data_sources.add_spark("c360")
        self.validated: dict[str, list[tuple]] = {}
        self.pending: list[tuple] = []
        self.result_format = "SUMMARY"
        self.docs_dir = tempfile.mkdtemp(prefix="c360-gx-docs-")
        self.gx.add_data_docs_site(DOCS_SITE, {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": self.docs_dir},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})

    def checks_for(self, spec: TableSpec) -> list[S.Check]:
        if spec.fqn in self.checks:
            return self.checks[spec.fqn]
        if is_source_table(spec):
            return [S.Check(spec.fqn, c.expect, c.severity, c.kwargs) for c in self.checks.get(SOURCE_SUITE, [])]
        return []

    def validate(self, spec: TableSpec, stage: str) -> list[tuple]:
        """Run the table's suite as one validation; store and return the result rows."""
        import great_expectations as gx  # noqa: PLC0415

        spark, cfg = self.ctx.spark, self.ctx.cfg
        checks, params = [], {}
        columns = set(read_table(spark, cfg, spec).columns)
        for check in self.checks_for(spec):
            absent = [c for c in check.columns() if c not in columns]
            if absent:  # columns follow the sources (a store without web events has no session columns)
                log.warning(f"quality: {spec.fqn}: '{check.label}' left out: no column {absent}")
                continue
            missing = [t for t in check.referenced_tables() if not exists(spark, cfg, table(t))]
            if missing:
                log.warning(f"quality: {spec.fqn}: '{check.label}' left out: {missing} not written yet")
                continue
            for v in check.kwargs.values():
                if isinstance(v, dict) and "rows_of" in v:
                    params[v["rows_of"]] = read_table(spark, cfg, table(v["rows_of"])).count()
            checks.append(check)
        if not checks:
            return []
        df = read_table(spark, cfg, spec)
        name = f"{spec.fqn}#{len(self.validated)}"
        suite = self.gx.suites.add(gx.ExpectationSuite(name=spec.fqn if spec.fqn not in self.validated else name))
        for check in checks:
            suite.add_expectation(S.expectation(check, params))
        asset = self.source.add_dataframe_asset(name)
        definition = self.gx.validation_definitions.add(gx.ValidationDefinition(
            name=name, data=asset.add_batch_definition_whole_dataframe("whole"), suite=suite))
        result = definition.run(batch_parameters={"dataframe": df}, result_format=self.result_format)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows = S.result_rows(spec.fqn, result, self.run_id, stage, now)
        self.validated[spec.fqn] = rows
        self.pending += rows
        for r in rows:
            if not r[6]:
                log.warning(f"quality: {spec.fqn}: {r[4]} failed", severity=r[5], observed=r[7])
        log.info(f"quality: {spec.fqn}", expectations=len(rows), failed=sum(not r[6] for r in rows))
        return rows

    def flush(self) -> None:
        """Store the results not stored yet in gold.quality_results (one commit)."""
        if self.pending:
            spark = self.ctx.spark
            results = spark.createDataFrame(self.pending, table("gold.quality_results").ddl())
            write_table(spark, self.ctx.cfg, table("gold.quality_results"), results, mode="insert_new")
            self.pending = []

    def check(self, specs: list[TableSpec], stage: str) -> list[tuple]:
        """Validate the tables, store every result, then raise QualityGateError (exit 3) on the first table with a
        failed critical expectation, naming the table and the expectation."""
        register_all(self.ctx.spark, self.ctx.cfg)
        rows: list[tuple] = []
        try:
            for spec in specs:
                rows += self.validate(spec, stage)
        finally:
            self.flush()
        failed = S.failures(rows)
        if failed:
            named = "; ".join(f"{r[3]}: {r[4]} (observed {r[7]})" for r in failed[:5])
            more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
            raise QualityGateError(f"quality gate failed: {named}{more}; every result in gold.quality_results, "
                                   f"run_id {self.run_id}")
        return rows

    def write_docs(self) -> str | None:
        """great-expectations' data docs of this run's validations, under ``<reports>/quality``."""
        if not self.validated:
            return None
        self.gx.build_data_docs(site_names=[DOCS_SITE])
        target = files.join(self.ctx.cfg.reports_path, "quality")
        files.copy_local_dir(self.ctx.spark, self.docs_dir, target)
        return files.join(target, "index.html")


def gates(ctx: JobContext) -> Gates:
    if ctx.gates is None:
        ctx.gates = Gates(ctx)
    return ctx.gates


def tables_of(ctx: JobContext, stage: str | None) -> list[TableSpec]:
    """The tables a stage writes (every table for None) that exist and have a suite."""
    g = gates(ctx)
    return [t for t in all_tables(ctx.cfg) if (stage is None or t.producer == stage) and t.fqn != "gold.quality_results"
            and g.checks_for(t) and exists(ctx.spark, ctx.cfg, t)]


def gate_key(ctx: JobContext, stage: str) -> dict:
    """What a stage's gates depend on: the versions of the tables it writes and of every table their suites
    refer to, and those suites (from the configuration: no great-expectations import, no Spark job)."""
    from c360.io.delta import version_of  # noqa: PLC0415

    cfg = ctx.cfg
    own = [t for t in all_tables(cfg) if t.producer == stage and t.fqn != "gold.quality_results"]
    suites = {t.fqn: cfg.quality.suites.get(t.fqn) or (cfg.quality.suites.get(SOURCE_SUITE)
                                                       if is_source_table(t) else None) for t in own}
    text = json.dumps(suites, sort_keys=True, default=str)
    names = set(suites) | {m.group(0) for m in S.TABLE_REF.finditer(text)}
    names |= set(re.findall(r'"rows_of": "([^"]+)"', text))
    return {"tables": {n: version_of(ctx.spark, cfg, n) for n in sorted(names)},
            "suites": hashlib.sha256(text.encode()).hexdigest()[:16]}


def gate(ctx: JobContext, stage: str) -> dict:
    """The gates of the tables ``stage`` wrote (``c360 run all`` calls it after each stage); skipped when they
    passed before on the same tables and suites (:mod:`c360.pipelines.state`)."""
    from c360.pipelines import state  # noqa: PLC0415

    key = gate_key(ctx, stage)
    if state.gates_passed(ctx, stage, key):
        return {"skipped": "passed before on these versions"}
    rows = gates(ctx).check(tables_of(ctx, stage), stage)
    state.remember_gates(ctx, stage, key)  # only once they passed and their results are stored
    return {"expectations": len(rows), "failed": sum(not r[6] for r in rows)}


def run(ctx: JobContext) -> dict:
    g = gates(ctx)
    error = None
    try:
        g.check([t for t in tables_of(ctx, None) if t.fqn not in g.validated], "quality")
    except QualityGateError as e:  # the data docs are written all the same
        error = e
    rows = [r for rs in g.validated.values() for r in rs]
    docs = g.write_docs() if ctx.cfg.quality.data_docs else None
    facts = {"run_id": g.run_id, "tables": len(g.validated), "expectations": len(rows),
             "failed_critical": len(S.failures(rows)), "failed_warning": len(S.failures(rows, "warning")),
             "data_docs": docs}
    log.info("quality: summary", **facts)
    if error is not None:
        raise error
    return facts
