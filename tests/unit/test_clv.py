"""BG/NBD and Gamma-Gamma against values computed by hand from the published formulas, the published
CDNOW example, and parameter recovery from data simulated by the models' own story."""

from __future__ import annotations

import math

import numpy as np
import pytest

from c360.features.clv import (
    BGNBD,
    GammaGamma,
    bgnbd_conditional_expected,
    bgnbd_expected,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    discounted_clv,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
)

# Fader, Hardie & Lee (2005), CDNOW sample: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (weeks)
CDNOW = BGNBD(0.243, 4.414, 0.793, 2.426)


def lbeta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def hand_ll(r, alpha, a, b, x, t_x, T):
    """FHL (2005) eq. (6) written out term by term."""
    first = math.exp(math.lgamma(r + x) - math.lgamma(r)) * alpha ** r
    term1 = math.exp(lbeta(a, b + x) - lbeta(a, b)) * (alpha + T) ** -(r + x)
    term2 = (math.exp(lbeta(a + 1, b + x - 1) - lbeta(a, b)) * (alpha + t_x) ** -(r + x)) if x > 0 else 0.0
    return math.log(first * (term1 + term2))


def hyp2f1_series(a, b, c, z, terms=2000):
    """Gauss's hypergeometric series, summed directly (|z| < 1)."""
    total, term = 1.0, 1.0
    for j in range(terms):
        term *= (a + j) * (b + j) / ((c + j) * (j + 1)) * z
        total += term
    return total


@pytest.mark.parametrize("x,t_x,T", [(0, 0.0, 38.86), (2, 30.43, 38.86), (7, 35.0, 36.0), (1, 0.5, 70.0)])
def test_bgnbd_log_likelihood_equals_eq6(x, t_x, T):
    got = bgnbd_log_likelihood(CDNOW, [x], [t_x], [T])[0]
    assert got == pytest.approx(hand_ll(CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b, x, t_x, T), rel=1e-10)


def test_bgnbd_no_repeat_purchase_is_gamma_survival():
    # x = 0: L = (alpha / (alpha + T))^r
    assert bgnbd_log_likelihood(CDNOW, [0], [0], [20.0])[0] == pytest.approx(
        CDNOW.r * math.log(CDNOW.alpha / (CDNOW.alpha + 20.0)), rel=1e-12)
    assert bgnbd_p_alive(CDNOW, [0], [0], [20.0])[0] == 1.0


def test_bgnbd_published_cdnow_example():
    # FHL (2005), section 5: a customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226
    # purchases in the next 39 weeks
    assert bgnbd_conditional_expected(CDNOW, 39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=5e-4)


def test_bgnbd_expectations_equal_eq9_eq10_by_hand():
    r, alpha, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b
    t = 26.0
    eq9 = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1_series(r, b, a + b - 1, t / (alpha + t)))
    assert bgnbd_expected(CDNOW, t) == pytest.approx(eq9, rel=1e-9)
    x, t_x, T = 3, 20.0, 30.0
    p_alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    eq10 = ((a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
            * hyp2f1_series(r + x, b + x, a + b + x - 1, t / (alpha + T + t))) * p_alive)
    assert bgnbd_conditional_expected(CDNOW, t, [x], [t_x], [T])[0] == pytest.approx(eq10, rel=1e-9)
    assert bgnbd_p_alive(CDNOW, [x], [t_x], [T])[0] == pytest.approx(p_alive, rel=1e-12)


