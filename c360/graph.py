"""Connected components of an undirected graph given as DataFrames, with interchangeable backends:

- ``auto`` (default): ``local`` when the graph has at most ``graph.local_max_edges`` edges and
  ``graph.local_max_vertices`` vertices, else ``native``.
- ``local``: the edges are collected to the driver as Arrow columns and labelled with scipy's
  ``connected_components`` (a linear-time graph search). A match graph of millions of records has only as
  many edges as matched pairs, so this fits the driver up to the configured size, and it takes one Spark job
  instead of several per iteration.
- ``graphframes``: ``GraphFrame.connectedComponents`` (needs the GraphFrames jar on the classpath).
- ``native``: the alternating large-star / small-star algorithm of Kiveris et al., "Connected Components in
  MapReduce and Beyond" (SoCC 2014) — the same family GraphFrames uses — written with DataFrame operations
  only, so it runs wherever Spark does.

All return ``(id, component)`` where ``component`` is the smallest ``id`` of the component (string order),
so results do not depend on the backend.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import GraphConfig
from c360.errors import C360Error
from c360.log import get_logger

log = get_logger(__name__)


def _oriented(edges_df: DataFrame) -> DataFrame:
    """Undirected edges as (hi, lo) with hi > lo, without self loops or duplicates."""
    return (edges_df
            .select(F.greatest("src", "dst").alias("hi"), F.least("src", "dst").alias("lo"))
            .where(F.col("hi") != F.col("lo"))
            .distinct())


def _large_star(e: DataFrame) -> DataFrame:
    """For every node u: link each strictly larger neighbour to the smallest of u's closed neighbourhood."""
    sym = e.select(F.col("hi").alias("u"), F.col("lo").alias("v")).unionByName(
        e.select(F.col("lo").alias("u"), F.col("hi").alias("v")))
    mins = sym.groupBy("u").agg(F.min("v").alias("mv")).select("u", F.least("mv", "u").alias("m"))
    return (sym.where(F.col("v") > F.col("u")).join(mins, "u")
            .select(F.col("v").alias("hi"), F.col("m").alias("lo")).distinct())


def _small_star(e: DataFrame) -> DataFrame:
    """For every node u: link u and each smaller neighbour to the smallest of them."""
    mins = e.groupBy("hi").agg(F.min("lo").alias("m"))
    joined = e.join(mins, "hi")
    neighbours = joined.where(F.col("lo") != F.col("m")).select(F.col("lo").alias("hi"), F.col("m").alias("lo"))
    selves = mins.select(F.col("hi"), F.col("m").alias("lo"))
    return neighbours.unionByName(selves).distinct()


def _fingerprint(e: DataFrame) -> tuple[int, int]:
    row = e.select(F.count(F.lit(1)).alias("n"),
                   F.coalesce(F.bit_xor(F.xxhash64("hi", "lo")), F.lit(0)).alias("h")).first()
    return int(row["n"]), int(row["h"])


def _native(vertices_df: DataFrame, edges_df: DataFrame, max_iterations: int) -> DataFrame:
    e = _oriented(edges_df).localCheckpoint()
    before = _fingerprint(e)
    for i in range(1, max_iterations + 1):
        e = _small_star(_large_star(e)).localCheckpoint()
        after = _fingerprint(e)
        if after == before:
            log.debug("connected components converged", iterations=i)
            break
        before = after
    else:
        raise C360Error(f"connected components did not converge in {max_iterations} iterations "
                        "(raise graph.max_iterations in conf)")
    # at convergence every edge is (node, root of its component)
    return (vertices_df.select("id").distinct()
            .join(e.select(F.col("hi").alias("id"), F.col("lo").alias("root")), "id", "left")
            .select("id", F.coalesce("root", "id").alias("component")))


def _graphframes(vertices_df: DataFrame, edges_df: DataFrame, max_iterations: int) -> DataFrame:
    try:
        from graphframes import GraphFrame  # noqa: PLC0415
        cc = GraphFrame(vertices_df.select("id").distinct(), edges_df.select("src", "dst")) \
            .connectedComponents(maxIter=max_iterations)
    except Exception as e:  # py4j errors when the jar is missing
        raise C360Error(
            "graph.backend is 'graphframes' but GraphFrames failed (is graph.graphframes_package resolvable "
            f"from your Maven repositories?): {str(e).splitlines()[0]}") from e
    # normalise the component label to the smallest member id, like the native backend
    return (cc.groupBy("component").agg(F.min("id").alias("root"))
            .join(cc, "component").select("id", F.col("root").alias("component")))


