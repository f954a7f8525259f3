"""One SparkSession per test run, built by c360.session from conf/test (tiny-data settings).

GraphFrames: the Maven coordinate is not resolved in tests. A local jar is used instead, from
``C360__GRAPH__GRAPHFRAMES_JAR`` or else the first ``graphframes-spark4_2.13-*.jar`` in ``$C360_JARS_DIR``
(default: ``../shared/jars`` beside the checkout, where CI lays it); the variable is set for the whole run, so
the commands the tests start as subprocesses get it too.
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def spark(session_dir):
    from c360.session import get_spark

    cfg = load_config("test", conf_root=REPO / "conf", warehouse=str(session_dir / "warehouse"))
    session = get_spark(cfg)
    yield session
    session.stop()


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
