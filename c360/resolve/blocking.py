"""Records to compare, blocking keys and candidate pairs, and the comparison vectors of pairs.

- :func:`prepare_records`: ``silver.person`` -> one row per record with its key ``rk`` (``source:id``),
  invalid emails nulled (never matched on), one ``k_<rule>`` column per blocking rule and a fingerprint
  ``rec_hash`` of everything blocking and comparison read (a changed record is re-compared).
- :func:`candidate_pairs`: per rule, records with the same key are paired; a key shared by more than the
  rule's ``max_block_size`` records is skipped and reported. Pairs are unioned and de-duplicated, each
  keeping the rules that found it (``blocked_by``).
- :func:`compare`: the pairs with both sides' columns (``l_``/``r_``), similarities and levels ``g_<name>``.
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from c360.config import BlockingConfig, BlockingRule, ResolveConfig
from c360.frames import empty_frame
from c360.resolve.comparisons import Comparison

KEY_SEP = "\u001f"


def record_key(source: str | Column = "source_system", record_id: str | Column = "source_record_id") -> Column:
    """The one record key, ``<source>:<record id>`` (a person record, a cookie, a referenced record)."""
    return F.concat_ws(":", F.col(source) if isinstance(source, str) else source,
                       F.col(record_id) if isinstance(record_id, str) else record_id)


def rule_columns(rules: list[BlockingRule]) -> list[str]:
    return [f"k_{r.name}" for r in rules]


def referenced_columns(text: str, available: list[str]) -> list[str]:
    """Columns named as ``l_<col>`` / ``r_<col>`` in a rule's SQL."""
    names = set(re.findall(r"\b[lr]_(\w+)", text))
    return [c for c in available if c in names]


def compare_columns(comparisons: list[Comparison], cfg: ResolveConfig, available: list[str]) -> list[str]:
    cols: list[str] = []
    for c in comparisons:
        cols += c.columns
    for rule in cfg.deterministic:
        cols += referenced_columns(rule.when, available)
    return list(dict.fromkeys(cols))


def prepare_records(person: DataFrame, cfg: ResolveConfig, comparisons: list[Comparison],
                    partitions: int | None = None) -> DataFrame:
    """``partitions``: spread the records over this many partitions by ``rk`` first (a silver table may be one
    file, read by one task), so that the keys, the blocking and everything after them run in parallel."""
    df = person.withColumn("rk", record_key())
    if partitions:
        df = df.repartition(partitions, "rk")
    if "email_valid" in df.columns:
        df = df.withColumn("email", F.when(F.col("email_valid"), F.col("email")))
    for rule in cfg.blocking.rules:
        parts = [F.expr(k).cast("string") for k in rule.keys]
        all_present = F.lit(True)
        for p in parts:
            all_present = all_present & p.isNotNull() & (p != "")
        df = df.withColumn(f"k_{rule.name}", F.when(all_present, F.concat_ws(KEY_SEP, *parts)))
    cols = compare_columns(comparisons, cfg, df.columns)
    hashed = [F.coalesce(F.col(c).cast("string"), F.lit("\u0000")) for c in cols + rule_columns(cfg.blocking.rules)]
    return df.withColumn("rec_hash", F.sha2(F.concat_ws(KEY_SEP, *hashed), 256).substr(1, 16))


def block_sizes(records: DataFrame, rule: BlockingRule) -> DataFrame:
    k = f"k_{rule.name}"
    return records.where(F.col(k).isNotNull()).groupBy(F.col(k).alias("key")).count()


def keyed_records(records: DataFrame, rules: list[BlockingRule]) -> DataFrame:
    """``(rk, rule, key)``: every record's non-null key of each rule; a rule is its index (an int to shuffle,
    and a bit of a pair's mask of rules)."""
    keys = F.explode(F.array(*[F.struct(F.lit(i).alias("rule"), F.col(f"k_{r.name}").alias("key"))
                               for i, r in enumerate(rules)]))
    return records.select("rk", keys.alias("_k")).select("rk", "_k.rule", "_k.key").where(F.col("key").isNotNull())


