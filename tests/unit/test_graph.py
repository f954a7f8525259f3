import random

import pytest

from c360.config import GraphConfig
from c360.graph import connected_components
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


def _run(spark, vertices, edges, backend="native"):
    v = spark.createDataFrame([(x,) for x in vertices], "id string")
    e = spark.createDataFrame(edges or [], "src string, dst string")
    return {r["id"]: r["component"] for r in connected_components(v, e, GraphConfig(backend=backend)).collect()}


def test_chain_star_isolated_and_self_loop(spark):
    vertices = ["a", "b", "c", "d", "e", "f", "z"]
    edges = [("a", "b"), ("c", "b"), ("d", "c"), ("e", "f"), ("f", "f"), ("e", "f")]
    assert _run(spark, vertices, edges) == union_find_components(vertices, edges)
    assert _run(spark, vertices, edges)["d"] == "a"
    assert _run(spark, vertices, edges)["z"] == "z"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_graphs_match_union_find(spark, seed):
    rng = random.Random(seed)
    vertices = [f"v{i:03d}" for i in range(150)]
    edges = [(rng.choice(vertices), rng.choice(vertices)) for _ in range(110)]
    # a long path stresses the iteration count
    edges += [(f"v{i:03d}", f"v{i + 1:03d}") for i in range(120, 149)]
    assert _run(spark, vertices, edges) == union_find_components(vertices, edges)


def _graphframes_on_classpath(spark) -> bool:
    try:
        spark._jvm.java.lang.Class.forName("org.graphframes.GraphFrame")
        return True
    except Exception:
        return False


def test_graphframes_backend_agrees_with_native(spark):
    if not _graphframes_on_classpath(spark):
        pytest.skip("GraphFrames jar not on the classpath (graph.backend: graphframes adds it; see README)")
    vertices = [f"v{i}" for i in range(30)]
    edges = [(f"v{i}", f"v{(i * 7) % 30}") for i in range(0, 30, 3)]
    assert _run(spark, vertices, edges, "graphframes") == _run(spark, vertices, edges, "native")


def test_components_round_trip_through_delta(spark, cfg):
    """Delta + graph smoke test: components written to a Delta table and read back by name."""
    spec = TableSpec("silver", "cc_smoke", ("id",), {"id": "string", "component": "string"}, "test", "smoke")
    v = spark.createDataFrame([("a",), ("b",), ("c",)], "id string")
    e = spark.createDataFrame([("a", "b")], "src string, dst string")
    write_table(spark, cfg, spec, connected_components(v, e, cfg.graph))
    back = {r["id"]: r["component"] for r in read_table(spark, cfg, spec).collect()}
    assert back == {"a": "a", "b": "a", "c": "c"}
    assert spark.table("silver.cc_smoke").count() == 3
