"""The one SparkSession builder: embedded local Spark by default, spark-submit's session on a cluster, and the
tests' session (``--env test``: tiny-data settings) — all through :func:`get_spark`.

Rules:
- An already active session (notebook, spark-submit, pytest fixture) is reused; nothing static is changed.
- A setting spark-submit or ``spark-defaults.conf`` already made is never overridden: the config only fills
  in what is not set (master, packages, memory, shuffle partitions, ...).
- Delta's SQL extension and catalog are always on. GraphFrames (the connected-components engine beyond the
  driver's size) comes from ``graph.graphframes_jar`` on ``spark.jars`` when set, else from
  ``graph.graphframes_package`` on ``spark.jars.packages``; neither when ``graph.backend`` is ``local``.
- c360's Java functions (:mod:`c360.jvm`, ``spark.jvm_udfs``) are built on first use, put on ``spark.jars`` and
  registered; a session without them (a cluster started without ``--jars``) uses the Python ones.
- Tables are registered as ``<layer>.<table>`` when a job writes them; :func:`c360.notebook.connect`
  registers every table that exists under the warehouse, so that ``spark.table("gold.customer_360")`` works
  in a notebook right after ``make demo`` (a job does not pay for registering tables it never names).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from c360 import jvm
from c360.config import C360Config
from c360.errors import C360Error
from c360.io.files import is_local, join, local_path
from c360.log import get_logger, quiet_jvm_output

log = get_logger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def _settings(cfg: C360Config) -> dict[str, str]:
    """Everything the config wants set, as strings (before skipping what the cluster already set)."""
    system = cfg.system_path
    wanted: dict[str, str] = {
        "spark.app.name": cfg.spark.app_name,
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": join(system, "spark-warehouse"),
        "spark.jars.ivy": str(Path.home() / ".ivy2"),
    }
    if cfg.spark.master:
        wanted["spark.master"] = cfg.spark.master
    packages = cfg.spark_packages()
    if packages:
        wanted["spark.jars.packages"] = ",".join(packages)
    if cfg.spark_jars():
        wanted["spark.jars"] = ",".join(cfg.spark_jars())
    if cfg.spark_excludes():
        wanted["spark.jars.excludes"] = ",".join(cfg.spark_excludes())
    if cfg.spark.repositories:
        wanted["spark.jars.repositories"] = ",".join(cfg.spark.repositories)
    for key, value in cfg.spark.conf.items():
        wanted[key] = str(value).lower() if isinstance(value, bool) else str(value)
    initial = _initial_heap(wanted.get("spark.driver.memory"), wanted.get("spark.driver.extraJavaOptions"))
    extra = " ".join(x for x in (wanted.get("spark.driver.extraJavaOptions"), initial, _log4j_options()) if x)
    if extra:
        wanted["spark.driver.extraJavaOptions"] = extra
    return wanted


def spark_log_file(cfg: C360Config) -> str | None:
    """Where the embedded JVM's console output goes (``logging.spark_output: file``), or None to show it."""
    if cfg.logging.spark_output == "console":
        return None
    base = local_path(cfg.system_path) if is_local(cfg.system_path) else str(jvm.cache_dir())
    return os.path.join(base, "logs", "spark.log")


def _tail(path: str, lines: int = 8) -> str:
    try:
        with open(path, errors="replace") as f:
            last = [ln.rstrip() for ln in f.readlines()[-300:]
                    if ln.strip() and not ln.lstrip().startswith(("at ", "..."))][-lines:]
    except OSError:
        return ""
    return ("; its last lines:\n  " + "\n  ".join(last)) if last else ""


def _log4j_options() -> str:
    """c360's log4j2 configuration for the embedded driver (warnings of a few chatty classes off)."""
    conf = Path(__file__).resolve().parent / "resources" / "log4j2.properties"
    return f"-Dlog4j2.configurationFile={conf.as_uri()}" if conf.is_file() else ""


def _initial_heap(memory: str | None, java_options: str | None) -> str | None:
    """``-Xms`` equal to the driver's memory, for the JVM options c360 sets (``None`` when there are none, they
    already set ``-Xms``, or the memory is not a plain size such as ``6g``). The embedded driver is a batch
    JVM: a heap that starts small grows through many collections first, and the first runs in a session pay
    for it (the matching core at 100k: runs 2-6 10.7 s against 11.5 s on average, cold 20.0 s against 21.2 s)."""
    if java_options is None or "-Xms" in java_options or not memory:
        return None
    size = re.fullmatch(r"\s*(\d+)\s*([kmgt])b?\s*", memory.lower())
    return f"-Xms{size.group(1)}{size.group(2)}" if size else None


def _udfs(spark: SparkSession, cfg: C360Config) -> SparkSession:
    """Register c360's Java functions once per session (when configured)."""
    if cfg.spark.jvm_udfs and not jvm.is_known(spark):
        jvm.register(spark)
    return spark


def _submitted_settings() -> dict[str, str]:
    """What spark-submit (its options, ``--conf``, ``spark-defaults.conf``) already set. Under spark-submit the
    Python driver is started by a JVM that holds those settings as system properties; a ``SparkConf`` made
    before the driver attaches to that JVM is Python-only and empty, so attach first (the gateway spark-submit
    named in ``PYSPARK_GATEWAY_PORT``), then read them. Outside spark-submit no JVM is started here."""
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        SparkContext._ensure_initialized()
    return dict(SparkConf(loadDefaults=True).getAll())


def get_spark(cfg: C360Config) -> SparkSession:
    """Return the active SparkSession, or build one from the configuration."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return _udfs(active, cfg)
    if cfg.spark.master and cfg.spark.master.startswith("local"):
        # the embedded driver's Python workers must be this interpreter (the venv), not whatever is on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    already = _submitted_settings()
    builder = SparkSession.builder
    skipped = []
    settings = _settings(cfg)
    if cfg.spark.jvm_udfs and "spark.jars" not in already:  # under spark-submit: its --jars (make submit)
        jar = jvm.udf_jar()
        if jar is not None:
            settings["spark.jars"] = ",".join(x for x in (settings.get("spark.jars"), str(jar)) if x)
    for key, value in settings.items():
        if key in already:
            skipped.append(key)
            continue
        builder = builder.config(key, value)
    log.info("starting spark", master=already.get("spark.master", cfg.spark.master), kept_from_cluster=skipped)
    jvm_log = spark_log_file(cfg)
    try:
        with quiet_jvm_output(jvm_log):
            spark = builder.getOrCreate()
    except Exception as e:  # the JVM did not start: most often a package Ivy could not resolve
        packages = settings.get("spark.jars.packages")
        hint = (f" If a package could not be resolved ({packages}): check spark.repositories, give GraphFrames as a "
                "local jar (graph.graphframes_jar), or use graph.backend: local." if packages else "")
        where = f" Spark's own output: {jvm_log}{_tail(jvm_log)}" if jvm_log else ""
        first = str(e).splitlines()[0][:300].rstrip(".")
        raise C360Error(f"Spark did not start: {first}.{hint}{where}") from e
    spark.sparkContext.setLogLevel(cfg.spark.log_level)
    if not spark.sparkContext.getCheckpointDir():
        spark.sparkContext.setCheckpointDir(join(cfg.system_path, "checkpoints"))

    return _udfs(spark, cfg)
