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
   touches (a small share of them); every other core is a cluster of its own.
5. *Conflicts*: two records with strong evidence against each other (a ``cannot_link`` decision, or a
   match weight at or below ``cluster.conflict_weight``) that end up in one cluster through bridges (a
   chain of namesakes, two households joined by loyalty cards with only a name and a postcode) split it:
   the cluster is re-assembled from its cores, following its accepted bridges strongest first and
   skipping any bridge that would join two conflicting records (:func:`split_conflicts`, per cluster in
   ``applyInPandas``). Skipped bridges are marked ``review``. A conflict inside one core is only counted.
6. A cluster with more person records than ``cluster.max_cluster_size`` falls back to its cores, flagged
   ``oversized``.

Stable ids (:func:`assign_ids`): a cluster keeps the id most of its records had before; when it holds
records of several earlier customers (a merge) it keeps the id of the oldest and the others are retired;
a part split off an earlier customer, or a cluster of new records, gets a fresh id derived from its
smallest record key. Every created, merged and split id is written to ``silver.customer_id_history``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from c360.config import ClusterConfig, GraphConfig
from c360.graph import connected_components

if TYPE_CHECKING:
    import pandas as pd

#: the conflict counts of the run report (step 5) when there is nothing to split
NO_CONFLICTS = {"conflicted_clusters": 0, "conflicted_clusters_split": 0, "bridges_undone_by_conflicts": 0,
                "conflicts_inside_cores": 0}


def guarded_clusters(vertices: DataFrame, strong: DataFrame, weak: DataFrame, cfg: ClusterConfig,
                     graph: GraphConfig, conflicts: DataFrame | None = None) -> tuple[DataFrame, DataFrame, dict]:
    """``vertices(id, is_record)``, ``strong(src, dst)``, ``weak(src, dst, weight)`` (weight: the edge's match
    weight), ``conflicts(src, dst)`` (records with strong evidence against each other) -> (``(id, cluster,
    cluster_status)``, rejected weak edges ``(src, dst)``, report).

    Only the cores a weak edge touches can merge: steps 2-5 run on those (``touched``), and every other core
    is its own cluster."""
    cores = connected_components(vertices.select("id"), strong, graph).withColumnRenamed("component", "core")
    cores = cores.join(vertices, "id", "left").fillna({"is_record": True}).localCheckpoint()
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
    bridged = w.groupBy("c1", "c2").agg(F.count(F.lit(1)).alias("edges"), F.max("weight").alias("best"))
    touched = bridged.select(F.col("c1").alias("core")).unionByName(bridged.select(F.col("c2").alias("core")))
    core_size = (cores.join(touched.distinct(), "core").groupBy("core").agg(F.count(F.lit(1)).alias("n"))
                 .localCheckpoint())
    links = (bridged.join(core_size.withColumnRenamed("core", "c1").withColumnRenamed("n", "n1"), "c1")
             .join(core_size.withColumnRenamed("core", "c2").withColumnRenamed("n", "n2"), "c2")
             .withColumn("accepted", (F.least("n1", "n2") == 1) | (F.col("edges") >= cfg.min_bridge_edges))
             .localCheckpoint())
    links, ambiguous = _settle_ambiguous(links, cfg.ambiguity_margin)
    links = links.localCheckpoint()
    rejected = w.join(links.where(~F.col("accepted")).select("c1", "c2"), ["c1", "c2"]).select("src", "dst")
    accepted = links.where("accepted").select(F.col("c1").alias("src"), F.col("c2").alias("dst"))
    # the touched cores' clusters; an untouched core is a cluster of its own
    merged = connected_components(core_size.select(F.col("core").alias("id")), accepted, graph)
    merged = merged.select(F.col("id").alias("core"), F.col("component").alias("cluster")).localCheckpoint()
    conflict_report = dict(NO_CONFLICTS)
    if conflicts is not None:
        against = ends.where(~F.col("is_weak")).select(F.col("ca").alias("k1"), F.col("cb").alias("k2"))
        merged, undone, conflict_report = _split_conflicted(merged, links, against)
        rejected = rejected.unionByName(w.join(undone, ["c1", "c2"]).select("src", "dst"))
    out = (cores.join(merged, "core", "left")
           .withColumn("cluster", F.coalesce("cluster", "core")))
    sizes = out.where("is_record").groupBy("cluster").agg(F.count(F.lit(1)).alias("records"))
    out = (out.join(sizes, "cluster", "left")
           .withColumn("oversized", F.coalesce(F.col("records"), F.lit(0)) > cfg.max_cluster_size)
           .withColumn("cluster_status", F.when(F.col("oversized"), F.lit("oversized")).otherwise(F.lit("ok")))
           .withColumn("cluster", F.when(F.col("oversized"), F.col("core")).otherwise(F.col("cluster")))
           .select("id", "cluster", "cluster_status", "is_record")).localCheckpoint()
    stats = links.agg(F.count(F.lit(1)).alias("links"), F.sum(F.when(~F.col("accepted"), 1).otherwise(0)).alias("held")).first()
    report = {"weak_bridges_held_for_review": int(stats["held"] or 0), "core_links": int(stats["links"] or 0),
              **ambiguous, **conflict_report,
              "oversized_clusters": out.where("cluster_status = 'oversized'").select("cluster")
              .distinct().count()}
    return out, rejected, report


