"""c360's own Java functions: built once from the sources in ``c360/resources/java`` and registered as SQL functions.

Why: a pandas UDF ships every row's strings to a Python worker and its results back. For Jaro-Winkler over a
million random pairs (the model's u sample) that round trip, not the similarity, was most of the time: the
same query with a pandas UDF that computes nothing took as long as with the real one. In the JVM the
function runs inside Spark's own tasks, on every core.

They are built-in expressions, not UDFs: each Java class's static ``register(session)`` adds a function to the
session's registry whose expression is a ``StaticInvoke`` of a static Java method, the way Spark builds its
own functions on Java helpers. Spark's code generation inlines the call (no row conversion, no boxing).

- :func:`udf_jar`: the jar of the sources, built with ``javac`` against pyspark's own jars into
  ``~/.cache/c360`` (``$C360_CACHE``) and named by the sources' hash, so an edited source is rebuilt and a
  built jar is reused by every later session. Without a JDK the Python implementations are used.
- :func:`register`: registers the functions with a session; a session whose classpath lacks the jar (a
  cluster started without ``--jars``) keeps the Python implementations, with a warning.
- :func:`has_function`: whether the active session has one of them (the comparisons ask).

``python -m c360.jvm build [--out DIR]`` builds the jar and prints its path (``make package`` uses it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from pyspark.sql import SparkSession

from c360.log import get_logger

log = get_logger(__name__)

SOURCES = Path(__file__).resolve().parent / "resources" / "java"
#: SQL name -> the Java class whose static ``register(session)`` registers it
FUNCTIONS = {"c360_jaro_winkler": "c360.udf.JaroWinklerFunction"}

#: session UUID -> the functions registered in it
_registered: dict[str, set[str]] = {}


class JarBuildError(RuntimeError):
    pass


def _sources() -> list[Path]:
    return sorted(SOURCES.rglob("*.java"))


def _digest() -> str:
    h = hashlib.sha256()
    for p in _sources():
        h.update(p.relative_to(SOURCES).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def cache_dir() -> Path:
    return Path(os.environ.get("C360_CACHE") or Path.home() / ".cache" / "c360")


def _javac() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "javac").exists():
        return str(Path(home) / "bin" / "javac")
    return shutil.which("javac")


def _spark_classpath() -> str:
    """pyspark's own jars (Spark's catalyst and SQL, Scala's library), as javac's wildcard classpath."""
    import pyspark  # noqa: PLC0415

    folder = Path(pyspark.__file__).parent / "jars"
    if not any(folder.glob("spark-catalyst_*.jar")):
        raise JarBuildError(f"no spark-catalyst jar under {folder}")
    return str(folder / "*")


def build(out_dir: Path) -> Path:
    """Compile the sources into ``out_dir/c360-udf-<hash>.jar`` (kept if it exists); raises JarBuildError."""
    out = Path(out_dir) / f"c360-udf-{_digest()}.jar"
    if out.exists():
        return out
    javac = _javac()
    if javac is None:
        raise JarBuildError("javac not found (set JAVA_HOME to a JDK, or put javac on PATH)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [javac, "--release", "17", "-nowarn", "-cp", _spark_classpath(), "-d", tmp, *map(str, _sources())]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise JarBuildError(f"javac failed ({done.returncode}): {done.stderr.strip()[:2000]}")
        partial = out.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: c360\n")
            for cls in sorted(Path(tmp).rglob("*.class")):
                z.write(cls, cls.relative_to(tmp).as_posix())
        partial.replace(out)  # atomic: a concurrent build never sees half a jar
    return out


def udf_jar() -> Path | None:
    """The jar to put on the classpath, or None (with a warning) when there is none and none can be built."""
    try:
        jar = build(cache_dir())
        log.debug("c360's Java functions", jar=str(jar))
        return jar
    except (JarBuildError, OSError) as e:
        log.warning(f"c360's Java functions unavailable, using the Python implementations: {e}")
        return None


def register(spark: SparkSession) -> set[str]:
    """Register :data:`FUNCTIONS` with ``spark``; returns the names registered (none when the class is not on
    the session's classpath)."""
    names: set[str] = set()
    for name, cls in FUNCTIONS.items():
        try:
            target = spark._jvm
            for part in cls.split("."):
                target = getattr(target, part)
            # a class py4j cannot load is a JavaPackage, and calling that raises TypeError
            target.register(spark._jsparkSession)
            names.add(name)
        except Exception as e:  # noqa: BLE001 (py4j's errors, or TypeError for a class not on the classpath)
            log.warning(f"Java function {name} ({cls}) not on the classpath, using the Python implementation",
                        error=str(e).splitlines()[0][:200])
    _registered[_session_key(spark)] = names
    return names


def _session_key(spark: SparkSession) -> str:
    """Functions live in a session's registry: one per session (``spark.newSession()`` starts an empty one)."""
    return spark._jsparkSession.sessionUUID()


def is_known(spark: SparkSession) -> bool:
    """Whether :func:`register` already ran for ``spark``."""
    return _session_key(spark) in _registered


def has_function(name: str) -> bool:
    """Whether the active session has c360's Java function ``name`` registered."""
    active = SparkSession.getActiveSession()
    return active is not None and name in _registered.get(_session_key(active), set())


def main(argv: list[str]) -> int:
    import argparse  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="python -m c360.jvm")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the Java functions' jar and print its path")
    b.add_argument("--out", type=Path, default=None, help="folder (default: the cache, ~/.cache/c360)")
    a = p.parse_args(argv)
    try:
        jar = build(a.out or cache_dir())
    except JarBuildError as e:
        print(f"c360.jvm: {e}", file=sys.stderr)
        return 2
    print(jar)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
