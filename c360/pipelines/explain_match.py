"""`c360 explain-match LEFT RIGHT` (records as ``source:record_id``): why two records were or weren't linked.

Shows, with the stored model, each comparison's level, both values, m, u and weight (with the term
frequency adjustment), the prior, total weight and probability, the deterministic and cannot-link rules
that fire, which blocking rules pair the two records (or why none does), the decision stored in
``silver.identity_edges`` and each record's ``customer_id``. Usable from a notebook as
``explain(ctx, left, right)``, which returns the same facts as a dict.
"""

from __future__ import annotations

import click
from pyspark.sql import functions as F

from c360.errors import NotBuiltError, UsageError
from c360.io.delta import exists, read_table
from c360.pipelines import JobContext
from c360.resolve import model as M
from c360.resolve.blocking import (
    block_caps,
    block_sizes,
    compare,
    compare_columns,
    keyed_records,
    prepare_records,
    record_key,
    with_sides,
)
from c360.resolve.comparisons import build
from c360.resolve.matching import score
from c360.resolve.settings import effective_settings
from c360.tables import table


def explain(ctx: JobContext, left: str, right: str) -> dict:
    spark, cfg = ctx.spark, ctx.cfg
    model = M.load(spark, cfg)
    if model is None:
        raise NotBuiltError("no identity model yet: run `c360 resolve` first")
    for key in (left, right):
        if ":" not in key:
            raise UsageError(f"record '{key}': expected <source>:<record_id>, e.g. crm:C0000000001")
    person = read_table(spark, cfg, table("silver.person"))
    r, report = effective_settings(person, cfg.resolve)
    comparisons = build(r.comparisons)
    records = prepare_records(person, r, comparisons).localCheckpoint()
    n_records = report["records"]
    lk, rk = sorted([left, right])
    both = records.where(F.col("rk").isin(lk, rk)).localCheckpoint()
    found = {row["rk"] for row in both.select("rk").collect()}
    for key in (lk, rk):
        if key not in found:
            raise UsageError(f"record '{key}' is not in silver.person")
    blocking = []
    rows = {row["rk"]: row for row in both.collect()}
    sizes = keyed_records(records, r.blocking.rules).groupBy("rule", "key").count().where("count > 1")
    caps = block_caps(sizes, r.blocking.rules, r.blocking, n_records)
    for rule, cap in zip(r.blocking.rules, caps, strict=True):
        kl, kr = rows[lk][f"k_{rule.name}"], rows[rk][f"k_{rule.name}"]
        if kl is None or kr is None or kl != kr:
            blocking.append({"rule": rule.name, "pairs": False, "why": "different or missing key"})
            continue
        size = block_sizes(records.where(F.col(f"k_{rule.name}") == kl), rule).first()["count"]
        blocking.append({"rule": rule.name, "pairs": size <= cap,
                         "why": f"same key, block of {size} records" + (f" > max {cap}: skipped" if size > cap else "")})
    columns = [*compare_columns(comparisons, r, records.columns), "rec_hash"]
    pair = spark.createDataFrame([(lk, rk, [b["rule"] for b in blocking if b["pairs"]])],
                                 "rk_l string, rk_r string, blocked_by array<string>")
    scored = score(compare(with_sides(pair, both, columns), comparisons), model, comparisons, spark, cfg, r).first()
    detail = []
    for c in comparisons:
        g = scored[f"g_{c.name}"]
        detail.append({"comparison": c.name, "level": scored["levels"][c.name] or "null",
                       "left": rows[lk][c.config.column], "right": rows[rk][c.config.column],
                       "m": model.m[c.name][g] if g >= 0 else None, "u": model.u[c.name][g] if g >= 0 else None,
                       "weight": scored["weights"][c.name]})
    stored, cids = None, {}
    if exists(spark, cfg, table("silver.identity_edges")):
        hit = (read_table(spark, cfg, table("silver.identity_edges"))
               .where((F.col("left_key") == lk) & (F.col("right_key") == rk)).select("decision").first())
        stored = hit["decision"] if hit else "not a candidate pair"
    if exists(spark, cfg, table("silver.customer_xref")):
        x = read_table(spark, cfg, table("silver.customer_xref")).withColumn(
            "k", record_key()).where(F.col("k").isin(lk, rk))
        cids = {row["k"]: row["customer_id"] for row in x.collect()}
    return {"left": lk, "right": rk, "comparisons": detail, "prior_weight": model.prior_weight,
            "match_weight": scored["match_weight"], "match_probability": scored["match_probability"],
            "threshold": r.match_probability, "deterministic_rules": list(scored["deterministic_rules"]),
            "cannot_link_rules": list(scored["cannot_link_rules"]), "decision": scored["decision"],
            "stored_decision": stored, "blocking": blocking, "customer_ids": cids}


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run(ctx: JobContext, left: str, right: str) -> dict:
    e = explain(ctx, left, right)
    echo = click.echo
    echo(f"{e['left']}  vs  {e['right']}")
    echo(f"{'comparison':<14} {'level':<10} {'left':<28} {'right':<28} {'m':>9} {'u':>9} {'weight':>7}")
    for d in e["comparisons"]:
        echo(f"{d['comparison']:<14} {d['level']:<10} {_fmt(d['left'])[:28]:<28} {_fmt(d['right'])[:28]:<28} "
             f"{_fmt(d['m']):>9} {_fmt(d['u']):>9} {d['weight']:>7.2f}")
    echo(f"prior weight {e['prior_weight']:.2f}; total weight {e['match_weight']:.2f}; "
         f"probability {e['match_probability']:.6f} (threshold {e['threshold']})")
    echo(f"deterministic rules: {e['deterministic_rules'] or 'none'}; cannot-link rules: "
         f"{e['cannot_link_rules'] or 'none'}")
    for b in e["blocking"]:
        echo(f"blocking {b['rule']:<20} {'pairs them' if b['pairs'] else 'no'}: {b['why']}")
    echo(f"decision now: {e['decision']}; stored in silver.identity_edges: {e['stored_decision']}")
    echo(f"customer ids: {e['customer_ids'] or 'not resolved yet'}")
    return {"decision": e["decision"], "probability": round(e["match_probability"], 6)}
