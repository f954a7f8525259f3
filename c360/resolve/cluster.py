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

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from c360.config import ClusterConfig, GraphConfig
from c360.graph import connected_components
from c360.session import empty_frame

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
STAT_NAMES = ("weak_bridges_held_for_review", "core_links", "ambiguous_records", "ambiguous_records_joined_best")


@dataclass
class Settled:
    """One or more neighbourhoods settled: each core's cluster (named by its smallest core), the links
    ``(c1, c2)`` not followed (held for review, or undone by a conflict), and counts for the report."""

    cluster: dict[str, str]
    rejected: list[tuple[str, str]]
    counts: dict[str, int]


def settle_links(links: dict[tuple[str, str], tuple[int, float]], sizes: dict[str, int],
                 conflicts: list[tuple[str, str]], min_bridge_edges: int, margin: float) -> Settled:
    """Steps 2-5 of the module notes over whole neighbourhoods of cores.

    ``links``: ``(c1, c2) -> (weak edges, best weight)`` with ``c1 < c2``; ``sizes``: each touched core's
    vertex count; ``conflicts``: ``(k1, k2)`` pairs of distinct cores with conflicting records."""
    # 2. bridges: a lone record's, or enough agreeing edges
    accepted = {k: min(sizes[k[0]], sizes[k[1]]) == 1 or e >= min_bridge_edges for k, (e, _) in links.items()}
    # 3. a lone record whose partner cores are not all bridged to each other joins only the clearly best
    partners: dict[str, list[tuple[float, str]]] = {}
    for (c1, c2), ok in accepted.items():
        if ok:
            best = links[(c1, c2)][1]
            if sizes[c1] == 1:
                partners.setdefault(c1, []).append((best, c2))
            if sizes[c2] == 1:
                partners.setdefault(c2, []).append((best, c1))
    drop, ambiguous, joined_best = set(), 0, 0
    for s, found in partners.items():
        others = sorted(o for _, o in found)
        if all(accepted.get((x, y), False) for i, x in enumerate(others) for y in others[i + 1:]):
            continue
        ambiguous += 1
        ranked = sorted(found, key=lambda t: (-t[0], t[1]))
        joins = ranked[0][0] - ranked[1][0] >= margin
        joined_best += joins
        drop.update((min(s, o), max(s, o)) for _, o in ranked[1 if joins else 0:])
    for k in drop:
        accepted[k] = False
    # 4. clusters of cores over the accepted bridges, named by their smallest core
    parent = {c: c for c in sizes}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for (c1, c2), ok in accepted.items():
        if ok:
            r1, r2 = root(c1), root(c2)
            if r1 != r2:
                parent[max(r1, r2)] = min(r1, r2)
    cluster = {c: root(c) for c in sizes}
    # 5. a cluster holding conflicting cores is re-assembled without the bridges that join them
    against: dict[str, list[tuple[str, str]]] = {}
    for k1, k2 in conflicts:
        if cluster[k1] == cluster[k2]:
            against.setdefault(cluster[k1], []).append((min(k1, k2), max(k1, k2)))
    undone: list[tuple[str, str]] = []
    split = 0
    if against:
        bridges: dict[str, list[tuple[str, str, float]]] = {}
        for (c1, c2), ok in accepted.items():
            if ok and cluster[c1] in against:
                bridges.setdefault(cluster[c1], []).append((c1, c2, links[(c1, c2)][1]))
        for name, pairs in against.items():
            parts = split_conflicts(bridges.get(name, []), sorted(set(pairs)))
            cluster.update(parts)
            split += len(set(parts.values())) > 1
            undone += [(a, b) for a, b, _ in bridges.get(name, []) if parts[a] != parts[b]]
    held = [k for k, ok in accepted.items() if not ok]
    return Settled(cluster, held + undone, {
        "weak_bridges_held_for_review": len(held), "core_links": len(links), "ambiguous_records": ambiguous,
        "ambiguous_records_joined_best": joined_best, "conflicted_clusters": len(against),
        "conflicted_clusters_split": split, "bridges_undone_by_conflicts": len(undone)})


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