def _settle_ambiguous(links: DataFrame, margin: float) -> tuple[DataFrame, dict]:
    """Links between cores ``(c1, c2, best, n1, n2, accepted)`` -> the same with the accepted bridges of
    ambiguous lone records settled (see the module notes, step 3), and counts for the report."""
    acc = links.where("accepted")
    # each accepted bridge seen from a lone record's side: (s = the lone record's core, o = the other core)
    ends = (acc.where(F.col("n1") == 1).select(F.col("c1").alias("s"), F.col("c2").alias("o"), "best")
            .unionByName(acc.where(F.col("n2") == 1).select(F.col("c2").alias("s"), F.col("c1").alias("o"), "best")))
    pairs = (ends.alias("x").join(ends.alias("y"), "s").where(F.col("x.o") < F.col("y.o"))
             .select("s", F.col("x.o").alias("c1"), F.col("y.o").alias("c2")))
    # ambiguous: two of its partner cores are not bridged to each other
    lone = pairs.join(acc.select("c1", "c2"), ["c1", "c2"], "left_anti").select("s").distinct()
    by_weight = Window.partitionBy("s").orderBy(F.desc("best"), "o")
    ranked = (ends.join(lone, "s").withColumn("_r", F.row_number().over(by_weight))
              .withColumn("_next", F.lead("best").over(by_weight)))
    joins_best = (F.col("_r") == 1) & (F.col("best") - F.col("_next") >= margin)
    ranked = ranked.withColumn("_joins_best", joins_best).localCheckpoint()
    drop = ranked.where(~F.col("_joins_best")).select(F.least("s", "o").alias("c1"), F.greatest("s", "o").alias("c2"),
                                                      F.lit(True).alias("_drop")).distinct()
    settled = (links.join(drop, ["c1", "c2"], "left")
               .withColumn("accepted", F.col("accepted") & F.col("_drop").isNull()).drop("_drop"))
    row = ranked.agg(F.countDistinct("s").alias("n"), F.count(F.when(F.col("_joins_best"), 1)).alias("best")).first()
    return settled, {"ambiguous_records": int(row["n"]), "ambiguous_records_joined_best": int(row["best"])}


def _split_conflicted(merged: DataFrame, links: DataFrame,
                      against: DataFrame) -> tuple[DataFrame, DataFrame, dict]:
    """Clusters ``merged(core, cluster)`` of the touched cores -> the same with every cluster that holds
    conflicting records split (see the module notes, step 5), the bridges ``(c1, c2)`` undone, and counts for
    the report. ``against(k1, k2)``: the cores of each conflict's two records (a core missing from ``merged``
    is a cluster of its own)."""
    m1 = merged.select(F.col("core").alias("k1"), F.col("cluster").alias("_c1"))
    m2 = merged.select(F.col("core").alias("k2"), F.col("cluster").alias("_c2"))
    pairs = (against.join(m1, "k1", "left").join(m2, "k2", "left")
             .select(F.coalesce("_c1", "k1").alias("cluster"), F.coalesce("_c2", "k2").alias("_c2"), "k1", "k2")
             .where(F.col("cluster") == F.col("_c2"))
             .select("cluster", F.least("k1", "k2").alias("a"), F.greatest("k1", "k2").alias("b")).distinct()
             .localCheckpoint())
    stats = pairs.agg(F.count(F.when(F.col("a") == F.col("b"), 1)).alias("inside"),
                      F.countDistinct(F.when(F.col("a") != F.col("b"), F.col("cluster"))).alias("clusters")).first()
    report = {**NO_CONFLICTS, "conflicted_clusters": int(stats["clusters"]),
              "conflicts_inside_cores": int(stats["inside"])}
    none = links.sparkSession.createDataFrame([], "c1 string, c2 string")
    if not report["conflicted_clusters"]:
        return merged, none, report
    cluster_of = merged.select(F.col("core").alias("k"), "cluster")
    between = pairs.where(F.col("a") != F.col("b"))
    bridges = (links.where("accepted").join(cluster_of.withColumnRenamed("k", "c1"), "c1")
               .join(between.select("cluster").distinct(), "cluster")
               .select("cluster", F.col("c1").alias("a"), F.col("c2").alias("b"), F.col("best").alias("weight")))
    rows = bridges.unionByName(between.withColumn("weight", F.lit(None).cast("double")))
    parts = (rows.groupBy("cluster").applyInPandas(_split_group, "cluster string, core string, part string")
             .localCheckpoint())
    merged = (merged.join(parts.drop("cluster"), "core", "left")
              .select("core", F.coalesce("part", "cluster").alias("cluster")).localCheckpoint())
    part_of = merged.select(F.col("core").alias("k"), F.col("cluster").alias("part"))
    undone = (bridges.join(part_of.withColumnRenamed("k", "a").withColumnRenamed("part", "pa"), "a")
              .join(part_of.withColumnRenamed("k", "b").withColumnRenamed("part", "pb"), "b")
              .where(F.col("pa") != F.col("pb")).select(F.col("a").alias("c1"), F.col("b").alias("c2"))
              .localCheckpoint())
    split = parts.groupBy("cluster").agg(F.countDistinct("part").alias("n")).where("n > 1")
    report["conflicted_clusters_split"] = split.count()
    report["bridges_undone_by_conflicts"] = undone.count()
    return merged, undone, report


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


def _split_group(df: pd.DataFrame) -> pd.DataFrame:
    """``applyInPandas`` adapter of :func:`split_conflicts`: one cluster's bridges (``weight`` set) and
    conflicts (``weight`` null) -> ``(core, part)``."""
    import pandas as pd  # noqa: PLC0415 (imported on the executors)

    is_bridge = df["weight"].notna()
    b, c = df[is_bridge], df[~is_bridge]
    parts = split_conflicts(list(zip(b["a"], b["b"], b["weight"], strict=True)),
                            list(zip(c["a"], c["b"], strict=True)))
    return pd.DataFrame({"cluster": df["cluster"].iloc[0], "core": list(parts), "part": list(parts.values())})


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
        previous = spark.createDataFrame([], "id string, customer_id string")
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
