"""BG/NBD and Gamma-Gamma: likelihoods, maximum-likelihood fits and conditional expectations (numpy/scipy).

Formulas follow the published papers, with their equation numbers:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
  Pareto/NBD Model", Marketing Science 24(2). Per customer: ``x`` repeat purchases, the time of the last
  purchase ``t_x`` and the time since the first purchase ``T`` (all in the same unit, weeks by default).
  Log-likelihood: eq. (6); unconditional E[X(t)]: eq. (9); conditional E[Y(t) | x, t_x, T]: eq. (10);
  P(alive | x, t_x, T): from the same derivation (appendix), 1 / (1 + delta_{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).
- Gamma-Gamma spend: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value". Per customer with
  ``x >= 1`` repeat purchases of mean value ``m``: marginal density of ``m`` (eq. 4 of the note) and
  E[M | m, x] = (p (gamma + m x)) / (p x + q - 1) (eq. 5).

The fits take *sufficient statistics with counts* (``(x, t_x, T) -> n``), which Spark aggregates, so the
driver only sees the distinct patterns, and maximise the weighted log-likelihood with L-BFGS-B over the
logs of the parameters (positive by construction).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def mean_spend(self) -> float:
        """Population mean spend per transaction, p gamma / (q - 1) (finite when q > 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")


# ------------------------------------------------------------------------------------------ BG/NBD
def bgnbd_log_likelihood(m: BGNBD, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood, FHL (2005) eq. (6)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _odds_dead(m: BGNBD, x, t_x, T) -> np.ndarray:
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (m.a / np.maximum(m.b + x - 1, 1e-300)) * ((m.alpha + T) / (m.alpha + t_x)) ** (m.r + x)
    return np.where(x > 0, d, 0.0)


def bgnbd_p_alive(m: BGNBD, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T)."""
    return 1.0 / (1.0 + _odds_dead(m, x, t_x, T))


def bgnbd_conditional_expected(m: BGNBD, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods, FHL (2005) eq. (10)."""
    x, t_x, T, t = (np.asarray(v, dtype=float) for v in (x, t_x, T, t))
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return head * body / (1.0 + _odds_dead(m, x, t_x, T))


def bgnbd_expected(m: BGNBD, t) -> np.ndarray:
    """E[X(t)]: expected purchases of a new customer in ``t`` periods, FHL (2005) eq. (9)."""
    t = np.asarray(t, dtype=float)
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def _fit(neg_ll, x0: np.ndarray) -> tuple[np.ndarray, float, bool, int]:
    res = minimize(neg_ll, x0, method="L-BFGS-B", bounds=[(-15, 15)] * len(x0),
                   options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8})
    if np.any(np.abs(res.x) > 14.9):
        # a parameter ran to its bound: the data do not identify it (e.g. no spread in spend between
        # customers drives Gamma-Gamma's q and gamma to infinity); the expectations stay usable
        return np.exp(res.x), -float(res.fun), False, int(res.nit)
    return np.exp(res.x), -float(res.fun), bool(res.success), int(res.nit)


def fit_bgnbd(x, t_x, T, n=None, penalizer: float = 0.0) -> tuple[BGNBD, dict]:
    """Maximum likelihood over customers (or distinct patterns weighted by ``n``)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    n = np.ones_like(x) if n is None else np.asarray(n, dtype=float)
    scale = max(float(np.max(T)), 1e-9) / 10.0       # alpha is in time units: start near the data's scale

    def neg_ll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        ll = bgnbd_log_likelihood(BGNBD(r, alpha, a, b), x, t_x, T)
        return -(float(np.sum(n * ll)) - penalizer * float(np.sum(np.exp(theta) ** 2))) / n.sum()

    params, mean_ll, ok, it = _fit(neg_ll, np.log([1.0, scale, 1.0, 1.0]))
    model = BGNBD(*params)
    return model, {"log_likelihood": mean_ll * n.sum(), "customers": int(n.sum()), "converged": ok,
                   "iterations": it}


# ------------------------------------------------------------------------------------------ Gamma-Gamma
def gamma_gamma_log_likelihood(m: GammaGamma, x, mean_value) -> np.ndarray:
    """Per-customer log of the marginal density of the mean spend ``m`` given ``x`` transactions (FH 2013)."""
    x, mv = np.asarray(x, dtype=float), np.asarray(mean_value, dtype=float)
    p, q, g = m.p, m.q, m.gamma
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(g) + (p * x - 1) * np.log(mv)
            + p * x * np.log(x) - (p * x + q) * np.log(g + mv * x))


def gamma_gamma_expected_spend(m: GammaGamma, x, mean_value) -> np.ndarray:
    """E[M | m, x]: a weighted mean of the population mean and the customer's own mean; the population
    mean where ``x = 0``."""
    x = np.asarray(x, dtype=float)
    mv = np.nan_to_num(np.asarray(mean_value, dtype=float))
    return np.where(x > 0, m.p * (m.gamma + mv * x) / (m.p * x + m.q - 1), m.mean_spend)


def fit_gamma_gamma(x, mean_value, n=None, penalizer: float = 0.0) -> tuple[GammaGamma, dict]:
    x, mv = np.asarray(x, dtype=float), np.asarray(mean_value, dtype=float)
    keep = (x > 0) & (mv > 0)
    x, mv = x[keep], mv[keep]
    n = np.ones_like(x) if n is None else np.asarray(n, dtype=float)[keep]

    def neg_ll(theta: np.ndarray) -> float:
        p, q, g = np.exp(theta)
        ll = gamma_gamma_log_likelihood(GammaGamma(p, q, g), x, mv)
        return -(float(np.sum(n * ll)) - penalizer * float(np.sum(np.exp(theta) ** 2))) / n.sum()

    params, mean_ll, ok, it = _fit(neg_ll, np.log([1.0, 2.0, max(float(np.mean(mv)), 1e-6)]))
    return GammaGamma(*params), {"log_likelihood": mean_ll * n.sum(), "customers": int(n.sum()),
                                 "converged": ok, "iterations": it}


# ------------------------------------------------------------------------------------------ CLV
def discounted_clv(m: BGNBD, x, t_x, T, expected_spend, margin: float, months: int, annual_rate: float,
                   period_days: float) -> np.ndarray:
    """Sum over the next ``months`` of expected purchases in each month x expected spend x margin,
    discounted monthly at ``(1 + annual_rate)^(1/12) - 1``."""
    monthly = (1 + annual_rate) ** (1 / 12) - 1
    month_periods = 365.25 / 12 / period_days
    total = np.zeros(np.shape(np.asarray(x, dtype=float)))
    prev = np.zeros_like(total)
    for k in range(1, months + 1):
        cum = bgnbd_conditional_expected(m, k * month_periods, x, t_x, T)
        total += (cum - prev) * np.asarray(expected_spend, dtype=float) * margin / (1 + monthly) ** k
        prev = cum
    return total
