"""The Fellegi-Sunter model: m and u probabilities per comparison level, the match share, and scoring.

- **u** (P(level | non-match)) from a seeded random sample of record pairs: almost all are non-matches.
- **m** (P(level | match)) by expectation-maximisation over the blocked candidate pairs with u held fixed,
  one training session per blocking rule leaving out the comparisons on that rule's own columns (pairs
  found by "same email" say nothing about how often matches share an email); a comparison's m is the mean
  of its sessions' estimates. The EM runs on the driver over the distinct level patterns and their counts
  (aggregated in Spark), so it costs one small ``groupBy``, whatever the data size.
- **match share** (lambda): EM over all candidate patterns with m and u fixed.
- **Term frequency**: the exact level of a ``tf_adjust`` comparison weighs ``log2(m / tf(value))`` instead of
  ``log2(m / u)``, so agreeing on "Smith" counts less than agreeing on "Quennell" (Splink's adjustment).

Scoring: weight = log2(p / (1 - p)) + sum of level weights (+ tf adjustments), where the prior p is the
probability that two records drawn at random match (lambda x candidate pairs / all record pairs: the
blocking's own evidence is in the level weights, so the prior must not count it again);
probability = 2^w / (1 + 2^w). The fitted model is saved under ``<system>/resolve/model`` and reused
by later runs, so incremental and full runs score with the same parameters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from c360.config import C360Config, ClusterConfig, EMConfig, ResolveConfig
from c360.io import files
from c360.resolve.comparisons import Comparison

MODEL_FILE = "model.json"
M_FLOOR, U_FLOOR = 1e-6, 1e-9


@dataclass
class FSModel:
    labels: dict[str, list[str]]
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    #: share of matches among candidate pairs (EM)
    match_share: float
    fingerprint: str
    #: prior: probability that two records drawn at random match (= expected matches / all record pairs)
    random_match_probability: float = 0.0
    trained_at: str = ""
    diagnostics: dict = field(default_factory=dict)
    #: cannot_link rules this data contradicts (they fire on too many pairs that agree on an anchor
    #: identifier): not applied when scoring with this model
    disabled_rules: list[str] = field(default_factory=list)

    def weights(self, name: str) -> list[float]:
        return [math.log2(m / u) for m, u in zip(self.m[name], self.u[name], strict=True)]

    @property
    def prior_weight(self) -> float:
        p = self.random_match_probability or self.match_share
        return math.log2(p / (1 - p))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FSModel:
        return cls(**json.loads(text))


def fingerprint(r: ResolveConfig) -> str:
    """What the model depends on: comparisons and blocking rules (those the data has: a source that maps a new
    field changes them). A change triggers retraining."""
    payload = json.dumps({"comparisons": [c.model_dump() for c in r.comparisons],
                          "blocking": r.blocking.model_dump(), "seed": r.seed}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def scoring_version(r: ResolveConfig, model: FSModel) -> str:
    """What a stored score depends on: the model and the scoring settings (rules, threshold, tf floor).
    A stored pair score is reused only under the same version."""
    payload = json.dumps({"deterministic": [x.model_dump() for x in r.deterministic],
                          "cannot_link": [x.model_dump() for x in r.cannot_link],
                          "match_probability": r.match_probability, "tf_minimum": r.tf_minimum}, sort_keys=True)
    return f"{model.fingerprint}@{model.trained_at}#{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def model_dir(cfg: C360Config) -> str:
    return files.join(cfg.system_path, "resolve", "model")


def load(spark: SparkSession, cfg: C360Config) -> FSModel | None:
    text = files.read_text(spark, files.join(model_dir(cfg), MODEL_FILE))
    return FSModel.from_json(text) if text is not None else None


def save(spark: SparkSession, cfg: C360Config, model: FSModel) -> None:
    files.write_text(spark, files.join(model_dir(cfg), MODEL_FILE), model.to_json())


def tf_path(cfg: C360Config, name: str) -> str:
    return files.join(model_dir(cfg), f"tf_{name}")


# ------------------------------------------------------------------------------------------------ u
def u_from_counts(comparisons: list[Comparison], counts: dict[str, dict[int, int]]) -> dict[str, list[float]]:
    """u per level from level counts of random pairs; an unseen level gets half a pair (never zero)."""
    u = {}
    for c in comparisons:
        n = len(c.labels)
        seen = counts.get(c.name, {})
        total = sum(v for g, v in seen.items() if g >= 0)
        u[c.name] = [max(seen.get(i, 0), 0.5) / max(total, 1) for i in range(n)]
        s = sum(u[c.name])
        u[c.name] = [max(x / s, U_FLOOR) for x in u[c.name]]
    return u


def initial_m(comparison: Comparison) -> list[float]:
    """Starting m: most matches at the best level, geometrically fewer below, few at ``else``."""
    n = len(comparison.labels)
    raw = [0.9 * (0.25 ** i) for i in range(n - 1)] + [0.02]
    s = sum(raw)
    return [x / s for x in raw]


# ------------------------------------------------------------------------------------------------ EM
def _log_probs(gammas: np.ndarray, probs: list[np.ndarray], use: list[bool]) -> np.ndarray:
    out = np.zeros(gammas.shape[0])
    for j, p in enumerate(probs):
        if use[j]:
            g = gammas[:, j]
            out += np.where(g >= 0, np.log(p[np.clip(g, 0, None)]), 0.0)
    return out


def _reestimate(g: np.ndarray, w: np.ndarray, old: np.ndarray, floor: float) -> np.ndarray:
    present = g >= 0
    denom = w[present].sum()
    if denom <= 0:
        return old
    new = np.maximum(np.bincount(g[present], weights=w[present], minlength=len(old)) / denom, floor)
    return new / new.sum()


def em(gammas: np.ndarray, counts: np.ndarray, m: list[np.ndarray], u: list[np.ndarray],
       match_share: float, cfg: EMConfig, estimate: list[bool] | None = None,
       free_u: bool = False) -> tuple[list[np.ndarray], float, dict]:
    """Expectation-maximisation of m and the match share over level patterns.

    ``gammas``: (patterns, comparisons) levels with -1 for null; ``counts``: pairs per pattern. Only the
    comparisons with ``estimate[k]`` enter the likelihood and are re-estimated. With ``free_u`` the
    non-match distribution of those comparisons is re-estimated too, as a nuisance parameter: inside one
    blocking rule's pairs the non-matches agree far more often than random pairs (a household shares an
    email, surname and address), and holding u at its random-pair value would push them into the match
    class and inflate m of disagreement levels. Returns (m, match_share, diagnostics).
    """
    k = gammas.shape[1]
    estimate = estimate if estimate is not None else [True] * k
    m = [x.astype(float).copy() for x in m]
    u = [x.astype(float).copy() for x in u]
    lam, it, delta, loglik = match_share, 0, 1.0, float("nan")
    for it in range(1, cfg.max_iterations + 1):  # noqa: B007
        a = np.log(lam) + _log_probs(gammas, m, estimate)
        b = np.log1p(-lam) + _log_probs(gammas, u, estimate)
        top = np.maximum(a, b)
        loglik = float(np.sum(counts * (top + np.log(np.exp(a - top) + np.exp(b - top)))))
        p = 1.0 / (1.0 + np.exp(b - a))
        w, wn = counts * p, counts * (1.0 - p)
        new_lam = float(np.clip(w.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        delta = abs(new_lam - lam)
        for j in range(k):
            if not estimate[j]:
                continue
            new = _reestimate(gammas[:, j], w, m[j], M_FLOOR)
            delta = max(delta, float(np.max(np.abs(new - m[j]))))
            m[j] = new
            if free_u:
                u[j] = _reestimate(gammas[:, j], wn, u[j], U_FLOOR)
        lam = new_lam
        if delta < cfg.tolerance:
            break
    return m, lam, {"iterations": it, "converged": bool(delta < cfg.tolerance), "log_likelihood": loglik}


def _fit_match_share(gammas, counts, m, u, lam, cfg: EMConfig):
    """EM of the match share alone, m and u fixed."""
    use = [True] * gammas.shape[1]
    log_m, log_u = _log_probs(gammas, m, use), _log_probs(gammas, u, use)
    it = 0
    for it in range(1, cfg.max_iterations + 1):  # noqa: B007
        p = 1.0 / (1.0 + np.exp(np.log1p(-lam) + log_u - np.log(lam) - log_m))
        new = float(np.clip((counts * p).sum() / counts.sum(), 1e-9, 1 - 1e-9))
        done = abs(new - lam) < cfg.tolerance
        lam = new
        if done:
            break
    return m, lam, {"iterations": it}


def covered(comparison: Comparison, rule_keys: list[str]) -> bool:
    """Does a blocking rule's key use one of the comparison's columns (so its pairs all agree on it)?"""
    import re  # noqa: PLC0415

    text = " ".join(rule_keys)
    return any(re.search(rf"\b{re.escape(col)}\b", text) for col in comparison.own_columns)


def posterior(gammas: np.ndarray, m: list[np.ndarray], u: list[np.ndarray], lam: float) -> np.ndarray:
    """P(match | level pattern) of each row of ``gammas`` under the model (match share ``lam``)."""
    use = [True] * gammas.shape[1]
    return 1.0 / (1.0 + np.exp(np.log1p(-lam) + _log_probs(gammas, u, use) - np.log(lam) - _log_probs(gammas, m, use)))


def train(comparisons: list[Comparison], patterns: list[tuple], rules: dict[str, list[str]],
          u: dict[str, list[float]], r: ResolveConfig, n_records: int) -> FSModel:
    """Fit m (per blocking-rule sessions) and the match share from candidate-pair level patterns.

    ``patterns``: (gammas, blocked_by rules, pair count[, cannot_link rules that fire]) rows from the candidate
    pairs. A ``cannot_link`` rule is checked against the pairs that agree exactly on an *anchor* (an
    identifier that only one person holds: a national id, a loyalty card): when it fires on more than
    ``cannot_link_max_anchored_share`` of them, its "conflicts" are typos in this data, not other people, and
    it is listed in ``disabled_rules`` (and the diagnostics). EM alone cannot tell: a household agrees on
    surname, address, email and phone, so EM counts it among the matches just as it does a misspelt record.
    """
    em_cfg = r.em
    names = [c.name for c in comparisons]
    u_arr = [np.array(u[n]) for n in names]
    m0 = [np.array(initial_m(c)) for c in comparisons]
    total_pairs = sum(p[2] for p in patterns)
    diagnostics: dict = {"candidate_pairs": total_pairs, "patterns": len(patterns), "sessions": {}}
    if not patterns:
        gam = np.zeros((0, len(names)), dtype=int)
        cnt = np.zeros(0)
    else:
        gam = np.array([p[0] for p in patterns], dtype=int)
        cnt = np.array([p[2] for p in patterns], dtype=float)
    m_final = [x.copy() for x in m0]
    if total_pairs >= em_cfg.min_pairs:
        estimates: list[list[np.ndarray]] = [[] for _ in names]
        for rule, keys in rules.items():
            sel = np.array([rule in p[1] for p in patterns], dtype=bool)
            if sel.sum() == 0:
                continue
            est = [not covered(c, keys) for c in comparisons]
            m_s, lam_s, diag = em(gam[sel], cnt[sel], m0, u_arr, em_cfg.initial_match_share, em_cfg, est,
                                  free_u=not em_cfg.fix_u)
            diagnostics["sessions"][rule] = {**diag, "pairs": int(cnt[sel].sum()), "match_share": lam_s,
                                             "estimated": [n for n, e in zip(names, est, strict=True) if e]}
            for j, e in enumerate(est):
                if e:
                    estimates[j].append(m_s[j])
        for j, ests in enumerate(estimates):
            if ests:
                m_final[j] = np.mean(ests, axis=0)
        diagnostics["m_from_prior"] = [n for n, e in zip(names, estimates, strict=True) if not e]
    else:
        diagnostics["m_from_prior"] = names
        diagnostics["note"] = f"fewer than em.min_pairs={em_cfg.min_pairs} candidate pairs: m from priors"
    lam = em_cfg.initial_match_share
    disabled: list[str] = []
    if len(cnt):
        _, lam, diag = _fit_match_share(gam, cnt, m_final, u_arr, em_cfg.initial_match_share, em_cfg)
        diagnostics["match_share_fit"] = diag
        p = posterior(gam, m_final, u_arr, lam)
        anchors = [j for j, c in enumerate(comparisons) if c.config.anchor]
        anchored = np.zeros(len(cnt), dtype=bool)
        for j in anchors:
            anchored |= gam[:, j] == 0
        n_anchored = float(cnt[anchored].sum())
        checks = {}
        for rule in r.cannot_link:
            fires = np.array([rule.name in (row[3] if len(row) > 3 else ()) for row in patterns], dtype=bool)
            check = {"pairs": int(cnt[fires].sum()),
                     "em_match_share": round(float((cnt[fires] * p[fires]).sum() / max(cnt[fires].sum(), 1)), 4)}
            if n_anchored >= r.cannot_link_min_anchored_pairs:
                # pairs that agree exactly on an identifier no household shares are (nearly all) the same
                # person: a rule that stops many of them stops real matches in this data
                share = float(cnt[anchored & fires].sum() / n_anchored)
                check.update(anchored_pairs=int(n_anchored), share_of_anchored=round(share, 4),
                             applied=share <= r.cannot_link_max_anchored_share)
            else:
                check.update(anchored_pairs=int(n_anchored), applied=True,
                             note="too few pairs agreeing on an identifier to check the rule against")
            checks[rule.name] = check
            if not check["applied"]:
                disabled.append(rule.name)
        diagnostics["cannot_link"] = checks
    return FSModel(
        labels={c.name: c.labels for c in comparisons},
        m={n: [float(x) for x in m_final[j]] for j, n in enumerate(names)},
        u={n: [float(x) for x in u[n]] for n in names},
        match_share=float(lam), fingerprint=fingerprint(r), disabled_rules=disabled,
        random_match_probability=float(min(lam * total_pairs / max(n_records * (n_records - 1) / 2, 1), 0.5)),
        trained_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), diagnostics=diagnostics)


# ------------------------------------------------------------------------------------------------ scoring
def max_weight(model: FSModel, comparisons: list[Comparison]) -> float:
    """The match weight of a pair that agrees exactly on every comparison: the most evidence the data's fields
    can give (term-frequency adjustments aside; a level never seen among random pairs has a floor u and no
    meaningful weight of its own)."""
    return model.prior_weight + sum(model.weights(c.name)[0] for c in comparisons)


def strong_probability(model: FSModel, comparisons: list[Comparison], cfg: ClusterConfig) -> float:
    """The probability at which a match edge is strong (forms a core): ``cfg.strong_probability``, lowered to
    the probability of ``strong_share_of_max_weight`` of :func:`max_weight` where the fields present cannot
    give that much evidence (a names-only list: no pair could ever be strong, and every cluster would be
    held apart as single weak bridges)."""
    if not cfg.strong_share_of_max_weight:
        return cfg.strong_probability
    w = cfg.strong_share_of_max_weight * max_weight(model, comparisons)
    if w <= 0:
        return cfg.strong_probability
    return min(cfg.strong_probability, 1.0 / (1.0 + 2.0 ** -w))


def weight_columns(model: FSModel, comparisons: list[Comparison]) -> dict[str, Column]:
    """``w_<name>``: each comparison's weight from its level (0 for the null level)."""
    out = {}
    for c in comparisons:
        g = F.col(f"g_{c.name}")
        expr = F.when(g < 0, F.lit(0.0))
        for i, w in enumerate(model.weights(c.name)):
            expr = expr.when(g == i, F.lit(w))
        out[f"w_{c.name}"] = expr.otherwise(F.lit(0.0))
    return out


