"""Connected components of an undirected graph given as DataFrames, with two backends:

- ``auto`` (default): ``local`` when the graph has at most ``graph.local_max_edges`` edges and
  ``graph.local_max_vertices`` vertices, else ``graphframes``.
- ``local``: the edges are collected to the driver as Arrow columns and labelled with scipy's
  ``connected_components`` (a linear-time graph search). A match graph of millions of records has only as
  many edges as matched pairs, so this fits the driver up to the configured size, and it takes one Spark job
  instead of several per iteration.
- ``graphframes``: GraphFrames' ``connectedComponents`` (the jar from ``graph.graphframes_jar`` or
  ``graph.graphframes_package``), with reliable checkpoints every ``graph.graphframes_checkpoint_interval``
  iterations and the algorithm option ``graph.graphframes_algorithm``.

Both return ``(id, component)`` where ``component`` is the smallest ``id`` of the component (string order),
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


def _graphframes(vertices_df: DataFrame, edges_df: DataFrame, config: GraphConfig) -> DataFrame:
    """GraphFrames' ``connectedComponents`` (its checkpoints go to the SparkContext's checkpoint directory, which
    :func:`c360.session.get_spark` sets under ``<system>/checkpoints``)."""
    spark = edges_df.sparkSession
    if not spark.sparkContext.getCheckpointDir():
        raise C360Error("GraphFrames needs a checkpoint directory (spark.sparkContext.setCheckpointDir)")
    try:
        from graphframes import GraphFrame  # noqa: PLC0415
        edges = edges_df.select("src", "dst").where(F.col("src").isNotNull() & F.col("dst").isNotNull())
        cc = GraphFrame(vertices_df.select("id"), edges).connectedComponents(
            algorithm=config.graphframes_algorithm,
            checkpointInterval=config.graphframes_checkpoint_interval,
            broadcastThreshold=-1,          # joins left to adaptive execution (GraphFrames' recommendation)
            useLabelsAsComponents=True,     # string ids in, string labels out
            # graphx propagates labels one hop an iteration: it stops when nothing changes, and a cap would leave
            # long paths unfinished (two_phase takes no cap)
            max_iter=2**31 - 1)
    except Exception as e:  # py4j errors when the jar is missing
        where = config.graphframes_jar or config.graphframes_package
        raise C360Error(
            f"GraphFrames' connectedComponents failed (is {where} on the classpath? set graph.graphframes_jar or "
            f"graph.graphframes_package, or graph.backend: local): {str(e).splitlines()[0][:300]}") from e
    # one label per component, whatever the algorithm: the smallest member id, like the other backends
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
        backend = "graphframes"
    endpoints = edges_df.select(F.col("src").alias("id")).unionByName(edges_df.select(F.col("dst").alias("id")))
    all_vertices = vertices_df.select("id").unionByName(endpoints).where(F.col("id").isNotNull()).distinct()
    found = _graphframes(all_vertices, edges_df, config)
    extra = [c for c in vertices_df.columns if c != "id"]
    return found.join(vertices_df.where(F.col("id").isNotNull()), "id", "left") if extra else found
