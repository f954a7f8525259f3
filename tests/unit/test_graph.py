import os
import random

import pyarrow as pa
import pytest

from c360.config import GraphConfig
from c360.graph import component_roots, connected_components
from c360.io.delta import read_table, write_table
from c360.tables import TableSpec


def union_find_components(vertices, edges):
    """Independent reference: plain-Python union-find; component = smallest member id."""
    parent = {v: v for v in vertices}
    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups = {}
    for v in parent:
        groups.setdefault(find(v), []).append(v)
    return {v: min(members) for members in groups.values() for v in members}


def _graphframes_on_classpath(spark) -> bool:
    """Whether the session loads GraphFrames (jars of spark.jars are in the context class loader, not the
    system one that a plain Class.forName asks)."""
    from py4j.java_gateway import JavaClass  # noqa: PLC0415

    return isinstance(spark._jvm.org.graphframes.GraphFrame, JavaClass)


@pytest.fixture
def backend(request, spark):
    """A backend name; GraphFrames must be on the classpath (the test session adds graph.graphframes_jar)."""
    name = request.param
    if name.startswith("graphframes") and not _graphframes_on_classpath(spark):
        message = ("GraphFrames jar not on the classpath: set C360__GRAPH__GRAPHFRAMES_JAR to a GraphFrames "
                   "jar for Spark 4.1 / Scala 2.13")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return name


BACKENDS = ["local", "graphframes:two_phase", "graphframes:graphx"]


def _config(backend: str, **kw) -> GraphConfig:
    name, _, algorithm = backend.partition(":")
    return GraphConfig(backend=name, graphframes_algorithm=algorithm or "two_phase", **kw)


def _run(spark, vertices, edges, backend="local"):
    v = spark.createDataFrame([(x,) for x in vertices], "id string")
    e = spark.createDataFrame(edges or [], "src string, dst string")
    return {r["id"]: r["component"] for r in connected_components(v, e, _config(backend)).collect()}


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_chain_star_isolated_and_self_loop(spark, backend):
    vertices = ["a", "b", "c", "d", "e", "f", "z"]
    # "é" sorts after "z" in code-point (= UTF-8 byte) order, as in Spark's string order
    edges = [("a", "b"), ("c", "b"), ("d", "c"), ("e", "f"), ("f", "f"), ("e", "f"), ("é", "z")]
    got = _run(spark, vertices, edges, backend)
    assert got == union_find_components(vertices, edges)
    assert (got["d"], got["z"], got["é"], got["f"]) == ("a", "z", "z", "e")


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_graphs_match_union_find(spark, seed, backend):
    rng = random.Random(seed)
    vertices = [f"v{i:03d}" for i in range(150)]
    edges = [(rng.choice(vertices), rng.choice(vertices)) for _ in range(110)]
    # a long path stresses the iteration count; ids outside the vertex list become vertices
    edges += [(f"v{i:03d}", f"v{i + 1:03d}") for i in range(120, 149)] + [("w1", "v007"), ("w2", "w3")]
    assert _run(spark, vertices, edges, backend) == union_find_components(vertices, edges)


@pytest.mark.parametrize("backend", ["graphframes:graphx"], indirect=True)
def test_auto_backend_agrees_on_both_sides_of_its_limits(spark, backend, monkeypatch):
    """``auto``: local up to both limits, GraphFrames beyond either."""
    import c360.graph as G

    vertices = [f"v{i}" for i in range(40)]
    edges = [(f"v{i}", f"v{(i * 11) % 40}") for i in range(0, 40, 4)]
    v = spark.createDataFrame([(x,) for x in vertices], "id string")
    e = spark.createDataFrame(edges, "src string, dst string")
    expected = union_find_components(vertices, edges)
    ran = []
    real = G._graphframes
    monkeypatch.setattr(G, "_graphframes", lambda *a: ran.append("graphframes") or real(*a))
    for max_edges, max_vertices, used in ((0, 40, "graphframes"), (len(edges) - 1, 40, "graphframes"),
                                          (len(edges), 40, "local"), (len(edges), 39, "graphframes")):
        ran.clear()
        config = GraphConfig(backend="auto", local_max_edges=max_edges, local_max_vertices=max_vertices)
        got = connected_components(v, e, config).collect()
        assert {r["id"]: r["component"] for r in got} == expected
        assert (ran or ["local"]) == [used], (max_edges, max_vertices)


def test_component_roots_with_repeated_edges_and_byte_order():
    # 256 copies of one edge (a counter of repeats in one byte would wrap to zero), and ids whose order differs
    # between byte order ("Z" < "a" < "é") and case-insensitive order
    src = pa.array(["b"] * 256 + ["c", "é", "Z"])
    dst = pa.array(["a"] * 256 + ["d", "a", "é"])
    ids, roots = component_roots(src, dst)
    got = dict(zip(ids.to_pylist(), roots.to_pylist(), strict=True))
    assert got == union_find_components([], list(zip(src.to_pylist(), dst.to_pylist(), strict=True)))
    assert got == {"Z": "Z", "a": "Z", "b": "Z", "é": "Z", "c": "c", "d": "c"}


def test_local_backend_with_no_edges(spark):
    assert _run(spark, ["b", "a"], [], "local") == {"a": "a", "b": "b"}


def test_local_backend_vertex_list_with_repeats_and_null(spark):
    v = spark.createDataFrame([("b",), ("a",), ("a",), (None,), ("c",)], "id string")
    e = spark.createDataFrame([("c", "b"), ("d", "c")], "src string, dst string")
    got = sorted(tuple(r) for r in connected_components(v, e, GraphConfig(backend="local")).collect())
    assert got == [("a", "a"), ("b", "b"), ("c", "b"), ("d", "b")]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_vertex_columns_are_kept(spark, backend):
    """Other vertex columns come back beside the component (null for an endpoint that is no vertex)."""
    v = spark.createDataFrame([("b", True, 2), ("a", False, None), ("c", True, 3)], "id string, is_record boolean, n int")
    e = spark.createDataFrame([("c", "b"), ("d", "c")], "src string, dst string")
    got = sorted(tuple(r) for r in connected_components(v, e, _config(backend))
                 .select("id", "component", "is_record", "n").collect())
    assert got == [("a", "a", False, None), ("b", "b", True, 2), ("c", "b", True, 3), ("d", "b", None, None)]


def test_components_round_trip_through_delta(spark, cfg):
    """Delta + graph smoke test: components written to a Delta table and read back by name."""
    spec = TableSpec("silver", "cc_smoke", ("id",), {"id": "string", "component": "string"}, "test", "smoke")
    v = spark.createDataFrame([("a",), ("b",), ("c",)], "id string")
    e = spark.createDataFrame([("a", "b")], "src string, dst string")
    write_table(spark, cfg, spec, connected_components(v, e, cfg.graph))
    back = {r["id"]: r["component"] for r in read_table(spark, cfg, spec).collect()}
    assert back == {"a": "a", "b": "a", "c": "c"}
    assert spark.table("silver.cc_smoke").count() == 3
