"""The `c360` command line (also `python -m c360` and `jobs/<job>.py` under spark-submit).

Exit codes: 0 success; 2 bad usage or configuration; 3 a data-quality gate failed; 1 anything else.
Progress and timings go to stderr.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from c360.config import load_config
from c360.errors import C360Error, NotBuiltError, UsageError, exit_code_of
from c360.log import configure_logging, console, get_logger, is_json_logging, stage
from c360.pipelines import JOBS, RUN_ALL, JobContext, is_built, run_job

AS_OF_JOBS = {"features", "train", "score", "publish"}


def _parse_date(_ctx, _param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO date (YYYY-MM-DD)") from None


COMMON = ("env", "conf_dir", "warehouse", "landing", "settings", "verbose", "as_of")


#: jobs that only read the warehouse: they run beside others, without the run lock
READ_ONLY = {"profile", "explain-match"}
#: the command line of this process (the run summary's ``argv``)
_ARGV: list[str] = []


def common_options(with_as_of: bool, job: bool = True) -> Callable:
    """The options every job takes; the command receives them as one ``JobContext`` argument, ``ctx``. A job's
    run (``job``) takes the warehouse's run lock unless it only reads, and writes a run summary
    (:mod:`c360.runs`) however it ends."""
    def decorate(f: Callable) -> Callable:
        opts = [
            click.option("--env", default="local", show_default=True,
                         help="Configuration overlay: conf/base + conf/<env>."),
            click.option("--conf", "conf_dir", multiple=True, metavar="DIR",
                         help="Extra overlay directory applied last (your own sources.yml, parameters); "
                              "repeat it to apply several in order."),
            click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                         help="Set one configuration key after the files (graph.backend=local); repeatable."),
            click.option("--warehouse", default=None, metavar="URI", help="Root of the Delta tables."),
            click.option("--landing", default=None, metavar="URI",
                         help="Root that relative source paths are read from."),
            click.option("-v", "--verbose", is_flag=True,
                         help="Debug log lines, and Spark's and Ivy's own output on the console."),
        ]
        if with_as_of:
            opts.append(click.option("--as-of", "as_of", default=None, callback=_parse_date, metavar="DATE",
                                     help="Compute as of this ISO date, ignoring later orders/events/responses."))

        @functools.wraps(f)
        def command(**kwargs):
            common = {k: kwargs.pop(k, None) for k in COMMON}
            ctx = _context(**common)
            if not job:
                return f(ctx, **kwargs)
            from c360 import runs  # noqa: PLC0415

            name = click.get_current_context().info_name
            name = f"{name} {kwargs['what']}" if "what" in kwargs else name
            # the person a `forget` names is not written down again, not even in the run's summary
            argv = [a if a != kwargs.get("key") or name != "forget" else "[erased]" for a in _ARGV]
            with runs.recorded(ctx, name, argv, lock=name not in READ_ONLY):
                return f(ctx, **kwargs)

        for opt in reversed(opts):
            command = opt(command)
        return command
    return decorate


def _context(env: str, conf_dir: tuple[str, ...] | None, warehouse: str | None, landing: str | None,
             settings: tuple[str, ...] | None = None, verbose: bool = False,
             as_of: dt.date | None = None) -> JobContext:
    wanted = list(settings or ())
    if verbose:
        wanted += ["logging.level=DEBUG", "logging.spark_output=console"]
    cfg = load_config(env, conf_dir or None, warehouse=warehouse, landing=landing, settings=wanted)
    configure_logging(cfg.logging.level, cfg.logging.format)
    return JobContext(cfg=cfg, as_of=as_of)


def _gate(name: str, ctx: JobContext) -> None:
    """The quality gates of the tables stage ``name`` wrote; a failed critical expectation raises (exit 3)."""
    from c360.pipelines import quality  # noqa: PLC0415

    with _stage(ctx, f"{name} gates") as facts:
        facts.update(quality.gate(ctx, name))


@contextmanager
def _stage(ctx: JobContext, name: str) -> Iterator[dict]:
    """One stage: its log line (c360.log.stage) and its entry in the run summary (``ctx.stages``)."""
    entry = {"stage": name, "status": "ran"}
    ctx.stages.append(entry)
    t0 = time.perf_counter()
    facts: dict = {}
    try:
        with stage(name) as facts:
            yield facts
    except BaseException as e:
        entry.update(status="failed", error=str(e) if isinstance(e, C360Error) else f"{type(e).__name__}: {e}")
        raise
    finally:
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        if "skipped" in facts:
            entry["status"] = "skipped"
        entry["facts"] = {k: v for k, v in facts.items() if k != "skipped"}


def _execute(name: str, ctx: JobContext, **options) -> bool:
    """Run job ``name``; a stage that would see nothing new since its last run is skipped (returns False)."""
    from c360.pipelines import state  # noqa: PLC0415 (keep --help and config errors Spark-free)

    if name not in state.TRACKED:
        with _stage(ctx, name) as facts:
            facts.update(run_job(name, ctx, **options))
        return True
    from c360.io.tracking import tracking  # noqa: PLC0415

    with _stage(ctx, name) as facts:
        if state.unchanged(ctx, name, options) is not None:
            facts["skipped"] = "nothing new since its last run"
            return False
        # the record goes before the stage writes anything: a run killed half-way leaves none, so the next
        # run does the stage again (a record is only ever of a run that finished)
        state.forget(ctx, name)
        with tracking() as touched:
            try:
                facts.update(run_job(name, ctx, **options))
            except BaseException:
                state.forget(ctx, name)
                raise
        state.remember(ctx, name, touched)
    return True


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="c360")
def cli() -> None:
    """c360 — Customer 360 on Apache Spark: ingest, standardise, resolve identities, build the golden
    record, sessionise, compute customer metrics, predict and publish a gold customer_360 table.

    Every job reads conf/base + conf/<env> (+ --conf DIR) and writes Delta tables under --warehouse.
    """


def _simple_job(name: str) -> None:
    job = JOBS[name]
    suffix = "" if is_built(name) else f" [not built yet: planned with {job.planned}]"

    @common_options(with_as_of=name in AS_OF_JOBS)
    def command(ctx):
        _execute(name, ctx)

    command.__doc__ = job.summary + suffix
    cli.command(name=name, help=job.summary + suffix)(command)


for _name in ("ingest", "standardize", "features", "train", "publish", "quality", "report"):
    _simple_job(_name)


@cli.command(help=JOBS["generate"].summary)
@common_options(with_as_of=False, job=False)
@click.option("--people", type=click.IntRange(min=1), default=None, help="People in the latent population.")
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same files).")
@click.option("--out", "out", default=None, metavar="DIR", help="Output folder (default: the landing root).")
@click.option("--overwrite", is_flag=True,
              help="Write into a non-empty folder that the generator did not write (its generated entries are "
                   "replaced).")
@click.option("--profile", type=click.Choice(["company", "registry"]), default="company", show_default=True,
              help="company: the sample company's eleven systems; registry: one person register with no "
                   "contact points and another error model.")
def generate(ctx, people, seed, out, overwrite, profile):
    _execute("generate", ctx, people=people, seed=seed, out=out, overwrite=overwrite, profile=profile)


@cli.command(help=JOBS["score"].summary)
@common_options(with_as_of=True)
@click.option("--model-version", default=None, metavar="VERSION",
              help="The training run to score with (default: the latest; versions in gold.model_metrics).")
def score(ctx, model_version):
    _execute("score", ctx, model_version=model_version)


@cli.command(help=JOBS["resolve"].summary)
@common_options(with_as_of=False)
@click.option("--retrain", is_flag=True, help="Re-estimate the matching model (m, u, term frequencies).")
@click.option("--full", is_flag=True, help="Re-score every candidate pair, not only new and changed records.")
def resolve(ctx, retrain, full):
    _execute("resolve", ctx, retrain=retrain, full=full)


@cli.command(help=JOBS["sessionize"].summary)
@common_options(with_as_of=False)
@click.option("--full", is_flag=True, help="Recompute every session, not only those within the lookback.")
def sessionize(ctx, full):
    _execute("sessionize", ctx, full=full)


@cli.command(help=JOBS["profile"].summary)
@common_options(with_as_of=False)
@click.argument("customer_id", metavar="CUSTOMER_ID|EMAIL|PHONE")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON instead of tables.")
def profile(ctx, customer_id, as_json):
    _execute("profile", ctx, customer_id=customer_id, as_json=as_json)


@cli.command(name="evaluate-identity", help=JOBS["evaluate-identity"].summary)
@common_options(with_as_of=False)
@click.option("--truth", required=True, metavar="DIR", help="The generator's _truth folder.")
def evaluate_identity(ctx, truth):
    _execute("evaluate-identity", ctx, truth=truth)


@cli.command(name="evaluate-models", help=JOBS["evaluate-models"].summary)
@common_options(with_as_of=True)
@click.option("--truth", required=True, metavar="DIR", help="The generator's _truth folder.")
def evaluate_models(ctx, truth):
    _execute("evaluate-models", ctx, truth=truth)


@cli.command(name="explain-match", help=JOBS["explain-match"].summary)
@common_options(with_as_of=False)
@click.argument("left")
@click.argument("right")
def explain_match(ctx, left, right):
    _execute("explain-match", ctx, left=left, right=right)


@cli.command(help=JOBS["audience"].summary)
@common_options(with_as_of=False)
@click.option("--name", "names", multiple=True, metavar="NAME",
              help="Run this audience of activation.audiences (repeatable; default: every enabled one).")
@click.option("--replace", is_flag=True,
              help="Build again a run (campaign and date) that was exported already: its members and files replaced.")
def audience(ctx, names, replace):
    _execute("audience", ctx, names=tuple(names), replace=replace)


@cli.command(help=JOBS["lookalike"].summary)
@common_options(with_as_of=False)
@click.option("--seed-audience", default=None, metavar="NAME",
              help="The audience to find prospects like (default: models.lookalike.seed_audience).")
def lookalike(ctx, seed_audience):
    _execute("lookalike", ctx, seed_audience=seed_audience)


@cli.command(help=JOBS["forget"].summary)
@common_options(with_as_of=False)
@click.argument("key", metavar="CUSTOMER_ID|EMAIL|PHONE")
@click.option("--reference", default=None, help="The request's reference (a ticket number), kept in gold.erasure_log.")
@click.option("--retention-hours", type=click.FloatRange(min=0), default=None,
              help="VACUUM retention for this erasure (default privacy.vacuum_retention_hours).")
@click.option("--ignore-retention-check", is_flag=True,
              help="Allow a retention below Delta's 168 h check (no reader may be using an older version).")
def forget(ctx, key, reference, retention_hours, ignore_retention_check):
    _execute("forget", ctx, key=key, reference=reference, retention_hours=retention_hours,
             ignore_retention_check=ignore_retention_check)


@cli.command(name="run", help="`c360 run all`: every stage in order (" + ", ".join(RUN_ALL) + "), each "
             "followed by the quality gates of the tables it wrote; stops at the first failure and names it (a "
             "failed critical gate: exit 3).")
@common_options(with_as_of=True)
@click.argument("what", type=click.Choice(["all"]))
@click.option("--from", "from_stage", type=click.Choice(list(RUN_ALL)), default=None,
              help="Resume at this stage (the stages before it are taken as done).")
@click.option("--to", "to_stage", type=click.Choice(list(RUN_ALL)), default=None,
              help="Stop after this stage.")
@click.option("--force", is_flag=True,
              help="Run every stage, also those whose inputs did not change since their last run.")
def run_all(ctx, what, from_stage, to_stage, force):
    log = get_logger("c360.run")
    t0 = time.perf_counter()
    if force:
        ctx.cfg = ctx.cfg.model_copy(update={"run": ctx.cfg.run.model_copy(update={"skip_unchanged": False})})
    first = RUN_ALL.index(from_stage) if from_stage else 0
    last = RUN_ALL.index(to_stage) if to_stage else len(RUN_ALL) - 1
    if last < first:
        raise UsageError(f"run all: --to {to_stage} comes before --from {from_stage}")
    done, skipped = [], []
    with stage("spark"):  # started once for every stage (its own line: the stages' times are their own)
        _ = ctx.spark
    for name in RUN_ALL[first:last + 1]:
        if not is_built(name):
            log.warning(f"{name}: not built yet, skipped", planned=JOBS[name].planned)
            skipped.append(name)
            continue
        try:
            _execute(name, ctx)
            if ctx.cfg.quality.gates and name != "quality":
                _gate(name, ctx)
        except C360Error as e:
            raise C360Error(f"run all: stage '{name}' failed: {e}") from e
        except Exception as e:
            log.exception(f"{name}: unexpected error")
            raise C360Error(f"run all: stage '{name}' failed: {type(e).__name__}: {e}") from e
        done.append(name)
    log.info("run all: finished", seconds=round(time.perf_counter() - t0, 1), stages=done, not_built=skipped,
             warehouse=ctx.cfg.paths.warehouse)
    show_summary(ctx, done)
    click.echo(f"tables: {ctx.cfg.paths.warehouse}")


def outputs(ctx: JobContext, stages: list[str]) -> list[tuple[str, str]]:
    """The files people open after a run: the scorecard and the data-quality docs, when this run wrote them."""
    from c360.io import files  # noqa: PLC0415

    cfg, spark = ctx.cfg, ctx.spark
    found = []
    for stage_name, label, rel in (("publish", "gold table", None), ("report", "scorecard", "scorecard.html"),
                                   ("quality", "data-quality docs", "quality/index.html")):
        if stage_name not in stages:
            continue
        path = (files.join(cfg.paths.warehouse, "gold", "customer_360") if rel is None
                else files.join(cfg.reports_path, rel))
        if files.exists(spark, path):
            found.append((label, path))
    return found


def show_summary(ctx: JobContext, stages: list[str]) -> None:
    """The tables and reports the stages wrote, and where (stderr: for the person who ran them)."""
    from c360.io import files  # noqa: PLC0415
    from c360.io.delta import exists  # noqa: PLC0415
    from c360.session import spark_log_file  # noqa: PLC0415
    from c360.tables import all_tables  # noqa: PLC0415

    cfg, spark = ctx.cfg, ctx.spark
    written = [t for t in all_tables(cfg) if t.producer in stages and exists(spark, cfg, t)]
    reports = [r for r in (files.join(cfg.system_path, s, "last_run.json") for s in stages)
               if files.exists(spark, r)]
    jvm_log = spark_log_file(cfg)
    if is_json_logging():
        get_logger("c360.run").info("run all: written", tables=[t.fqn for t in written], reports=reports,
                                    warehouse=cfg.paths.warehouse, **{k.replace(" ", "_"): v
                                                                      for k, v in outputs(ctx, stages)})
        return
    from rich.table import Table  # noqa: PLC0415

    grid = Table(title=f"Written under {files.location(cfg.paths.warehouse)}", title_justify="left",
                 show_edge=False, box=None, pad_edge=False)
    grid.add_column("stage", style="bold")
    grid.add_column("tables")
    for stage_name in stages:
        names = [t.fqn for t in written if t.producer == stage_name]
        if names:
            grid.add_row(stage_name, ", ".join(names))
    out = console()
    out.print(grid)
    for r in reports:
        out.print(f"run report: {r}")
    for label, path in outputs(ctx, stages):
        out.print(f"{label}: {path}")
    if jvm_log:
        out.print(f"Spark's own output: {jvm_log} (--verbose shows it)")


@cli.group(name="config", help="The merged configuration: conf/base + conf/<env> + --conf + --set.")
def config_group() -> None:
    pass


@config_group.command(name="show", help="Print the merged configuration as YAML (--origins: where each key "
                                        "was set).")
@common_options(with_as_of=False, job=False)
@click.option("--origins", is_flag=True, help="Print the file, variable or option that set each key instead.")
def config_show(ctx, origins):
    import yaml  # noqa: PLC0415

    data = dict(sorted(ctx.cfg.origins.items())) if origins else ctx.cfg.model_dump(mode="json", by_alias=True)
    click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@config_group.command(name="packages", help="The Maven coordinates for spark-submit --packages.")
@common_options(with_as_of=False, job=False)
def config_packages(ctx):
    click.echo(",".join(ctx.cfg.spark_packages()))


@config_group.command(name="exclude-packages", help="The group:artifact for spark-submit --exclude-packages.")
@common_options(with_as_of=False, job=False)
def config_exclude_packages(ctx):
    click.echo(",".join(ctx.cfg.spark_excludes()))


@config_group.command(name="jars", help="The jars (paths or URIs) for spark-submit --jars, besides c360's own.")
@common_options(with_as_of=False, job=False)
def config_jars(ctx):
    click.echo(",".join(ctx.cfg.spark_jars()))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (the console script exits with it)."""
    _ARGV[:] = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=argv, prog_name="c360", standalone_mode=False)
        return 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 2
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except (NotBuiltError, UsageError) as e:
        click.echo(f"c360: {e}", err=True)
        return e.exit_code
    except C360Error as e:
        click.echo(f"c360: error: {e}", err=True)
        return exit_code_of(e)
    except KeyboardInterrupt:
        return 130


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console_main()