def block_caps(blocks: DataFrame, rules: list[BlockingRule], cfg: BlockingConfig, n_records: int) -> list[int]:
    """Each rule's largest block, from the data: the rule's ``max_block_size`` (else the section's), raised to
    ``block_size_skew`` times the rule's 99th percentile block size where the data's blocks are that large
    (one person written hundreds of times makes name blocks of hundreds, all alike: not skewed keys), then
    lowered until the rule's pairs fit its budget (``max_pairs_per_record`` x records, at least
    ``min_pair_budget``). ``blocks``: ``(rule, count)`` of the keys shared by two or more records; only the
    histogram of block sizes per rule is collected."""
    floors = [r.max_block_size or cfg.max_block_size for r in rules]
    hist: dict[int, list[tuple[int, int]]] = {}
    for row in blocks.groupBy("rule", "count").agg(F.count(F.lit(1)).alias("keys")).collect():
        hist.setdefault(row["rule"], []).append((row["count"], row["keys"]))
    budget = max(cfg.min_pair_budget, cfg.max_pairs_per_record * n_records)
    caps = []
    for i, floor in enumerate(floors):
        sizes = sorted(hist.get(i, []))
        total = sum(k for _, k in sizes)
        p99, seen = 0, 0
        for size, keys in sizes:
            seen += keys
            if seen >= 0.99 * total:
                p99 = size
                break
        cap = max(floor, int(cfg.block_size_skew * p99))
        pairs = 0
        for size, keys in sizes:
            pairs += keys * size * (size - 1) // 2
            if size > cap or pairs > budget:
                cap = min(cap, size - 1)
                break
        caps.append(max(cap, 2))
    return caps


def candidate_pairs(records: DataFrame, cfg: ResolveConfig, n_records: int) -> tuple[DataFrame, list[dict]]:
    """``(rk_l, rk_r, blocked_by)`` with ``rk_l < rk_r``, and a report row per rule (skipped keys).

    All rules in one pass: every record's keys as ``(rule, key, rk)`` rows, grouped once per key (its size,
    and its sorted members when it has two or more and is not skewed), skewed keys collected for the report,
    each kept key's pairs generated from its member list (no join), and one de-duplication of the pairs.
    """
    rules = cfg.blocking.rules
    if not rules:
        return empty_frame(records.sparkSession, "rk_l string, rk_r string, blocked_by array<string>"), []
    grouped = (keyed_records(records, rules).groupBy("rule", "key")
               .agg(F.count(F.lit(1)).alias("count"), F.collect_list("rk").alias("rks"))
               .where(F.col("count") > 1).localCheckpoint())
    caps = block_caps(grouped, rules, cfg.blocking, n_records)
    cap = F.element_at(F.array(*[F.lit(c) for c in caps]), F.col("rule") + 1)
    blocks = grouped.select("rule", "key", "count", (F.col("count") > cap).alias("skipped"),
                            # a record listed twice under one key pairs once
                            F.when(F.col("count") <= cap, F.array_sort(F.array_distinct("rks"))).alias("rks"))
    big: list[list[tuple[str, int]]] = [[] for _ in rules]
    for row in blocks.where("skipped").select("rule", "key", "count").collect():
        big[row["rule"]].append((row["key"], row["count"]))
    report = []
    for i, r in enumerate(rules):
        skipped = sorted(big[i], key=lambda kv: (-kv[1], kv[0]))
        report.append({"rule": r.name, "max_block_size": caps[i], "skipped_keys": len(skipped),
                       "skipped_records": sum(n for _, n in skipped),
                       "largest_skipped": [{"key": k.replace(KEY_SEP, " | "), "records": n} for k, n in skipped[:5]]})
    # every (earlier, later) pair of a key's sorted members: each member with the members after it; the
    # rules that found a pair are OR-ed into a bit mask (a plain aggregate, not a collected set of names)
    members = (blocks.where(~F.col("skipped") & (F.size("rks") > 1))
               .select("rule", "rks", F.posexplode("rks").alias("_i", "rk_l")))
    pairs = (members.select("rk_l", F.explode(F.slice("rks", F.col("_i") + 2, F.size("rks"))).alias("rk_r"),
                            F.expr("shiftleft(1L, rule)").alias("_bit"))
             .groupBy("rk_l", "rk_r").agg(F.bit_or("_bit").alias("_mask")))
    named = [F.when(F.col("_mask").bitwiseAND(F.lit(1 << i)) != 0, F.lit(r.name))
             for i, r in sorted(enumerate(rules), key=lambda x: x[1].name)]
    pairs = pairs.select("rk_l", "rk_r", F.array_compact(F.array(*named)).alias("blocked_by"))
    return pairs, report


def with_sides(pairs: DataFrame, records: DataFrame, columns: list[str]) -> DataFrame:
    """Attach both records' ``columns`` as ``l_<col>`` and ``r_<col>``."""
    side = records.select("rk", *columns)
    left = side.select(F.col("rk").alias("rk_l"), *[F.col(c).alias(f"l_{c}") for c in columns])
    right = side.select(F.col("rk").alias("rk_r"), *[F.col(c).alias(f"r_{c}") for c in columns])
    return pairs.join(left, "rk_l").join(right, "rk_r")


def compare(pairs_with_sides: DataFrame, comparisons: list[Comparison]) -> DataFrame:
    """Add the similarity columns and the level ``g_<name>`` of every comparison."""
    df = pairs_with_sides
    sims = {}
    for c in comparisons:
        sims.update(c.similarities())
    if sims:
        df = df.withColumns(sims)
    return df.withColumns({f"g_{c.name}": c.gamma() for c in comparisons}).drop(*sims)
