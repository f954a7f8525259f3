"""Nothing new, nothing done: each stage remembers what its last successful run saw, and a run that would see
the same is skipped (``run.skip_unchanged``; ``c360 run all --force`` runs every stage).

While a stage runs, :mod:`c360.io.delta` notes every table it reads (its Delta version at the first read, or
that it did not exist) and every table it writes, and :mod:`c360.io.files` every file it writes. Afterwards
``<system>/state/<stage>.json`` records the tables it read (and did not write) with their versions, the
tables and files it wrote, a hash of the configuration (less ``logging``, ``run`` and ``spark``: how a run
logs and where it runs, not what it computes), the as-of date and c360's version. The next run of the stage
is skipped when all of that is the same: every table it read is at the recorded version, every other file it
read (a suppression list) has the size and modification time it had, every table and file it wrote is there (a table others add to, such as ``gold.model_metrics``, may have moved on), the
configuration and the as-of date are unchanged. A run with options of its own
(``resolve --retrain``, ``sessionize --full``, ...) always runs. Ingest has its own incremental logic (the
file log) and is never skipped here.

The quality gates of a stage's tables (``c360 run all``) are skipped the same way when they passed before on
the same versions of those tables and of every table a suite refers to, with the same suites
(``<system>/state/<stage>.gates.json``), so a run with nothing new checks nothing again.

Stages of one warehouse are meant to run one at a time (``c360 run all``, or a scheduler's chain): a table
changed by another process while a stage reads it is noticed at the next run, never missed, because a read
table's version is taken before it is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from c360 import __version__
from c360.io import delta, files
from c360.log import get_logger
from c360.pipelines import JobContext

log = get_logger(__name__)
#: stages whose runs are remembered and skipped when nothing changed
TRACKED = ("standardize", "resolve", "sessionize", "features", "train", "score", "publish", "audience", "lookalike",
           "quality", "report")


@dataclass
class Record:
    #: tables the stage read and did not write -> the version it read (None: not there)
    tables: dict[str, int | None] = field(default_factory=dict)
    #: tables the stage wrote (they must still be there; others may add to them, as evaluate-models does)
    written: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: files (not tables) the stage read -> ``size:mtime`` when it read them
    inputs: dict[str, str] = field(default_factory=dict)
    config: str = ""
    as_of: str | None = None
    version: str = __version__

    def to_json(self) -> str:
        return json.dumps({"tables": self.tables, "written": self.written, "files": self.files,
                           "inputs": self.inputs, "config": self.config, "as_of": self.as_of,
                           "version": self.version,
                           "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}, indent=1)


def config_hash(ctx: JobContext) -> str:
    """What the configuration asks to compute (sources, every stage's parameters, paths)."""
    wanted = ctx.cfg.model_dump(mode="json", exclude={"logging", "run", "spark", "origins"})
    return hashlib.sha256(json.dumps(wanted, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _path(ctx: JobContext, name: str) -> str:
    return files.join(ctx.cfg.system_path, "state", f"{name}.json")


def _read(ctx: JobContext, name: str) -> dict | None:
    text = files.read_text(ctx.spark, _path(ctx, name))
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None  # unreadable: the stage runs and writes it again


def last(ctx: JobContext, stage: str) -> Record | None:
    raw = _read(ctx, stage)
    try:
        return Record(tables=raw["tables"], written=raw["written"], files=raw["files"], inputs=raw.get("inputs", {}),
                      config=raw["config"], as_of=raw["as_of"], version=raw["version"]) if raw else None
    except (KeyError, TypeError):
        return None


def unchanged(ctx: JobContext, stage: str, options: dict) -> Record | None:
    """The last run's record when this run would see exactly what it saw (the stage can be skipped)."""
    if stage not in TRACKED or not ctx.cfg.run.skip_unchanged or any(options.values()):
        return None
    rec = last(ctx, stage)
    as_of = ctx.as_of.isoformat() if ctx.as_of else None
    if rec is None or rec.version != __version__ or rec.config != config_hash(ctx) or rec.as_of != as_of:
        return None
    spark = ctx.spark
    for fqn, version in rec.tables.items():
        if delta.version_of(spark, ctx.cfg, fqn) != version:
            return None
    if any(delta.version_of(spark, ctx.cfg, fqn) is None for fqn in rec.written):
        return None
    if not all(files.exists(spark, f) for f in rec.files):
        return None
    for path, was in rec.inputs.items():
        now = files.list_files(spark, path)
        if len(now) != 1 or files.fingerprint(now[0]) != was:
            return None
    return rec


def remember(ctx: JobContext, stage: str, touched: delta.Touched) -> None:
    """Record a successful run (``touched``: what the stage read and wrote)."""
    if stage not in TRACKED:
        return
    spark = ctx.spark
    tables = {fqn: v for fqn, v in touched.read.items() if fqn not in touched.written}
    rec = Record(tables=tables, written=sorted(touched.written), files=sorted(touched.files),
                 inputs=dict(sorted(touched.inputs.items())), config=config_hash(ctx), as_of=ctx.as_of.isoformat() if ctx.as_of else None)
    files.write_text(spark, _path(ctx, stage), rec.to_json())


def gates_passed(ctx: JobContext, stage: str, key: dict) -> bool:
    """Whether the stage's gates passed before on exactly ``key`` (its tables' versions, the suites)."""
    return ctx.cfg.run.skip_unchanged and _read(ctx, f"{stage}.gates") == {"key": key, "version": __version__}


def remember_gates(ctx: JobContext, stage: str, key: dict) -> None:
    files.write_text(ctx.spark, _path(ctx, f"{stage}.gates"), json.dumps({"key": key, "version": __version__}))


def forget(ctx: JobContext, stage: str) -> None:
    """Drop the stage's record and its gates' (a failed run: the next one runs, and is checked)."""
    for name in (stage, f"{stage}.gates"):
        files.delete(ctx.spark, _path(ctx, name), recursive=False)