def tf_adjustment(pairs: DataFrame, model: FSModel, comparison: Comparison, tf_df: DataFrame,
                  tf_minimum: float) -> DataFrame:
    """Add ``tf_<name>``: log2(u_exact / tf(value)) on the exact level, else 0."""
    col = comparison.config.column
    u_exact = model.u[comparison.name][0]
    tf = F.broadcast(tf_df.select(F.col("value").alias(f"_tfv_{comparison.name}"),
                                  F.col("tf").alias(f"_tf_{comparison.name}")))
    joined = pairs.join(tf, F.col(f"l_{col}") == F.col(f"_tfv_{comparison.name}"), "left")
    freq = F.greatest(F.coalesce(F.col(f"_tf_{comparison.name}"), F.lit(tf_minimum)), F.lit(tf_minimum))
    adj = F.when(F.col(f"g_{comparison.name}") == 0, F.log2(F.lit(u_exact) / freq)).otherwise(F.lit(0.0))
    return joined.withColumn(f"tf_{comparison.name}", adj).drop(f"_tfv_{comparison.name}", f"_tf_{comparison.name}")


def term_frequencies(records: DataFrame, column: str) -> DataFrame:
    """``(value, tf)``: each value's share of the records that have one. One query: the total is the sum of
    the values' counts (a one-row aggregate of the same shuffle), not a count job of its own."""
    counts = records.where(F.col(column).isNotNull()).groupBy(F.col(column).alias("value")).count()
    total = counts.agg(F.sum("count").alias("_total"))
    return counts.crossJoin(total).select("value", (F.col("count") / F.col("_total")).alias("tf"))
