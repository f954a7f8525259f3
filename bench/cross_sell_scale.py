"""Cross-sell at catalogue scale: FP-Growth (:func:`c360.models.cross_sell.mine`) over baskets shaped like a real
shop's, not the sample company's 240 products.

``python -m bench.cross_sell_scale [--orders 50000] [--products 5000]``: basket sizes 1 + Poisson(1.5), products
drawn from a Zipf-like popularity (weight ``1 / rank^0.9``: a long tail, as in retail), and 50 planted pairs
among products of middling popularity (the consequent joins 50% of the baskets holding the antecedent).
Mines at the conf's default support and at a support of 20 baskets, and reports the time, the itemsets, the
rules and how many planted pairs came out as rules. Appends to ``bench/results/cross-sell-scale-<date>.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import numpy as np

from bench.__main__ import _machine, append_csv, result_file


def baskets(orders: int, products: int, seed: int = 7) -> tuple[list[list[str]], list[tuple[str, str]]]:
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, products + 1) ** 0.9
    w /= w.sum()
    sizes = 1 + rng.poisson(1.5, orders)
    picks = rng.choice(products, size=sizes.sum(), p=w)
    pairs = rng.choice(np.arange(100, 600), size=(50, 2), replace=False)
    planted = {int(a): int(b) for a, b in pairs}
    out, i = [], 0
    for n in sizes:
        items = set(int(x) for x in picks[i:i + n])
        i += n
        for a in list(items):
            if a in planted and rng.random() < 0.5:
                items.add(planted[a])
        out.append(sorted(f"P{x:05d}" for x in items))
    return out, [(f"P{a:05d}", f"P{b:05d}") for a, b in planted.items()]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cross_sell_scale")
    p.add_argument("--orders", type=int, default=50_000)
    p.add_argument("--products", type=int, default=5_000)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)

    from c360.config import load_config
    from c360.models import cross_sell
    from c360.session import get_spark

    cfg = load_config("local", settings=["graph.backend=local"])
    spark = get_spark(cfg)
    rows, planted = baskets(a.orders, a.products)
    df = spark.createDataFrame([(str(i), b) for i, b in enumerate(rows)], "order_id string, items array<string>").cache()
    df.count()
    results = []
    for support in (cfg.models.cross_sell.min_support, 20 / a.orders):
        t0 = time.perf_counter()
        itemsets, rules = cross_sell.mine(df, support, cfg.models.cross_sell.min_confidence)
        rules = rules.cache()
        n_rules, n_sets = rules.count(), itemsets.count()
        secs = time.perf_counter() - t0
        found = {(r["a"], r["c"]) for r in rules.selectExpr("antecedent[0] a", "consequent c")
                 .where("size(antecedent) = 1").collect()}
        hit = len(set(planted) & found)
        results.append([dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"), _machine(), a.orders, a.products,
                        support, round(secs, 1), n_sets, n_rules, hit, len(planted)])
        print(f"support {support:.5f}: {secs:.1f} s, {n_sets} itemsets, {n_rules} rules, planted found {hit} of "
              f"{len(planted)}", file=sys.stderr)
    out = a.out or result_file("cross-sell-scale")
    append_csv(out, ["date", "machine", "orders", "products", "min_support", "seconds", "itemsets", "rules",
                     "planted_found", "planted"], results)
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