def component_roots(src: pa.Array, dst: pa.Array, vertices: pa.Array | None = None) -> tuple[pa.Array, pa.Array]:
    """Edge endpoints (and ``vertices``, which may have no edge) -> ``(id, root)`` for every distinct id,
    ``root`` the smallest id of its component."""
    from scipy.sparse import coo_matrix  # noqa: PLC0415
    from scipy.sparse.csgraph import connected_components as scipy_components  # noqa: PLC0415

    ends = pa.chunked_array([*pa.chunked_array(src).chunks, *pa.chunked_array(dst).chunks], pa.string())
    every = ends if vertices is None else pa.chunked_array([*ends.chunks, *pa.chunked_array(vertices).chunks],
                                                           pa.string())
    ids = pc.unique(every)
    ids = ids.take(pc.sort_indices(ids))  # index order = string order
    n, m = len(ids), len(src)
    pos = pc.index_in(ends, value_set=ids).to_numpy(zero_copy_only=False).astype(np.int64)
    graph = coo_matrix((np.ones(m, dtype=bool), (pos[:m], pos[m:])), shape=(n, n))  # repeated edges OR, never wrap
    _, label = scipy_components(graph, directed=False)
    root = np.full(label.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(root, label, np.arange(n))
    return ids, ids.take(pa.array(root[label]))


def _local(vertices_df: DataFrame, edges_df: DataFrame, max_vertices: int | None = None) -> DataFrame | None:
    """Everything on the driver: the vertices and the edges collected as Arrow columns, one table back (with
    the vertices' other columns, looked up by id: no join). ``None`` when there are more than
    ``max_vertices`` vertex rows (nothing else is collected then)."""
    spark = edges_df.sparkSession
    extra = [c for c in vertices_df.columns if c != "id"]
    vertex_rows = vertices_df.select(F.col("id").cast("string"), *extra).where(F.col("id").isNotNull())
    if max_vertices is not None:
        vertex_rows = vertex_rows.limit(max_vertices + 1)
    table = vertex_rows.toArrow()
    vertices = table.column("id")
    if max_vertices is not None and len(vertices) > max_vertices:
        return None
    edges = edges_df.select(F.col("src").cast("string"), F.col("dst").cast("string")).where(
        F.col("src").isNotNull() & F.col("dst").isNotNull()).toArrow()
    ids, roots = component_roots(edges.column("src"), edges.column("dst"), vertices)
    out = {"id": ids, "component": roots}
    if extra:
        at = pc.index_in(ids, value_set=vertices.combine_chunks())   # null: an edge endpoint that is not in vertices_df
        out.update({c: table.column(c).combine_chunks().take(at) for c in extra})
    schema = vertices_df.select(*extra).schema
    return spark.createDataFrame(pa.table(out), "id string, component string" + "".join(
        f", `{f.name}` {f.dataType.simpleString()}" for f in schema.fields))


def connected_components(vertices_df: DataFrame, edges_df: DataFrame, config: GraphConfig) -> DataFrame:
    """``vertices_df(id, ...)`` and ``edges_df(src, dst)`` (string ids) -> ``(id, component, ...)``.

    Edge endpoints missing from ``vertices_df`` are added as vertices; a null id is not a vertex. Other
    columns of ``vertices_df`` are kept (null for an endpoint that is not in it); its ids must then be
    distinct. With ``auto``, pass checkpointed edges: they are counted to choose the backend.
    """
    backend = config.backend
    if backend == "local":
        return _local(vertices_df, edges_df)
    if backend == "auto":
        small = edges_df.count() <= config.local_max_edges
        found = _local(vertices_df, edges_df, config.local_max_vertices) if small else None
        if found is not None:
            return found
        backend = "native"
    endpoints = edges_df.select(F.col("src").alias("id")).unionByName(edges_df.select(F.col("dst").alias("id")))
    all_vertices = vertices_df.select("id").unionByName(endpoints).where(F.col("id").isNotNull()).distinct()
    found = (_graphframes if backend == "graphframes" else _native)(all_vertices, edges_df, config.max_iterations)
    extra = [c for c in vertices_df.columns if c != "id"]
    return found.join(vertices_df.where(F.col("id").isNotNull()), "id", "left") if extra else found