def split_conflicts(bridges: list[tuple[str, str, float]], conflicts: list[tuple[str, str]]) -> dict[str, str]:
    """One cluster's cores re-assembled: ``bridges`` ``(a, b, weight)`` between cores are followed strongest
    first (ties by core ids), skipping any that would put two cores of a ``conflicts`` pair together.
    Returns each core's part, named by its smallest core (the part holding the cluster's smallest core keeps
    the cluster's name: cores and clusters are named by their smallest vertex id)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    members: dict[str, set[str]] = {}
    against: dict[str, set[str]] = {}
    for a, b in conflicts:
        against.setdefault(a, set()).add(b)
        against.setdefault(b, set()).add(a)
    for a, b, _ in bridges:
        for x in (a, b):
            members.setdefault(root(x), {x})
    for a, b, _ in sorted(bridges, key=lambda e: (-e[2], e[0], e[1])):
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        small, large = sorted((members[ra], members[rb]), key=len)
        if any(against.get(x, set()) & large for x in small):
            continue
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        parent[gone] = keep
        members[keep] |= members.pop(gone)
    return {x: min(members[root(x)]) for x in parent}


def _fresh_id(key: F.Column, salt: F.Column | None = None) -> F.Column:
    text = key if salt is None else F.concat_ws("#", key, salt)
    return F.concat(F.lit("C"), F.upper(F.substring(F.sha2(text, 256), 1, 15)))


def assign_ids(clusters: DataFrame, previous: DataFrame | None, history: DataFrame | None,
               run_id: str) -> tuple[DataFrame, DataFrame]:
    """``clusters(id, cluster)`` + ``previous(id, customer_id)`` -> (``(id, customer_id)``, history events).

    ``history`` (``customer_id, event, at``) gives each id's age, to keep the oldest on a merge.
    """
    spark = clusters.sparkSession
    if previous is None:
        previous = empty_frame(spark, "id string, customer_id string")
    members = clusters.select("id", "cluster").join(previous.select("id", F.col("customer_id").alias("prev")), "id", "left")
    # which cluster inherits each earlier id: the one holding most of its records (then the smallest key)
    votes = members.where(F.col("prev").isNotNull()).groupBy("prev", "cluster").agg(F.count(F.lit(1)).alias("n"))
    best = Window.partitionBy("prev").orderBy(F.desc("n"), "cluster")
    claims = votes.withColumn("_r", F.row_number().over(best)).where("_r = 1").select("prev", "cluster")
    if history is not None:
        born = history.where(F.col("event").isin("created", "split")).groupBy("customer_id").agg(
            F.min("at").alias("born"))
        claims = claims.join(born.withColumnRenamed("customer_id", "prev"), "prev", "left")
    else:
        claims = claims.withColumn("born", F.lit(None).cast("timestamp"))
    oldest = Window.partitionBy("cluster").orderBy(F.col("born").asc_nulls_last(), "prev")
    ranked = claims.withColumn("_r", F.row_number().over(oldest))
    kept = ranked.where("_r = 1").select("cluster", F.col("prev").alias("kept"))
    retired = ranked.where("_r > 1").select("cluster", F.col("prev").alias("retired"))
    # clusters without an inherited id: a fresh id from the smallest record key (re-salted on collision)
    all_clusters = clusters.select("cluster").distinct().join(kept, "cluster", "left")
    issued = previous.select("customer_id")
    if history is not None:
        issued = issued.unionByName(history.select("customer_id"))
    issued = issued.distinct().withColumn("_taken", F.lit(True))
    fresh = all_clusters.where(F.col("kept").isNull()).withColumn("customer_id", _fresh_id(F.col("cluster")))
    fresh = (fresh.join(issued, "customer_id", "left")
             .withColumn("customer_id", F.when(F.col("_taken"), _fresh_id(F.col("cluster"), F.lit(run_id)))
                         .otherwise(F.col("customer_id"))).drop("_taken"))
    ids = (all_clusters.where(F.col("kept").isNotNull()).select("cluster", F.col("kept").alias("customer_id"))
           .unionByName(fresh.select("cluster", "customer_id"))).localCheckpoint()
    assigned = clusters.join(ids, "cluster").select("id", "customer_id")
    # history: created (no earlier id among its records), split (records came from an id kept elsewhere),
    # merged (an earlier id retired into this one)
    split_from = (members.where(F.col("prev").isNotNull()).join(fresh.select("cluster"), "cluster")
                  .groupBy("cluster").agg(F.min("prev").alias("related_id")))
    sizes = clusters.groupBy("cluster").agg(F.count(F.lit(1)).alias("record_count"))
    now = F.current_timestamp()
    created = (fresh.select("cluster", "customer_id").join(split_from, "cluster", "left")
               .select("cluster", "customer_id",
                       F.when(F.col("related_id").isNull(), F.lit("created")).otherwise(F.lit("split")).alias("event"),
                       F.coalesce("related_id", F.lit("")).alias("related_id")))
    merged = retired.join(ids, "cluster").select("cluster", "customer_id", F.lit("merged").alias("event"),
                                                 F.col("retired").alias("related_id"))
    events = (created.unionByName(merged).join(sizes, "cluster")
              .select("customer_id", "event", "related_id", F.lit(run_id).alias("run_id"), now.alias("at"),
                      "record_count"))
    return assigned, events
