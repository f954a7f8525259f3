"""SparkSessions built by c360.session from conf/test (tiny-data settings): a test process shares one between its
files, and starts a new one (in a new JVM) after an integration file that left the heap too full.

GraphFrames: the Maven coordinate is not resolved in tests. A local jar is used instead, from
``C360__GRAPH__GRAPHFRAMES_JAR`` or else the first ``graphframes-spark4_2.13-*.jar`` in ``$C360_JARS_DIR``
(default: ``../shared/jars`` beside the checkout, where CI lays it); the variable is set for the whole run, so
the commands the tests start as subprocesses get it too.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from c360.config import C360Config, load_config

REPO = Path(__file__).resolve().parent.parent
JAR_VARIABLE = "C360__GRAPH__GRAPHFRAMES_JAR"


def _graphframes_jar() -> str | None:
    folder = Path(os.environ.get("C360_JARS_DIR") or REPO.parent / "shared" / "jars")
    jars = sorted(folder.glob("graphframes-spark4_2.13-*.jar")) if folder.is_dir() else []
    return str(jars[0]) if jars else None


if not os.environ.get(JAR_VARIABLE) and _graphframes_jar():
    os.environ[JAR_VARIABLE] = _graphframes_jar()


def pytest_configure(config):
    """With test processes (``make test TEST_WORKERS=N``: pytest-xdist), the controller starts and stops one Spark session
    first, so that the Maven packages are in the Ivy cache before the processes start theirs at the same moment
    (two JVMs downloading one jar into one cache can each read the other's half-written file)."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    warm = ("import tempfile; from pathlib import Path; from c360.config import load_config; "
            "from c360.session import get_spark; "
            f"get_spark(load_config('test', conf_root=Path({str(REPO / 'conf')!r}), "
            "warehouse=tempfile.mkdtemp(prefix='c360-warm-'))).stop()")
    done = subprocess.run([sys.executable, "-c", warm], capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise pytest.UsageError(f"starting a Spark session before the test processes failed:\n{done.stderr[-3000:]}")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("c360")


@pytest.fixture(scope="module")
def spark(session_dir):
    """The process's SparkSession (a new one after :func:`_fresh_jvm_after_integration_files` stopped the last)."""
    from c360.session import get_spark

    cfg = load_config("test", conf_root=REPO / "conf", warehouse=str(session_dir / "warehouse"))
    return get_spark(cfg)


@pytest.fixture
def cfg(tmp_path) -> C360Config:
    """A test configuration whose warehouse and landing are private to the test."""
    return load_config("test", conf_root=REPO / "conf", warehouse=str(tmp_path / "warehouse"),
                       landing=str(tmp_path / "landing"))


@pytest.fixture(autouse=True)
def _clear_cache(request):
    yield
    if "spark" in request.fixturenames:
        request.getfixturevalue("spark").catalog.clearCache()


def _stop_jvm() -> None:
    """Stop the active session and the JVM behind it (PySpark starts a new one for the next session)."""
    from pyspark import SparkContext  # noqa: PLC0415
    from pyspark.sql import SparkSession  # noqa: PLC0415

    spark = SparkSession.getActiveSession()
    if spark is not None:
        spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    gc.collect()
    gateway.shutdown()
    proc = getattr(gateway, "proc", None)
    if proc is not None:  # the JVM exits when the pipe from its Python parent closes
        proc.stdin.close()
        proc.wait(120)
    SparkContext._gateway = None
    SparkContext._jvm = None
    # a Python UDF made once at import (c360's pandas UDFs) keeps its JVM twin, which went with the JVM: made
    # again on its next call
    from pyspark.sql.udf import UserDefinedFunction  # noqa: PLC0415

    for obj in gc.get_objects():
        if isinstance(obj, UserDefinedFunction):
            obj._judf_placeholder = None


#: share of the JVM's heap still in use after a full collection above which an integration file's JVM is not
#: handed to the next file
HEAP_LEFT_FOR_NEXT_FILE = 0.4


def _release_and_measure_heap() -> float:
    """Drop the session's cached tables and Delta's log cache, collect, and return the share of the heap still in use
    (0 without a session)."""
    from pyspark.sql import SparkSession  # noqa: PLC0415

    spark = SparkSession.getActiveSession()
    if spark is None:
        return 0.0
    gc.collect()  # Python's handles of JVM objects: released, so the JVM may free them
    spark.catalog.clearCache()
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
    jvm = spark._jvm.java.lang
    jvm.System.gc()
    runtime = jvm.Runtime.getRuntime()
    return (runtime.totalMemory() - runtime.freeMemory()) / runtime.maxMemory()


@pytest.fixture(autouse=True, scope="module")
def _fresh_jvm_after_integration_files(request):
    """After an integration file (whole pipelines), the session's JVM goes on to the next file only while less
    than ``HEAP_LEFT_FOR_NEXT_FILE`` of its heap is still in use after a full collection; otherwise it is
    stopped and the next file starts a new one. One JVM through a dozen such files kept catalyst plans by the
    million, more than a collection frees, until the heap was full and it collected back to back; a new JVM
    costs its start and a warm-up of its compiler (up to a minute on a file's first pipeline), so it is
    started only when needed."""
    yield
    if "integration" in request.path.parts and _release_and_measure_heap() > HEAP_LEFT_FOR_NEXT_FILE:
        _stop_jvm()


@pytest.fixture(scope="session", autouse=True)
def _stop_at_the_end():
    yield
    _stop_jvm()
