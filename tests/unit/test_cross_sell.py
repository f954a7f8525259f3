"""FP-Growth cross-sell against an independent plain-Python enumeration of itemsets and rules."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from c360.models.cross_sell import baskets, mine, recommendations


def _random_baskets(seed: int, orders: int = 300) -> list[list[str]]:
    rng = random.Random(seed)
    items = [f"p{i:02d}" for i in range(12)]
    out = []
    for _ in range(orders):
        basket = set(rng.sample(items, rng.randint(1, 4)))
        if "p01" in basket and rng.random() < 0.7:      # a planted affinity: p01 -> p07
            basket.add("p07")
        out.append(sorted(basket))
    return out


def _reference(basket_list: list[list[str]], min_support: float, min_confidence: float):
    """Every itemset counted by enumerating each basket's subsets; rules with one-item consequents."""
    n = len(basket_list)
    counts: Counter = Counter()
    for b in basket_list:
        for k in range(1, len(b) + 1):
            counts.update(itertools.combinations(b, k))
    frequent = {s: c for s, c in counts.items() if c / n >= min_support}
    rules = {}
    for s, c in frequent.items():
        if len(s) < 2:
            continue
        for consequent in s:
            antecedent = tuple(x for x in s if x != consequent)
            confidence = c / frequent[antecedent]
            if confidence >= min_confidence:
                lift = confidence / (frequent[(consequent,)] / n)
                rules[(antecedent, consequent)] = (c / n, confidence, lift)
    return frequent, rules


@pytest.mark.parametrize("seed", [1, 2])
def test_itemsets_and_rules_equal_a_plain_enumeration(spark, seed):
    basket_list = _random_baskets(seed)
    lines = spark.createDataFrame([(f"o{i}", p) for i, b in enumerate(basket_list) for p in b + b[:1]],
                                  "order_id string, product_id string")     # a repeated line counts once
    itemsets, rules = mine(baskets(lines), min_support=0.02, min_confidence=0.3)
    frequent, expected = _reference(basket_list, 0.02, 0.3)
    assert {tuple(r["items"]): r["freq"] for r in itemsets.collect()} == frequent
    got = {(tuple(r["antecedent"]), r["consequent"]): (r["support"], r["confidence"], r["lift"])
           for r in rules.collect()}
    assert got.keys() == expected.keys() and (("p01",), "p07") in got
    for key, values in expected.items():
        assert got[key] == pytest.approx(values, rel=1e-9), key


def test_recommendations_skip_what_was_bought_and_need_the_whole_antecedent(spark):
    rules = spark.createDataFrame(
        [(["a"], "b", 0.1, 0.5, 2.0), (["a"], "c", 0.1, 0.4, 3.0), (["a", "d"], "e", 0.1, 0.9, 4.0),
         (["x"], "b", 0.1, 0.9, 9.0)],
        "antecedent array<string>, consequent string, support double, confidence double, lift double")
    bought = spark.createDataFrame([("k1", ["a"]), ("k2", ["a", "c"]), ("k3", ["a", "d", "x"])],
                                   "customer_id string, items array<string>")
    got = {(r["customer_id"], r["rank"]): (r["product_id"], round(r["score"], 6))
           for r in recommendations(rules, bought, top_n=2).collect()}
    assert got == {("k1", 1): ("c", 1.2), ("k1", 2): ("b", 1.0),     # 0.4 x 3.0 beats 0.5 x 2.0
                   ("k2", 1): ("b", 1.0),                             # c already bought
                   ("k3", 1): ("b", 8.1), ("k3", 2): ("e", 3.6)}     # best rule for b is x -> b
