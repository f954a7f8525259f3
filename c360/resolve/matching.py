"""The matching core of identity resolution: records -> candidate pairs -> comparison levels -> a Fellegi-Sunter
model (u from random pairs, m by EM) -> scored pairs -> guarded clusters. :func:`match` runs it on records in
memory (the ``c360 resolve`` job reads and writes around it; the benchmark times it alone)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from c360.config import C360Config, ResolveConfig, RuleConfig
from c360.errors import DataError
from c360.log import get_logger
from c360.resolve import model as M
from c360.resolve.blocking import (
    candidate_pairs,
    compare,
    compare_columns,
    prepare_records,
    with_sides,
)
from c360.resolve.cluster import guarded_clusters
from c360.resolve.comparisons import Comparison, build
from c360.resolve.settings import effective_settings

log = get_logger(__name__)


def _hash_order(seed: int):
    return F.xxhash64(F.col("rk"), F.lit(seed))


def _partitions(df: DataFrame) -> int:
    return int(df.sparkSession.conf.get("spark.sql.shuffle.partitions"))


def estimate_u(records: DataFrame, comparisons: list[Comparison], columns: list[str], n_pairs: int,
               seed: int, candidates: DataFrame | None = None,
               n_records: int = 0) -> tuple[dict[str, list[float]], int]:
    """u from about ``n_pairs`` random record pairs: a seeded sample of k records paired with each other.

    When the sample is a large part of the ``n_records`` records (a tenth or more), random pairs that are
    also ``candidates`` (rk_l, rk_r) are left out: u is chance agreement among non-matches, and the
    candidate pairs are where the matches are. In a small source, where the sample is every pair, that keeps
    the duplicates themselves from counting as chance agreement (eight records of five people: three of the
    28 pairs are the same person); at scale it would change nothing (at 100k records about 30 of a million
    random pairs are candidates) and is not done. The left side is spread over the shuffle partitions, so that
    the pairs are compared on every core (the sample itself is one partition)."""
    k = max(2, math.ceil(math.sqrt(2 * n_pairs)))
    sample = records.select("rk", *columns).orderBy(_hash_order(seed)).limit(k).localCheckpoint()
    a = (sample.select(F.col("rk").alias("rk_l"), *[F.col(c).alias(f"l_{c}") for c in columns])
         .repartition(_partitions(records)))
    b = sample.select(F.col("rk").alias("rk_r"), *[F.col(c).alias(f"r_{c}") for c in columns])
    random_pairs = a.crossJoin(b).where(F.col("rk_l") < F.col("rk_r"))
    if candidates is not None and k * 10 >= n_records:
        # the candidate pairs inside the sample: two broadcast semi-joins over the pairs, then a small anti-join
        keys = F.broadcast(sample.select("rk"))
        inside = (candidates.select("rk_l", "rk_r").join(keys.withColumnRenamed("rk", "rk_l"), "rk_l", "left_semi")
                  .join(keys.withColumnRenamed("rk", "rk_r"), "rk_r", "left_semi"))
        random_pairs = random_pairs.join(F.broadcast(inside), ["rk_l", "rk_r"], "left_anti")
    pairs = compare(random_pairs, comparisons)
    rows = pairs.groupBy(*[f"g_{c.name}" for c in comparisons]).count().collect()
    counts: dict[str, dict[int, int]] = {c.name: {} for c in comparisons}
    total = 0
    for r in rows:
        total += r["count"]
        for c in comparisons:
            g = r[f"g_{c.name}"]
            counts[c.name][g] = counts[c.name].get(g, 0) + r["count"]
    return M.u_from_counts(comparisons, counts), total


def fired_rules(rules: list[RuleConfig]) -> Column:
    """The names of the ``rules`` (Spark SQL over the pair's columns and level labels) that hold, as an array."""
    if not rules:
        return F.array().cast("array<string>")
    return F.filter(F.array(*[F.when(F.expr(x.when), F.lit(x.name)) for x in rules]), lambda x: x.isNotNull())


def score(cmp: DataFrame, model: M.FSModel, comparisons: list[Comparison], spark: SparkSession, cfg: C360Config,
          r: ResolveConfig | None = None) -> DataFrame:
    """Compared pairs -> weights, probability, rules and decision (identity_edges rows). ``r``: the run's
    settings (:func:`c360.resolve.settings.effective_settings`); the cannot_link rules the model found this
    data contradicts are not applied."""
    r = r or cfg.resolve
    df = cmp.withColumns(M.weight_columns(model, comparisons))
    tf_cols = []
    for c in comparisons:
        if c.config.tf_adjust:
            tf_df = spark.read.parquet(M.tf_path(cfg, c.name))
            df = M.tf_adjustment(df, model, c, tf_df, r.tf_minimum)
            tf_cols.append(c.name)
    weight = {c.name: F.col(f"w_{c.name}") + (F.col(f"tf_{c.name}") if c.name in tf_cols else F.lit(0.0))
              for c in comparisons}
    total = F.lit(model.prior_weight)
    for w in weight.values():
        total = total + w
    df = df.withColumn("match_weight", total)
    df = df.withColumn("match_probability", F.lit(1.0) / (F.lit(1.0) + F.pow(F.lit(2.0), -F.col("match_weight"))))
    df = df.withColumns({c.name: c.label() for c in comparisons})
    df = (df.withColumn("deterministic_rules", fired_rules(r.deterministic))
          .withColumn("cannot_link_rules",
                      fired_rules([x for x in r.cannot_link if x.name not in model.disabled_rules])))
    above = F.col("match_probability") >= r.match_probability
    decision = (F.when(F.size("deterministic_rules") > 0, "match")
                .when(above & (F.size("cannot_link_rules") > 0), "cannot_link")
                .when(above, "match").otherwise("no_match"))
    levels = F.create_map(*[x for c in comparisons for x in (F.lit(c.name), F.col(c.name))])
    weights = F.create_map(*[x for c in comparisons for x in (F.lit(c.name), weight[c.name])])
    return df.select(
        F.col("rk_l").alias("left_key"), F.col("rk_r").alias("right_key"), "blocked_by",
        levels.alias("levels"), weights.alias("weights"), *[f"g_{c.name}" for c in comparisons],
        "match_weight", "match_probability", "deterministic_rules", "cannot_link_rules",
        decision.alias("decision"), F.col("l_rec_hash").alias("left_hash"), F.col("r_rec_hash").alias("right_hash"),
        F.lit(M.scoring_version(r, model)).alias("model_version"))


def _train(spark: SparkSession, cfg: C360Config, r: ResolveConfig, records: DataFrame, compared: DataFrame,
           comparisons: list[Comparison], columns: list[str], n_records: int) -> M.FSModel:
    """Fit the model: u from random record pairs, term frequencies, m and the match share by EM over the
    level patterns of the ``compared`` candidate pairs (with the cannot_link rules each pattern fires, so that
    the model can tell which of them this data contradicts)."""
    u, sampled = estimate_u(records, comparisons, columns, r.u_sample_pairs, r.seed,
                            compared.select("rk_l", "rk_r"), n_records)
    for c in comparisons:
        if c.config.tf_adjust:
            M.term_frequencies(records, c.config.column).write.mode("overwrite").parquet(M.tf_path(cfg, c.name))
    g_cols = [f"g_{c.name}" for c in comparisons]
    labelled = compared.withColumns({c.name: c.label() for c in comparisons})
    rows = (labelled.groupBy(*g_cols, "blocked_by", fired_rules(r.cannot_link).alias("_never")).count()
            .collect())
    patterns = [(tuple(row[g] for g in g_cols), tuple(row["blocked_by"]), row["count"], tuple(row["_never"]))
                for row in rows]
    rules = {b.name: b.keys for b in r.blocking.rules}
    model = M.train(comparisons, patterns, rules, u, r, n_records)
    model.diagnostics["u_random_pairs"] = sampled
    M.save(spark, cfg, model)
    log.info("resolve: model trained", match_share=round(model.match_share, 4), u_pairs=sampled,
             patterns=len(patterns))
    if model.diagnostics.get("note"):
        log.warning(f"resolve: {model.diagnostics['note']}")
    for name in model.disabled_rules:
        check = model.diagnostics["cannot_link"][name]
        log.warning(f"resolve: cannot_link rule {name} not applied: it fires on {check['share_of_anchored']:.1%} of "
                    f"the {check['anchored_pairs']} candidate pairs that agree on an identifier (above "
                    f"cannot_link_max_anchored_share={r.cannot_link_max_anchored_share}): in this data its "
                    "conflicts are typos")
    return model


def rule_yield(scored: DataFrame, report: list[dict]) -> float | None:
    """Add each blocking rule's candidate pairs, matches and estimated recall to its ``report`` row (one
    query), and return the estimated pairs completeness of all the rules together.

    A rule's recall is estimated leave-one-out: of the matches the other rules found, the share it found too.
    The rules together miss a match only when each misses it: ``1 - prod(1 - recall)``, an estimate that
    assumes the rules miss matches independently (rules over the same field miss together, so it errs high)."""
    if not report:
        return None
    is_match = F.col("decision").isin("match", "review")  # review: a match edge the clustering held back
    n_rules = F.size("blocked_by")
    aggs = []
    for i, row in enumerate(report):
        has = F.array_contains("blocked_by", row["rule"])
        aggs += [F.count(F.when(has, 1)).alias(f"p{i}"), F.count(F.when(has & is_match, 1)).alias(f"m{i}"),
                 F.count(F.when(is_match & (n_rules - has.cast("int") >= 1), 1)).alias(f"o{i}"),
                 F.count(F.when(is_match & has & (n_rules >= 2), 1)).alias(f"b{i}")]
    got = scored.agg(*aggs).first()
    missed_by_all = 1.0
    for i, row in enumerate(report):
        others, both = got[f"o{i}"], got[f"b{i}"]
        recall = both / others if others else None
        row.update(pairs=got[f"p{i}"], matches=got[f"m{i}"],
                   recall_estimate=None if recall is None else round(recall, 4))
        if recall is not None:
            missed_by_all *= 1 - recall
    return round(1 - missed_by_all, 6)


@dataclass
class Matching:
    """What :func:`match` found: the records, the model, every scored pair, the clusters and a report."""

    records: DataFrame
    model: M.FSModel
    retrained: bool
    #: identity_edges rows without run_id; ``decision`` still says ``match`` for the held (review) edges
    scored: DataFrame
    #: ``(id, cluster, cluster_status, is_record)`` for records and cookies
    clusters: DataFrame
    #: weak match edges ``(src, dst)`` the clustering did not follow
    held: DataFrame
    facts: dict
    blocking_report: list[dict]


def match(spark: SparkSession, cfg: C360Config, person: DataFrame, logins: DataFrame | None = None, *, retrain: bool = False,
          stored_edges: DataFrame | None = None, step=lambda name, **kw: None) -> Matching:
    """The matching core, without IO of its own but the model files: ``silver.person`` rows -> records and
    blocking keys -> candidate pairs -> model (trained when ``retrain``, when there is none or when the
    comparisons or blocking changed) -> scored pairs -> guarded clusters.

    ``logins``: cookie login links (:func:`login_links`); ``stored_edges``: the last run's identity_edges,
    whose score a pair keeps when both its records are unchanged and the model and scoring settings are the
    same (not used when the model is retrained).
    """
    r, settings_report = effective_settings(person, cfg.resolve)
    comparisons = build(r.comparisons)
    for what in ("comparisons", "blocking_rules"):
        if not settings_report[what]:
            raise DataError(f"resolve: silver.person has no values for the fields of any {what.replace('_', ' ')} "
                            f"(fields with values: {settings_report['fields_present'] or 'none'}); map person "
                            "fields in sources.yml, or add rules over the fields you have in resolve.yml")
    records = prepare_records(person, r, comparisons, partitions=_partitions(person)).localCheckpoint()
    n_records = settings_report.pop("records")
    columns = [*compare_columns(comparisons, r, records.columns), "rec_hash"]
    pairs, blocking_report = candidate_pairs(records, r, n_records)
    pairs = pairs.localCheckpoint()
    n_pairs = pairs.count()
    step("candidate pairs", records=n_records, pairs=n_pairs)
    if n_pairs == 0 and n_records > 1:
        raise DataError(f"resolve: the blocking rules {settings_report['blocking_rules']} made no candidate pair "
                        f"among {n_records} records, so nothing could be compared (every record would be a customer "
                        "of its own); see the skipped keys above, or add blocking rules over the fields you have")
    facts: dict = {"records": n_records, "candidate_pairs": n_pairs,
                   "reduction_ratio": round(1 - n_pairs / max(n_records * (n_records - 1) / 2, 1), 6),
                   "settings": settings_report}
    for b in blocking_report:
        if b["skipped_keys"]:
            log.warning(f"blocking rule {b['rule']}: {b['skipped_keys']} key(s) shared by more than "
                        f"{b['max_block_size']} records skipped", records=b["skipped_records"],
                        largest=b["largest_skipped"][:3])

    model = M.load(spark, cfg)
    retrained = retrain or model is None or model.fingerprint != M.fingerprint(r)
    compared = None
    if retrained:
        # every pair is compared once: its levels train the model, then the same rows are scored
        compared = compare(with_sides(pairs, records, columns), comparisons).localCheckpoint()
        model = _train(spark, cfg, r, records, compared, comparisons, columns, n_records)

    # ------------------------------------------------------------------ score (only what changed)
    version = M.scoring_version(r, model)
    to_score, reused = pairs, None
    if stored_edges is not None and not retrained:
        old = stored_edges.where(F.col("model_version") == version)
        hashes = records.select("rk", "rec_hash")
        current = (pairs.join(hashes.select(F.col("rk").alias("rk_l"), F.col("rec_hash").alias("left_hash")), "rk_l")
                   .join(hashes.select(F.col("rk").alias("rk_r"), F.col("rec_hash").alias("right_hash")), "rk_r"))
        keys = [F.col("rk_l").alias("left_key"), F.col("rk_r").alias("right_key"), "left_hash", "right_hash"]
        reused = (current.select(*keys, F.col("blocked_by").alias("_bb"))
                  .join(old, ["left_key", "right_key", "left_hash", "right_hash"])
                  .withColumn("blocked_by", F.col("_bb")).drop("_bb")
                  # `review` is the clustering's verdict on a match edge, decided again below
                  .withColumn("decision", F.when(F.col("decision") == "review", F.lit("match"))
                              .otherwise(F.col("decision"))))
        to_score = pairs.join(reused.select(F.col("left_key").alias("rk_l"), F.col("right_key").alias("rk_r")),
                              ["rk_l", "rk_r"], "left_anti")
    if compared is None:
        compared = compare(with_sides(to_score, records, columns), comparisons)
    scored = score(compared, model, comparisons, spark, cfg, r)
    if reused is not None:
        scored = scored.unionByName(reused.select(*scored.columns))
    scored = scored.localCheckpoint()
    facts["pairs_scored"] = n_pairs - (reused.count() if reused is not None else 0)
    step("pairs scored", scored=facts["pairs_scored"])

    # ------------------------------------------------------------------ cluster
    vertices = records.select(F.col("rk").alias("id"), F.lit(True).alias("is_record"))
    matches = scored.where("decision = 'match'")
    strong_p = M.strong_probability(model, comparisons, r.cluster)
    facts["strong_probability"] = round(strong_p, 6)
    is_strong = (F.col("match_probability") >= strong_p) | (F.size("deterministic_rules") > 0)
    strong = matches.where(is_strong).select(F.col("left_key").alias("src"), F.col("right_key").alias("dst"))
    # no empty stand-in when there are no logins: a DataFrame made from an empty Python list is read by
    # Python tasks (0.6 s a run at 100k records for nothing)
    if logins is not None:
        vertices = vertices.unionByName(
            logins.select(F.col("cookie").alias("id"), F.lit(False).alias("is_record")).distinct())
        strong = strong.unionByName(logins.select(F.col("cookie").alias("src"), F.col("rk").alias("dst")))
    weak = matches.where(~is_strong).select(F.col("left_key").alias("src"), F.col("right_key").alias("dst"),
                                            F.col("match_weight").alias("weight"))
    # strong evidence against a pair: a cannot_link decision, or a match weight at or below conflict_weight
    conflicts = scored.where((F.col("decision") == "cannot_link")
                             | (F.col("match_weight") <= r.cluster.conflict_weight)).select(
        F.col("left_key").alias("src"), F.col("right_key").alias("dst"))
    clusters, held, cluster_report = guarded_clusters(vertices, strong, weak, r.cluster, cfg.graph, conflicts)
    facts.update(cluster_report)
    if cluster_report["oversized_clusters"]:
        log.warning(f"resolve: clusters of more than {cluster_report['max_cluster_size']} records split back "
                    f"into their cores: {cluster_report['oversized_clusters']} parts flagged cluster_status = "
                    "'oversized' in silver.customer_xref (resolve.cluster.max_cluster_size)")
    return Matching(records, model, retrained, scored, clusters, held, facts, blocking_report)