def simulate_bgnbd(m: BGNBD, n: int, T: float, seed: int):
    """The model's story: lambda ~ Gamma(r, alpha), p ~ Beta(a, b); Poisson purchases; after each purchase the
    customer drops out with probability p. Returns x, t_x, T for customers observed for T after a first buy."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(m.r, 1 / m.alpha, n)
    p = rng.beta(m.a, m.b, n)
    xs, txs = np.zeros(n), np.zeros(n)
    for i in range(n):
        t, x, tx = 0.0, 0, 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x, tx = x + 1, t
            if rng.random() < p[i]:
                break
        xs[i], txs[i] = x, tx
    return xs, txs, np.full(n, T)


def test_bgnbd_fit_recovers_simulated_parameters():
    true = BGNBD(0.8, 6.0, 0.9, 3.0)
    x, t_x, T = simulate_bgnbd(true, 6000, 52.0, seed=3)
    fitted, diag = fit_bgnbd(x, t_x, T)
    assert diag["converged"]
    # the fitted model's log-likelihood is at least the true parameters' (it is the maximum)
    assert diag["log_likelihood"] >= bgnbd_log_likelihood(true, x, t_x, T).sum() - 1e-6
    assert fitted.r == pytest.approx(true.r, rel=0.15) and fitted.alpha == pytest.approx(true.alpha, rel=0.2)
    # the mean repeat purchases of the sample, reproduced by the fitted model
    assert bgnbd_expected(fitted, 52.0) == pytest.approx(x.mean(), rel=0.05)


def test_bgnbd_fit_with_counts_equals_fit_on_rows():
    x, t_x, T = simulate_bgnbd(BGNBD(0.5, 4.0, 0.7, 2.5), 2000, 30.0, seed=5)
    t_x, T = np.round(t_x), np.round(T)
    keys, n = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    a, _ = fit_bgnbd(x, t_x, T)
    b, _ = fit_bgnbd(keys[:, 0], keys[:, 1], keys[:, 2], n)
    assert np.allclose([a.r, a.alpha, a.a, a.b], [b.r, b.alpha, b.a, b.b], rtol=1e-3)


# FH (2013), CDNOW: p = 6.25, q = 3.74, gamma = 15.44
GG = GammaGamma(6.25, 3.74, 15.44)


def test_gamma_gamma_log_likelihood_and_expectation_by_hand():
    p, q, g = GG.p, GG.q, GG.gamma
    x, m = 3, 40.0
    hand = (math.lgamma(p * x + q) - math.lgamma(p * x) - math.lgamma(q) + q * math.log(g)
            + (p * x - 1) * math.log(m) + p * x * math.log(x) - (p * x + q) * math.log(g + m * x))
    assert gamma_gamma_log_likelihood(GG, [x], [m])[0] == pytest.approx(hand, rel=1e-12)
    # E[M | m, x] is the weighted mean of the population mean p*gamma/(q-1) and the customer's own mean
    w = p * x / (p * x + q - 1)
    expected = (1 - w) * p * g / (q - 1) + w * m
    assert gamma_gamma_expected_spend(GG, [x], [m])[0] == pytest.approx(expected, rel=1e-12)
    assert GG.mean_spend == pytest.approx(35.22, abs=0.01)
    assert gamma_gamma_expected_spend(GG, [0], [float("nan")])[0] == pytest.approx(GG.mean_spend)


def test_gamma_gamma_fit_recovers_simulated_parameters():
    rng = np.random.default_rng(9)
    true = GammaGamma(4.0, 5.0, 60.0)
    n = 8000
    nu = rng.gamma(true.q, 1 / true.gamma, n)
    x = rng.integers(1, 8, n)
    mean = np.array([rng.gamma(true.p, 1 / nu[i], x[i]).mean() for i in range(n)])
    fitted, diag = fit_gamma_gamma(x, mean)
    assert diag["converged"]
    assert fitted.mean_spend == pytest.approx(true.mean_spend, rel=0.08)
    assert fitted.p == pytest.approx(true.p, rel=0.15)


def test_discounted_clv_sums_discounted_monthly_expectations():
    x, t_x, T = [2], [30.43], [38.86]
    months, rate = 3, 0.12
    d = (1 + rate) ** (1 / 12) - 1
    cum = [bgnbd_conditional_expected(CDNOW, k * 365.25 / 12 / 7, x, t_x, T)[0] for k in range(0, months + 1)]
    hand = sum((cum[k] - cum[k - 1]) * 50.0 * 0.3 / (1 + d) ** k for k in range(1, months + 1))
    got = discounted_clv(CDNOW, x, t_x, T, [50.0], 0.3, months, rate, 7)[0]
    assert got == pytest.approx(hand, rel=1e-9)
