"""Match edges -> clusters, guarded against over-merging, -> stable ``customer_id``.

Clustering (:func:`guarded_clusters`):

1. *Cores*: connected components of the strong edges (probability >= ``cluster.strong_probability``,
   deterministic links and cookie logins).
2. *Bridges*: weaker match edges join two cores when either core is a single record, or when at least
   ``cluster.min_bridge_edges`` edges agree. A single weak edge between two groups (the classic transitive
   over-merge) is not followed; its edges are marked ``review``.
3. *Ambiguous records*: a lone record whose accepted bridges lead to two or more cores that are not
   bridged to each other (a "James Smith, 2000" loyalty card next to two different James Smiths of that
   postcode) would merge them through itself. It joins only the core it matches best, and only when that
   bridge's weight beats the runner-up's by ``cluster.ambiguity_margin`` bits; otherwise it stays on its
   own. Its other bridges are marked ``review``.
4. Connected components of cores over the accepted bridges. Steps 2-5 look only at the cores a weak edge
   touches (a small share of them), one *neighbourhood* at a time (cores linked by weak edges, directly or
   through other cores: no decision reaches beyond one), in Python (:func:`settle_links`: on the driver
   when the core links fit ``graph.local_max_edges``, else ``mapInPandas`` over the neighbourhoods); every
   other core is a cluster of its own.
5. *Conflicts*: two records with strong evidence against each other (a ``cannot_link`` decision, or a
   match weight at or below ``cluster.conflict_weight``) that end up in one cluster through bridges (a
   chain of namesakes, two households joined by loyalty cards with only a name and a postcode) split it:
   the cluster is re-assembled from its cores, following its accepted bridges strongest first and
   skipping any bridge that would join two conflicting records (:func:`split_conflicts`). Skipped bridges
   are marked ``review``. A conflict inside one core is only counted.
6. A cluster with more person records than ``cluster.max_cluster_size`` (raised to ``cluster_size_skew``
   times the 99th percentile core size where the data's cores are that large: :func:`cluster_cap`) falls
   back to its cores, flagged ``oversized``.

Stable ids (:func:`assign_ids`): a cluster keeps the id most of its records had before; when it holds
records of several earlier customers (a merge) it keeps the id of the oldest and the others are retired;
a part split off an earlier customer, or a cluster of new records, gets a fresh id derived from its
smallest record key. Every created, merged and split id is written to ``silver.customer_id_history``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config import ClusterConfig, GraphConfig
from c360.frames import empty_frame
from c360.graph import connected_components
from c360.resolve.guard import STAT_NAMES, settle_links

#: the conflict counts of the run report (step 5) when there is nothing to split
NO_CONFLICTS = {"conflicted_clusters": 0, "conflicted_clusters_split": 0, "bridges_undone_by_conflicts": 0,
                "conflicts_inside_cores": 0}


def guarded_clusters(vertices: DataFrame, strong: DataFrame, weak: DataFrame, cfg: ClusterConfig,
                     graph: GraphConfig, conflicts: DataFrame | None = None) -> tuple[DataFrame, DataFrame, dict]:
    """``vertices(id, is_record)``, ``strong(src, dst)``, ``weak(src, dst, weight)`` (weight: the edge's match
    weight), ``conflicts(src, dst)`` (records with strong evidence against each other) -> (``(id, cluster,
    cluster_status)``, rejected weak edges ``(src, dst)``, report).

    Only the cores a weak edge touches can merge. Steps 2-5 are decisions about a neighbourhood of cores
    (the cores linked by weak edges, directly or through others), so each neighbourhood is settled whole,
    in Python, by :func:`settle_links` (:func:`_settle`: on the driver, or ``mapInPandas`` over the
    neighbourhoods); every other core is a cluster of its own."""
    cores = (connected_components(vertices.select("id", "is_record"), strong, graph)
             .withColumnRenamed("component", "core").fillna({"is_record": True}).localCheckpoint())
    core_of = cores.select("id", "core")
    # the weak edges and the conflicts with both ends' cores, in one pass
    marked = weak.select("src", "dst", "weight", F.lit(True).alias("is_weak"))
    if conflicts is not None:
        marked = marked.unionByName(conflicts.select("src", "dst", F.lit(None).cast("double").alias("weight"),
                                                     F.lit(False).alias("is_weak")))
    ends = (marked.join(core_of.withColumnRenamed("id", "src").withColumnRenamed("core", "ca"), "src")
            .join(core_of.withColumnRenamed("id", "dst").withColumnRenamed("core", "cb"), "dst")
            .localCheckpoint())
    w = (ends.where(F.col("is_weak") & (F.col("ca") != F.col("cb")))
         .select("src", "dst", "weight", F.least("ca", "cb").alias("c1"), F.greatest("ca", "cb").alias("c2")))
    links = (w.groupBy("c1", "c2").agg(F.count(F.lit(1)).alias("edges"), F.max("weight").alias("best"))
             .localCheckpoint())
    # neighbourhoods: the touched cores connected through weak edges
    hood = connected_components(links.select(F.col("c1").alias("id")).unionByName(links.select(F.col("c2").alias("id"))),
                                links.select(F.col("c1").alias("src"), F.col("c2").alias("dst")), graph)
    hood = hood.select(F.col("id").alias("core"), F.col("component").alias("hood"))
    sizes = cores.join(hood, "core").groupBy("hood", "core").agg(F.count(F.lit(1)).alias("n"))
    rows = (links.join(hood.withColumnRenamed("core", "c1"), "c1")
            .select("hood", F.lit("link").alias("kind"), F.col("c1").alias("a"), F.col("c2").alias("b"),
                    F.col("edges").alias("n"), F.col("best").alias("x"))
            .unionByName(sizes.select("hood", F.lit("size").alias("kind"), F.col("core").alias("a"),
                                      F.lit(None).cast("string").alias("b"), "n",
                                      F.lit(None).cast("double").alias("x"))))
    inside = None
    if conflicts is not None:
        against = ends.where(~F.col("is_weak"))
        # a conflict between two cores matters only inside one neighbourhood; one inside a core is counted
        h1 = hood.select(F.col("core").alias("ca"), F.col("hood"))
        h2 = hood.select(F.col("core").alias("cb"), F.col("hood").alias("_h2"))
        rows = rows.unionByName(
            against.where(F.col("ca") != F.col("cb")).join(h1, "ca").join(h2, "cb").where(F.col("hood") == F.col("_h2"))
            .select("hood", F.lit("conflict").alias("kind"), F.col("ca").alias("a"), F.col("cb").alias("b"),
                    F.lit(None).cast("long").alias("n"), F.lit(None).cast("double").alias("x")))
        inside = against.where(F.col("ca") == F.col("cb")).select("ca").distinct().count()
    settled = _settle(rows, links, cfg, graph)
    # only the touched cores (a small share) are re-named: broadcast, so the vertices are not shuffled
    merged = settled.where("kind = 'cluster'").select(F.col("a").alias("core"), F.col("b").alias("cluster"))
    rejected = w.join(settled.where("kind = 'rejected'").select(F.col("a").alias("c1"), F.col("b").alias("c2")),
                      ["c1", "c2"]).select("src", "dst")
    out = (cores.join(F.broadcast(merged), "core", "left")
           .withColumn("cluster", F.coalesce("cluster", "core")))
    # clusters over the configured size (few, usually none) are collected; only then is the cap raised from the
    # data's cores (one more query), so the common case costs one small aggregate
    big = {r["cluster"]: r["records"] for r in out.where("is_record").groupBy("cluster")
           .agg(F.count(F.lit(1)).alias("records")).where(F.col("records") > cfg.max_cluster_size).collect()}
    max_size = cluster_cap(cores, cfg) if big else cfg.max_cluster_size
    oversized = sorted(c for c, n in big.items() if n > max_size)
    out = (out.withColumn("oversized", F.col("cluster").isin(oversized) if oversized else F.lit(False))
           .withColumn("cluster_status", F.when(F.col("oversized"), F.lit("oversized")).otherwise(F.lit("ok")))
           .withColumn("cluster", F.when(F.col("oversized"), F.col("core")).otherwise(F.col("cluster")))
           .select("id", "cluster", "cluster_status", "is_record")).localCheckpoint()
    counts = {r["a"]: int(r["n"]) for r in settled.where("kind = 'stat'").groupBy("a").agg(F.sum("n").alias("n"))
              .collect()}
    report = {**{k: counts.get(k, 0) for k in STAT_NAMES}, **NO_CONFLICTS}
    if conflicts is not None:
        report.update({k: counts.get(k, 0) for k in NO_CONFLICTS}, conflicts_inside_cores=inside)
    # the parts flagged oversized (each oversized cluster falls back to its cores)
    report["oversized_clusters"] = (out.where("cluster_status = 'oversized'").select("cluster").distinct().count()
                                    if oversized else 0)
    report["max_cluster_size"] = max_size
    return out, rejected, report


def cluster_cap(cores: DataFrame, cfg: ClusterConfig) -> int:
    """The largest cluster not flagged ``oversized``: ``max_cluster_size``, raised to ``cluster_size_skew``
    times the 99th percentile size of the cores of two or more records where the data's strong evidence alone
    makes clusters that large (a person written hundreds of times)."""
    if not cfg.cluster_size_skew:
        return cfg.max_cluster_size
    p99 = (cores.where("is_record").groupBy("core").agg(F.count(F.lit(1)).alias("n")).where("n > 1")
           .agg(F.percentile_approx("n", 0.99).alias("p99")).first()["p99"])
    return max(cfg.max_cluster_size, int(cfg.cluster_size_skew * (p99 or 0)))


#: the counts :func:`settle_links` reports besides the conflict counts
SETTLED = "kind string, a string, b string, n long"


def _settle(rows: DataFrame, links: DataFrame, cfg: ClusterConfig, graph: GraphConfig) -> DataFrame:
    """The neighbourhoods' ``rows`` settled: on the driver (one collect, no Python task) when the graph backend
    is ``auto`` or ``local`` and there are at most ``graph.local_max_edges`` core links, else by
    ``mapInPandas`` over the neighbourhoods, spread by their id. The same rows come out either way."""
    settle = lambda it: _settle_partitions(it, cfg.min_bridge_edges, cfg.ambiguity_margin)  # noqa: E731
    spark = rows.sparkSession
    if graph.backend in ("auto", "local") and links.count() <= graph.local_max_edges:
        out = list(settle([rows.toArrow().to_pandas()]))
        return spark.createDataFrame(out[0], SETTLED) if out else empty_frame(spark, SETTLED)
    return rows.repartition("hood").mapInPandas(settle, SETTLED).localCheckpoint()


def _settle_partitions(batches, min_bridge_edges: int, margin: float):
    """``mapInPandas`` adapter of :func:`settle_links`: a partition's rows (whole neighbourhoods: ``link``,
    ``size`` and ``conflict`` rows) -> ``cluster``, ``rejected`` and ``stat`` rows."""
    import pandas as pd  # noqa: PLC0415 (imported on the executors)

    batches = list(batches)
    if not batches:
        return
    df = pd.concat(batches, ignore_index=True)
    kind = df["kind"]
    lk, sz, cf = df[kind == "link"], df[kind == "size"], df[kind == "conflict"]
    done = settle_links({(a, b): (int(n), float(x)) for a, b, n, x in zip(lk["a"], lk["b"], lk["n"], lk["x"],
                                                                           strict=True)},
                        {a: int(n) for a, n in zip(sz["a"], sz["n"], strict=True)},
                        list(zip(cf["a"], cf["b"], strict=True)), min_bridge_edges, margin)
    rows = ([("cluster", c, k, None) for c, k in done.cluster.items()]
            + [("rejected", a, b, None) for a, b in done.rejected]
            + [("stat", name, None, n) for name, n in done.counts.items()])
    kind, a, b, n = (list(x) for x in zip(*rows, strict=True))
    yield pd.DataFrame({"kind": kind, "a": a, "b": b, "n": pd.array(n, dtype="Int64")})


