"""Parts of identity resolution on hand-built inputs: comparison levels, EM, metrics, clustering, stable ids."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from pyspark.sql import functions as F

from c360.config import (
    BlockingConfig,
    BlockingRule,
    ClusterConfig,
    ComparisonConfig,
    EMConfig,
    GraphConfig,
    ResolveConfig,
)
from c360.resolve.blocking import KEY_SEP, candidate_pairs
from c360.resolve.cluster import guarded_clusters
from c360.resolve.comparisons import build
from c360.resolve.evaluate import identity_metrics
from c360.resolve.guard import settle_links, split_conflicts
from c360.resolve.ids import assign_ids
from c360.resolve.model import em, term_frequencies


# ------------------------------------------------------------------------------------------ comparisons
def _levels(spark, cfg: ComparisonConfig, rows, schema):
    cmp = build([cfg])[0]
    df = spark.createDataFrame(rows, schema)
    df = df.withColumns(cmp.similarities()).withColumn(f"g_{cmp.name}", cmp.gamma())
    return [r["lvl"] for r in df.select(cmp.label().alias("lvl")).collect()]


def test_name_levels(spark):
    cfg = ComparisonConfig(name="first_name", type="name", column="f", canonical="fc", swap_with="s",
                           thresholds=[0.92, 0.8])
    rows = [
        ("robert", "robert", "robert", "robert", "smith", "smith"),      # exact
        ("bob", "robert", "robert", "robert", "smith", "smith"),         # nickname
        ("smith", "robert", "smith", "robert", "robert", "smith"),       # swapped
        ("jonathon", "jonathan", "jonathon", "jonathan", "x", "y"),      # typo: jw 0.95
        ("jones", "david", "jones", "david", "davy", "jones"),           # swapped, with a nickname
        ("benjamin", "haymont", "benjamin", "haymont", "hayont", "benjamin"),  # swapped, with a typo
        ("tmmy", "thomas", "tmmy", "thomas", "x", "y"),                  # same initial only
        ("alice", "brian", "alice", "brian", "x", "y"),                  # else
        ("jones", "david", "jones", "david", "ben", "jones"),            # swapped, other first name: else
        (None, "brian", None, "brian", "x", "y"),                        # null
    ]
    schema = "l_f string, r_f string, l_fc string, r_fc string, l_s string, r_s string"
    assert _levels(spark, cfg, rows, schema) == ["exact", "nickname", "swapped", "jw0.92", "swapped_close",
                                                 "swapped_close", "initial", "else", "else", None]


def test_date_email_phone_levels(spark):
    date = ComparisonConfig(name="dob", type="date", column="d")
    rows = [("1980-01-02", "1980-01-02"), ("1980-01-02", "1980-01-03"), ("1980-03-04", "1980-04-03"),
            ("1980-01-02", "1975-06-30"), ("1980-01-02", None)]
    df_rows = [(F_date(a), F_date(b)) for a, b in rows]
    assert _levels(spark, date, df_rows, "l_d date, r_d date") == ["exact", "typo", "typo", "else", None]
    email = ComparisonConfig(name="email", type="email", column="e", thresholds=[0.9])
    rows = [("a.b@x.com", "a.b@x.com"), ("a.b@x.com", "a.b@y.org"), ("john.smith@x.com", "john.smit@x.com"),
            ("john.smith@x.com", "jonh.smith@x.com"), ("john.smith12@x.com", "john.smith45@x.com"),
            ("a@x.com", "zz@q.org")]
    # one edit is a typo; a transposition (two edits) reaches Jaro-Winkler; namesakes' numbered addresses
    # are also Jaro-Winkler-close, which is why conf/base/resolve.yml sets no email threshold
    assert _levels(spark, email, rows, "l_e string, r_e string") == ["exact", "local_part", "typo", "jw0.9",
                                                                     "jw0.9", "else"]
    phone = ComparisonConfig(name="phone", type="phone", column="p")
    rows = [("+61412345678", "+61412345678"), ("+61412345678", "+61412345679"), ("+61412345678", "+61498765432")]
    assert _levels(spark, phone, rows, "l_p string, r_p string") == ["exact", "typo", "else"]


def F_date(s):  # noqa: N802
    import datetime as dt
    return None if s is None else dt.date.fromisoformat(s)


# ------------------------------------------------------------------------------------------ EM
def test_em_recovers_m_from_simulated_pairs():
    """Pairs simulated from known m, u and match share; EM (u fixed) must find m and the share again."""
    rng = np.random.default_rng(3)
    m_true = [np.array([0.9, 0.07, 0.03]), np.array([0.85, 0.15]), np.array([0.8, 0.1, 0.1])]
    u_true = [np.array([0.01, 0.04, 0.95]), np.array([0.05, 0.95]), np.array([0.02, 0.08, 0.9])]
    lam, n = 0.3, 200_000
    is_match = rng.random(n) < lam
    cols = []
    for m, u in zip(m_true, u_true, strict=True):
        g = np.where(is_match, rng.choice(len(m), n, p=m), rng.choice(len(u), n, p=u))
        g[rng.random(n) < 0.1] = -1  # some nulls
        cols.append(g)
    gam = np.stack(cols, axis=1)
    patterns, counts = np.unique(gam, axis=0, return_counts=True)
    m0 = [np.array([0.6, 0.3, 0.1]), np.array([0.6, 0.4]), np.array([0.6, 0.3, 0.1])]
    m_est, lam_est, diag = em(patterns, counts.astype(float), m0, u_true, 0.5, EMConfig(max_iterations=500))
    assert diag["converged"]
    assert lam_est == pytest.approx(lam, abs=0.01)
    for est, true in zip(m_est, m_true, strict=True):
        np.testing.assert_allclose(est, true, atol=0.015)


# ------------------------------------------------------------------------------------------ metrics
def _reference_metrics(pred: list[str], truth: list[str]) -> dict[str, float]:
    """A second, plain-Python implementation straight from the definitions."""
    n = len(pred)
    pairs = list(itertools.combinations(range(n), 2))
    same_pred = {p for p in pairs if pred[p[0]] == pred[p[1]]}
    same_true = {p for p in pairs if truth[p[0]] == truth[p[1]]}
    tp = len(same_pred & same_true)
    p = tp / len(same_pred) if same_pred else 1.0
    r = tp / len(same_true) if same_true else 1.0
    b3p = sum(sum(1 for j in range(n) if pred[j] == pred[i] and truth[j] == truth[i]) /
              sum(1 for j in range(n) if pred[j] == pred[i]) for i in range(n)) / n
    b3r = sum(sum(1 for j in range(n) if pred[j] == pred[i] and truth[j] == truth[i]) /
              sum(1 for j in range(n) if truth[j] == truth[i]) for i in range(n)) / n
    return {"pairwise_precision": p, "pairwise_recall": r, "bcubed_precision": b3p, "bcubed_recall": b3r}


def test_term_frequencies_are_shares_of_the_present_values(spark):
    rows = [("smith",), ("smith",), ("jones",), (None,), ("smith",), ("lee",)]
    tf = {r["value"]: r["tf"] for r in term_frequencies(spark.createDataFrame(rows, "name string"), "name").collect()}
    assert tf == {"smith": 3 / 5, "jones": 1 / 5, "lee": 1 / 5}  # the null is neither a value nor counted
    assert term_frequencies(spark.createDataFrame([(None,)], "name string"), "name").count() == 0


def test_identity_metrics_equal_a_plain_python_reference(spark):
    rnd = random.Random(5)
    truth = [f"P{rnd.randint(0, 40)}" for _ in range(150)]
    # predictions: the truth with some merges and splits
    pred = [t if rnd.random() > 0.15 else f"P{rnd.randint(0, 40)}" for t in truth]
    pred = [p + ("x" if rnd.random() < 0.05 else "") for p in pred]
    df = spark.createDataFrame(list(zip(pred, truth, strict=True)), "customer_id string, person_id string")
    got = identity_metrics(df)
    for k, v in _reference_metrics(pred, truth).items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    assert got["records"] == 150


# ------------------------------------------------------------------------------------------ blocking
def test_candidate_pairs_equal_a_plain_python_reference(spark):
    """All rules in one pass: the pairs, the rules that found each and the skipped keys, against loops."""
    rnd = random.Random(11)
    rules = [BlockingRule(name="email", keys=["email"]), BlockingRule(name="pc", keys=["pc"], max_block_size=4),
             BlockingRule(name="name_pc", keys=["name", "pc"])]
    recs = [(f"r{i:02d}", rnd.choice(["a@x", "b@x", "c@x", None]), rnd.choice(["1000", "2000", "3000", None]),
             rnd.choice(["ann", "bob"])) for i in range(40)]
    df = spark.createDataFrame(recs, "rk string, email string, pc string, name string")
    for r in rules:  # the key columns prepare_records builds: null unless every part is present
        present = F.lit(True)
        for k in r.keys:
            present = present & F.col(k).isNotNull()
        df = df.withColumn(f"k_{r.name}", F.when(present, F.concat_ws(KEY_SEP, *r.keys)))
    # fixed caps (block_size_skew 0, a budget no rule reaches): the reference applies them as they are
    cfg = ResolveConfig(blocking=BlockingConfig(max_block_size=9, rules=rules, block_size_skew=0))
    pairs, report = candidate_pairs(df, cfg, n_records=len(recs))
    got = {(r["rk_l"], r["rk_r"]): r["blocked_by"] for r in pairs.collect()}

    want: dict[tuple[str, str], list[str]] = {}
    want_report = {}
    for rule in rules:
        cap = rule.max_block_size or 9
        blocks: dict[str, list[str]] = {}
        for rk, email, pc, name in recs:
            vals = {"email": email, "pc": pc, "name": name}
            parts = [vals[k] for k in rule.keys]
            if all(parts):
                blocks.setdefault(KEY_SEP.join(parts), []).append(rk)
        big = {k: len(v) for k, v in blocks.items() if len(v) > cap}
        want_report[rule.name] = (len(big), sum(big.values()))
        for k, members in blocks.items():
            if k not in big:
                for a, b in itertools.combinations(sorted(members), 2):
                    want.setdefault((a, b), []).append(rule.name)
    assert got == {k: sorted(v) for k, v in want.items()}
    assert {b["rule"]: (b["skipped_keys"], b["skipped_records"]) for b in report} == want_report
    assert want_report["pc"][0] > 0 and want_report["email"][0] > 0   # the caps did bite


# ------------------------------------------------------------------------------------------ clustering
def _clusters(spark, vertices, strong, weak, cfg=None, conflicts=None):
    """Clusters, held edges and report, checked equal with the neighbourhoods settled on the driver (the
    ``auto`` graph backend) and on the executors (``mapInPandas``: more core links than ``local_max_edges``)."""
    v = spark.createDataFrame([(x, True) for x in vertices], "id string, is_record boolean")
    s = spark.createDataFrame(strong, "src string, dst string")
    w = spark.createDataFrame([(*e, 10.0)[:3] for e in weak], "src string, dst string, weight double")
    c = None if conflicts is None else spark.createDataFrame(conflicts, "src string, dst string")
    found = []
    for graph in (GraphConfig(backend="auto"), GraphConfig(backend="local", local_max_edges=0)):
        out, held, report = guarded_clusters(v, s, w, cfg or ClusterConfig(), graph, c)
        found.append(({r["id"]: r["cluster"] for r in out.collect()}, {tuple(r) for r in held.collect()}, report))
    assert found[0] == found[1]
    return found[0]


def test_single_weak_edge_between_two_groups_is_held_for_review(spark):
    strong = [("a1", "a2"), ("a2", "a3"), ("b1", "b2"), ("b2", "b3")]
    got, held, report = _clusters(spark, ["a1", "a2", "a3", "b1", "b2", "b3", "c"], strong,
                                  [("a3", "b1"), ("a1", "c")])
    assert got["a1"] == got["a2"] == got["a3"] == got["c"]   # a weak edge to a lone record is followed
    assert got["b1"] == got["b2"] == got["b3"] != got["a1"]  # a lone weak bridge between groups is not
    assert held == {("a3", "b1")} and report["weak_bridges_held_for_review"] == 1
    # two agreeing weak edges are enough
    got, held, _ = _clusters(spark, ["a1", "a2", "a3", "b1", "b2", "b3"], strong, [("a3", "b1"), ("a2", "b2")])
    assert len(set(got.values())) == 1 and not held


def test_a_lone_record_between_two_groups_joins_only_the_clearly_better_one(spark):
    # r matches James Smith a (a1, a2) and James Smith b (b1, b2), two groups with no bridge of their own
    strong = [("a1", "a2"), ("b1", "b2")]
    vertices = ["a1", "a2", "b1", "b2", "r"]
    got, held, report = _clusters(spark, vertices, strong, [("a1", "r", 8.0), ("b1", "r", 7.5)])
    assert len({got["a1"], got["b1"], got["r"]}) == 3        # too close to call: r stays alone
    assert held == {("a1", "r"), ("b1", "r")}
    assert report["ambiguous_records"] == 1 and report["ambiguous_records_joined_best"] == 0
    got, held, report = _clusters(spark, vertices, strong, [("a1", "r", 12.0), ("b1", "r", 7.5)])
    assert got["r"] == got["a1"] != got["b1"]                 # clearly better: r joins a only
    assert held == {("b1", "r")} and report["ambiguous_records_joined_best"] == 1
    # when the two groups are bridged on their own (two agreeing weak edges), r is not ambiguous
    got, held, report = _clusters(spark, vertices, strong,
                                  [("a1", "r", 8.0), ("b1", "r", 7.5), ("a1", "b1"), ("a2", "b2")])
    assert len(set(got.values())) == 1 and not held and report["ambiguous_records"] == 0
    # three lone records of one person, pairwise matched, stay one cluster
    got, held, _ = _clusters(spark, ["x", "y", "z"], [], [("x", "y", 5.0), ("x", "z", 5.0), ("y", "z", 5.0)])
    assert len(set(got.values())) == 1 and not held


def test_split_conflicts_follows_the_strongest_bridges_that_join_no_conflicting_cores():
    # x matches core A better than core B; A and B conflict: x stays with A, B is cut off
    assert split_conflicts([("A", "x", 8.0), ("B", "x", 6.0)], [("A", "B")]) == {"A": "A", "x": "A", "B": "B"}
    # a chain A - y - B - C where A and C conflict: the weakest link on the path between them gives
    assert split_conflicts([("A", "y", 9.0), ("B", "y", 3.0), ("B", "C", 7.0)], [("A", "C")]) == \
        {"A": "A", "y": "A", "B": "B", "C": "B"}
    # no conflict: everything stays together, named by its smallest core
    assert set(split_conflicts([("b", "c", 1.0), ("a", "b", 2.0)], []).values()) == {"a"}
    # equal weights are taken in core-id order, so the result does not depend on row order
    edges = [("A", "x", 5.0), ("B", "x", 5.0)]
    assert split_conflicts(edges, [("A", "B")]) == split_conflicts(edges[::-1], [("B", "A")]) == \
        {"A": "A", "x": "A", "B": "B"}


def test_settle_links_decides_each_neighbourhood_on_its_own():
    # 1: lone record r between cores A and B (no bridge of their own), clearly closer to A
    one = ({("A", "r"): (1, 12.0), ("B", "r"): (1, 7.5)}, {"A": 2, "B": 2, "r": 1}, [])
    # 2: lone record l and two edges bridge cores P and Q, which conflict: l stays with P, its better match
    two = ({("P", "l"): (1, 9.0), ("Q", "l"): (1, 3.0), ("P", "Q"): (2, 4.0)}, {"P": 2, "Q": 2, "l": 1},
           [("Q", "P")])
    both = settle_links({**one[0], **two[0]}, {**one[1], **two[1]}, one[2] + two[2], 2, 1.0)
    assert both.cluster == {"A": "A", "r": "A", "B": "B", "P": "P", "l": "P", "Q": "Q"}
    assert set(both.rejected) == {("B", "r"), ("Q", "l"), ("P", "Q")}
    assert both.counts == {"weak_bridges_held_for_review": 1, "core_links": 5, "ambiguous_records": 1,
                           "ambiguous_records_joined_best": 1, "conflicted_clusters": 1,
                           "conflicted_clusters_split": 1, "bridges_undone_by_conflicts": 2}
    # settled apart, the two neighbourhoods give the same (so they can be spread over partitions)
    apart = [settle_links(*n, 2, 1.0) for n in (one, two)]
    assert {**apart[0].cluster, **apart[1].cluster} == both.cluster
    assert set(apart[0].rejected + apart[1].rejected) == set(both.rejected)
    assert {k: apart[0].counts[k] + apart[1].counts[k] for k in both.counts} == both.counts


def test_two_households_joined_by_name_only_bridges_are_split_by_their_conflict(spark):
    # John Smith senior (a1, a2) and junior (b1, b2) of one postcode; two loyalty cards with only the name and
    # postcode (l, m) bridge them. a2 and b2 differ in birth date (a cannot_link decision): a conflict.
    strong = [("a1", "a2"), ("b1", "b2")]
    vertices = ["a1", "a2", "b1", "b2", "l", "m"]
    weak = [("a1", "l", 9.0), ("b1", "l", 3.0), ("a1", "b1", 4.0), ("a2", "b2", 4.0), ("b2", "m", 6.0)]
    got, held, report = _clusters(spark, vertices, strong, weak)
    assert len(set(got.values())) == 1                        # without conflicts: one customer
    got, held, report = _clusters(spark, vertices, strong, weak, conflicts=[("b2", "a2")])
    assert got["a1"] == got["a2"] == got["l"] != got["b1"]
    assert got["b1"] == got["b2"] == got["m"]
    assert held == {("b1", "l"), ("a1", "b1"), ("a2", "b2")}  # the bridges undone are marked review
    assert report["conflicted_clusters"] == 1 and report["conflicted_clusters_split"] == 1
    assert report["bridges_undone_by_conflicts"] == 2         # core links: a-b (two edges) and b-l
    # a conflict inside one core (strong evidence both ways) cannot be settled here: counted, nothing split
    got, held, report = _clusters(spark, vertices, strong, weak, conflicts=[("a1", "a2")])
    assert len(set(got.values())) == 1 and not held
    assert report["conflicts_inside_cores"] == 1 and report["conflicted_clusters"] == 0


def test_chain_is_one_cluster_and_oversized_clusters_fall_back_to_cores(spark):
    got, _, _ = _clusters(spark, ["x1", "x2", "x3"], [("x1", "x2"), ("x2", "x3")], [])
    assert len(set(got.values())) == 1
    strong = [("a1", "a2"), ("b1", "b2")]
    got, _, report = _clusters(spark, ["a1", "a2", "b1", "b2"], strong, [("a1", "b1"), ("a2", "b2")],
                               ClusterConfig(max_cluster_size=3, cluster_size_skew=0))
    assert got["a1"] == got["a2"] != got["b1"] == got["b2"]
    assert report["oversized_clusters"] == 2


# ------------------------------------------------------------------------------------------ stable ids
def test_ids_survive_merges_and_splits(spark):
    import datetime as dt

    def df(rows, schema):
        return spark.createDataFrame(rows, schema)

    first, events = assign_ids(df([("r1", "r1"), ("r2", "r1"), ("r3", "r3")], "id string, cluster string"),
                               None, None, "run1")
    ids1 = {r["id"]: r["customer_id"] for r in first.collect()}
    assert ids1["r1"] == ids1["r2"] != ids1["r3"]
    assert {r["event"] for r in events.collect()} == {"created"}
    # run 2: r3's customer is older; r1, r2, r3 merge -> keep the older id (r3's), retire the other
    history = df([(ids1["r1"], "created", dt.datetime(2026, 2, 1)), (ids1["r3"], "created", dt.datetime(2026, 1, 1))],
                 "customer_id string, event string, at timestamp")
    prev = df(list(ids1.items()), "id string, customer_id string")
    second, events = assign_ids(df([("r1", "r1"), ("r2", "r1"), ("r3", "r1"), ("r4", "r4")],
                                   "id string, cluster string"), prev, history, "run2")
    ids2 = {r["id"]: r["customer_id"] for r in second.collect()}
    assert ids2["r1"] == ids2["r2"] == ids2["r3"] == ids1["r3"]
    ev = {(r["event"], r["related_id"]) for r in events.collect()}
    assert ("merged", ids1["r1"]) in ev and ("created", "") in ev
    # run 3: r1 and r2 split apart -> the bigger part keeps the id, the other part is a split with a fresh id
    prev = df(list(ids2.items()), "id string, customer_id string")
    third, events = assign_ids(df([("r1", "r1"), ("r3", "r1"), ("r2", "r2"), ("r4", "r4")],
                                  "id string, cluster string"), prev, history, "run3")
    ids3 = {r["id"]: r["customer_id"] for r in third.collect()}
    assert ids3["r1"] == ids3["r3"] == ids1["r3"] and ids3["r4"] == ids2["r4"]
    assert ids3["r2"] not in set(ids2.values())
    assert {(r["event"], r["related_id"]) for r in events.collect()} == {("split", ids1["r3"])}
