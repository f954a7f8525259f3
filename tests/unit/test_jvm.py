"""c360's Java functions (c360/jvm.py): built, registered with the test session, and equal to the Python ones."""

from __future__ import annotations

import random
import string

import pytest
from pyspark.sql import functions as F
from rapidfuzz.distance import JaroWinkler

from c360 import jvm
from c360.frames import sql_conf
from c360.resolve.comparisons import JW_FUNCTION, jaro_winkler, jaro_winkler_py


def test_session_has_the_java_jaro_winkler(spark):
    # the test machine has a JDK (CI too): the jar must build and register, not silently fall back
    assert jvm.has_function(JW_FUNCTION)
    plan = spark.range(1).select(jaro_winkler(F.col("id").cast("string"), F.lit("marhta")).alias("x"))
    executed = plan._jdf.queryExecution().executedPlan().toString()
    # a built-in expression: a static Java call in Spark's generated code, no UDF of any kind
    assert "static_invoke(c360.udf.JaroWinklerFunction.similarity(" in executed, executed
    assert "EvalPython" not in executed and "UDF" not in executed, executed


def _pairs() -> list[tuple[str | None, str | None]]:
    rnd = random.Random(7)
    pairs = [("martha", "marhta"), ("dwayne", "duane"), ("dixon", "dicksonx"), ("", ""), ("a", ""),
             (None, "x"), ("x", None), (None, None), ("jones", "jones"), ("crate", "trace"),
             ("zoë", "zoe"), ("名字", "名子"), ("a\U0001F600b", "a\U0001F600c"), ("ab", "ba")]
    for _ in range(3000):
        alphabet = rnd.choice(["abc", "abcde", string.ascii_lowercase, "aéö中"])
        s = "".join(rnd.choices(alphabet, k=rnd.randint(0, 12)))
        t = "".join(rnd.choices(alphabet, k=rnd.randint(0, 12)))
        if rnd.random() < 0.4:  # a near copy: prefix kept, a letter changed
            t = s[: rnd.randint(0, len(s))] + t[:2]
        pairs.append((s, t))
    return pairs


def test_java_jaro_winkler_equals_rapidfuzz(spark):
    pairs = _pairs()
    df = spark.createDataFrame(pairs, "a string, b string")
    rows = df.select("a", "b", F.call_function(JW_FUNCTION, "a", "b").alias("raw"),
                     jaro_winkler(F.col("a"), F.col("b")).alias("jv"),
                     jaro_winkler_py(F.col("a"), F.col("b")).alias("py")).collect()
    assert len(rows) == len(pairs)
    for r in rows:
        # the independent implementation: rapidfuzz directly (0 for a null)
        expected = 0.0 if r["a"] is None or r["b"] is None else JaroWinkler.similarity(r["a"], r["b"])
        assert r["jv"] == expected, (r["a"], r["b"], r["jv"], expected)  # bit for bit: levels are thresholds
        assert r["py"] == expected, (r["a"], r["b"], r["py"], expected)
        # the SQL function itself is null on a null, like Spark's string functions
        assert r["raw"] == (None if r["a"] is None or r["b"] is None else expected)
    assert {round(r["jv"], 4) for r in rows if (r["a"], r["b"]) == ("martha", "marhta")} == {0.9611}


def test_java_jaro_winkler_interpreted_and_in_sql(spark):
    # without code generation Spark evaluates the expression itself (by reflection): the same values
    pairs = _pairs()[:300]
    df = spark.createDataFrame(pairs, "a string, b string")
    expected = [0.0 if a is None or b is None else JaroWinkler.similarity(a, b) for a, b in pairs]
    with sql_conf(spark, {"spark.sql.codegen.factoryMode": "NO_CODEGEN", "spark.sql.codegen.wholeStage": "false"}):
        got = [r[0] for r in df.select(jaro_winkler(F.col("a"), F.col("b"))).collect()]
    assert got == expected
    # SQL: arguments cast to strings by the analyser; a wrong arity names the function
    assert spark.sql("select c360_jaro_winkler(12345, '12354') as x").first()["x"] == \
        JaroWinkler.similarity("12345", "12354")
    with pytest.raises(Exception, match="c360_jaro_winkler takes 2 arguments"):
        spark.sql("select c360_jaro_winkler('a')").collect()


def test_functions_are_per_session(spark, cfg):
    # a new session has an empty function registry: c360 registers its functions there too, on first use
    from c360.session import _udfs  # noqa: PLC0415

    other = spark.newSession()
    assert jvm.is_known(spark) and not jvm.is_known(other)
    _udfs(other, cfg)
    assert jvm.is_known(other)
    assert other.sql("select c360_jaro_winkler('martha', 'marhta') as x").first()["x"] == \
        JaroWinkler.similarity("martha", "marhta")


def test_build_without_javac_fails_clearly_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(jvm, "_javac", lambda: None)
    monkeypatch.setenv("C360_CACHE", str(tmp_path))
    with pytest.raises(jvm.JarBuildError, match="javac not found"):
        jvm.build(tmp_path)
    assert jvm.udf_jar() is None  # the session then keeps the Python implementation


def test_build_reports_compiler_errors(monkeypatch, tmp_path):
    src = tmp_path / "src" / "c360" / "udf"
    src.mkdir(parents=True)
    (src / "Broken.java").write_text("package c360.udf; public class Broken { int x = ; }\n")
    monkeypatch.setattr(jvm, "SOURCES", tmp_path / "src")
    with pytest.raises(jvm.JarBuildError, match="javac failed.*Broken.java"):
        jvm.build(tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.jar"))


def test_build_is_cached_by_source_hash(tmp_path):
    first = jvm.build(tmp_path)
    stamp = first.stat().st_mtime_ns
    assert jvm.build(tmp_path) == first and first.stat().st_mtime_ns == stamp
    assert first.name == f"c360-udf-{jvm._digest()}.jar"
