"""Identity resolution that follows the data: comparisons and rules from the fields present, limits from the
data's own blocks and cores, cannot_link rules checked against identifier-anchored pairs. Hand-built inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from c360.config import (
    BlockingConfig,
    BlockingRule,
    ClusterConfig,
    ComparisonConfig,
    EMConfig,
    ResolveConfig,
    RuleConfig,
)
from c360.resolve import model as M
from c360.resolve.blocking import block_caps
from c360.resolve.cluster import cluster_cap
from c360.resolve.comparisons import build
from c360.resolve.settings import effective_settings
from tests.unit.test_resolve_parts import _levels


def test_identifier_levels_tolerate_one_keystroke(spark):
    cfg = ComparisonConfig(name="nid", type="identifier", column="n")
    rows = [("1804974", "1804974"), ("1804974", "1804975"), ("1804974", "1809474"), ("1804974", "180497"),
            ("1804974", "4791081"), ("1804974", "1840794"), (None, "1804974")]
    # exact; one digit wrong; two neighbours transposed; one dropped; another id; two transpositions; missing
    assert _levels(spark, cfg, rows, "l_n string, r_n string") == ["exact", "typo", "typo", "typo", "else",
                                                                   "else", None]


def test_date_levels_tell_a_typo_from_another_year(spark):
    cfg = ComparisonConfig(name="dob", type="date", column="d")
    d = dt.date.fromisoformat
    rows = [(d("1956-04-09"), d("1956-04-09")), (d("1956-04-09"), d("1965-04-09")),  # year digits transposed
            (d("1956-04-09"), d("1956-09-04")),  # day and month swapped
            (d("1956-04-09"), d("1956-11-23")), (d("1956-04-09"), d("1971-11-23"))]
    assert _levels(spark, cfg, rows, "l_d date, r_d date") == ["exact", "typo", "typo", "year", "else"]


def test_hierarchy_compares_postcode_then_city_then_state(spark):
    cfg = ComparisonConfig(name="locality", type="hierarchy", column="pc", then=["city", "st"], thresholds=[0.9])
    rows = [("2000", "2000", "SYDNEY", "SYDNEY", "NSW", "NSW"),
            ("2000", "2001", "SYDNEY", "SYDNEY", "NSW", "NSW"),          # postcode typo
            ("2000", "2750", "SYDNEY", "SYDNEY", "NSW", "NSW"),          # another postcode, same city
            ("2000", None, "MARRICKVILLE", "MARICKVILLE", "NSW", "NSW"),  # city with a typo
            ("2000", "2750", "SYDNEY", "PENRITH", "NSW", "NSW"),         # same state only
            ("2000", "3142", "SYDNEY", "MELBOURNE", "NSW", "VIC"),       # nothing in common
            (None, "3000", None, "MELBOURNE", "NSW", None)]              # no column on both sides
    schema = "l_pc string, r_pc string, l_city string, r_city string, l_st string, r_st string"
    assert _levels(spark, cfg, rows, schema) == ["exact", "typo", "city", "city_jw0.9", "st", "else", None]


def test_only_comparisons_and_rules_whose_fields_have_values_are_used(spark):
    person = spark.createDataFrame(
        [("a", "x", "1956-04-09", None, " "), ("b", "y", None, None, ""), ("c", None, "1960-01-01", "e@x", None)],
        "first_name_key string, last_name_key string, date_of_birth string, email string, national_id string")
    r = ResolveConfig(
        comparisons=[ComparisonConfig(name="first_name", type="name", column="first_name_key"),
                     ComparisonConfig(name="date_of_birth", type="date", column="date_of_birth"),
                     ComparisonConfig(name="email", type="email", column="email"),
                     ComparisonConfig(name="national_id", type="identifier", column="national_id")],
        blocking=BlockingConfig(rules=[BlockingRule(name="dob_name", keys=["date_of_birth", "soundex(last_name_key)"]),
                                       BlockingRule(name="email", keys=["email"]),
                                       BlockingRule(name="nid", keys=["substring(national_id, 1, 4)"])]),
        deterministic=[RuleConfig(name="same_id", when="l_national_id = r_national_id")],
        cannot_link=[RuleConfig(name="dob", when="date_of_birth = 'else'"),
                     RuleConfig(name="mail", when="email = 'else' AND first_name = 'else'")])
    narrowed, report = effective_settings(person, r)
    # one email alone can match nothing; blank ids are no ids
    assert [c.name for c in narrowed.comparisons] == ["first_name", "date_of_birth"]
    assert [b.name for b in narrowed.blocking.rules] == ["dob_name"]
    assert narrowed.deterministic == [] and [x.name for x in narrowed.cannot_link] == ["dob"]
    assert report["comparisons_without_data"] == ["email", "national_id"]
    assert report["blocking_rules_without_data"] == ["email", "nid"]
    assert report["cannot_link_without_data"] == ["mail"]


def _blocks(spark, sizes: dict[int, list[int]]):
    rows = [(rule, n) for rule, ns in sizes.items() for n in ns]
    return spark.createDataFrame(rows, "rule int, count long")


def test_block_caps_follow_the_data(spark):
    rules = [BlockingRule(name="email", keys=["email"]), BlockingRule(name="names", keys=["n"]),
             BlockingRule(name="state", keys=["s"])]
    cfg = BlockingConfig(max_block_size=200, block_size_skew=10, max_pairs_per_record=100, min_pair_budget=10**6)
    sizes = {
        0: [2] * 995 + [3] * 4 + [500],     # emails: pairs, and one shared company address of 500 (skewed)
        1: [300] * 60 + [320] * 40,         # one person written hundreds of times: every block is large
        2: [20_000] * 8,                    # a state: 8 blocks of 20,000 (200M pairs: over any budget)
    }
    caps = block_caps(_blocks(spark, sizes), rules, cfg, n_records=160_000)
    assert caps[0] == 200                   # 10 x p99 (3) = 30 < the floor of 200: the company address is skipped
    assert caps[1] == 3200                  # 10 x p99 (320): the large blocks are the data, not skew
    assert caps[2] < 20_000                 # 8 x 20,000^2/2 pairs exceed 100 x 160,000: skipped
    budget = BlockingConfig(max_block_size=200, block_size_skew=10, max_pairs_per_record=1, min_pair_budget=50_000)
    # the 60 blocks of 300 make 2.7M pairs alone: over a budget of 50,000, so even they are skipped
    assert block_caps(_blocks(spark, {0: sizes[1]}), rules[1:2], budget, n_records=1000) == [299]


def test_cluster_cap_rises_with_the_cores(spark):
    small = spark.createDataFrame([(f"r{i}", f"c{i // 2}", True) for i in range(40)] + [("x", "x", True)],
                                  "id string, core string, is_record boolean")
    assert cluster_cap(small, ClusterConfig(max_cluster_size=50, cluster_size_skew=5)) == 50
    big = spark.createDataFrame([(f"r{i}", f"c{i // 120}", True) for i in range(600)],
                                "id string, core string, is_record boolean")
    assert cluster_cap(big, ClusterConfig(max_cluster_size=50, cluster_size_skew=5)) == 600
    assert cluster_cap(big, ClusterConfig(max_cluster_size=50, cluster_size_skew=0)) == 50


def _patterns(rng, n_pairs: int, typo_veto_share: float):
    """Candidate pairs of two comparisons (name, national id: levels exact/else) and whether a cannot_link
    rule fires: matches agree on both (ids exact 95%), non-matches on neither; the rule fires on
    ``typo_veto_share`` of the matches (a typo'd birth date in noisy data) and on 30% of the non-matches."""
    counts: dict[tuple, int] = {}
    for _ in range(n_pairs):
        match = rng.random() < 0.5
        name = 0 if (rng.random() < 0.9) == match else 1
        nid = 0 if match and rng.random() < 0.95 else (0 if rng.random() < 0.001 else 1)
        fires = rng.random() < (typo_veto_share if match else 0.3)
        key = ((name, nid), ("r",), ("veto",) if fires else ())
        counts[key] = counts.get(key, 0) + 1
    return [(g, b, n, f) for (g, b, f), n in counts.items()]


@pytest.mark.parametrize("share, applied", [(0.0, True), (0.06, False)])
def test_a_cannot_link_rule_is_checked_against_identifier_anchored_pairs(share, applied):
    comparisons = build([ComparisonConfig(name="name", type="exact", column="n"),
                         ComparisonConfig(name="nid", type="identifier", column="i", anchor=True)])
    r = ResolveConfig(comparisons=[c.config for c in comparisons], em=EMConfig(min_pairs=10),
                      cannot_link=[RuleConfig(name="veto", when="nid = 'else'")])
    u = {"name": [0.01, 0.99], "nid": [0.0001, 0.0001, 0.9998]}
    patterns = _patterns(np.random.default_rng(5), 4000, share)
    model = M.train(comparisons, patterns, {"r": ["x"]}, u, r, n_records=4000)
    check = model.diagnostics["cannot_link"]["veto"]
    assert check["applied"] is applied and check["anchored_pairs"] > 1000
    assert ("veto" in model.disabled_rules) is (not applied)
