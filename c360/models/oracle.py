"""The oracle for churn on generated data: each person's probability of no purchase in ``(cutoff, cutoff +
horizon]`` from the generator's latent parameters, as known at the cutoff.

The generator (``c360.generate.behaviour.orders``) places orders as a Poisson process of ``purchase_rate``
orders a year while a person is active (from ``active_from``), thinned in the 120 days before their churn time
``T`` (kept with probability ``clip((T - t) / 120 days, 0.15, 1)``), none after ``T``; a share
``cancelled_share`` of orders is cancelled and does not count. A person churns during the period with
probability ``churn_probability``, at a time uniform on ``[churn_from, churn_to]``. The oracle knows these and
whether the person had churned by the cutoff, but not when a still-active person will churn: it averages
over ``T`` given survival to the cutoff. Ranking customers by it is the best any model of the observable
history could hope for, up to the noise of the draws.
"""

from __future__ import annotations

import numpy as np

DAY = 86400.0
DECAY_DAYS = 120.0
FLOOR = 0.15


def p_no_purchase(rate: np.ndarray, q: np.ndarray, active_from: np.ndarray, churn_at: np.ndarray,
                  churn_from: float, churn_to: float, cutoff: float, horizon_days: int, end: float,
                  cancelled_share: float = 0.03, t_steps: int = 46, T_steps: int = 40) -> np.ndarray:
    """P(no counted order in (cutoff, cutoff + horizon]) per person (times in epoch seconds; ``churn_at`` inf
    for people who never churn; only whether it is before the cutoff is used)."""
    rate = np.asarray(rate, float) * (1.0 - cancelled_share) / (365.0 * DAY)
    lo, hi = cutoff, min(cutoff + horizon_days * DAY, end)
    t = lo + (np.arange(t_steps) + 0.5) * (hi - lo) / t_steps                     # midpoints
    dt_ = (hi - lo) / t_steps
    live = (t[None, :] >= np.asarray(active_from, float)[:, None])                  # person x t
    # never churns after the cutoff: full rate
    lam_inf = rate * live.sum(axis=1) * dt_
    # churns at T, uniform on (max(cutoff, churn_from), churn_to)
    t0 = max(cutoff, churn_from)
    if churn_to > t0:
        Ts = t0 + (np.arange(T_steps) + 0.5) * (churn_to - t0) / T_steps
        keep = np.clip((Ts[:, None] - t[None, :]) / (DECAY_DAYS * DAY), FLOOR, 1.0) * (t[None, :] < Ts[:, None])
        lam_T = rate[:, None] * (live.astype(float) @ keep.T) * dt_                 # person x T
        churn_mass = np.asarray(q, float) * (churn_to - t0) / (churn_to - churn_from)
        pi = churn_mass / (1.0 - np.asarray(q, float) + churn_mass)
        p = (1.0 - pi) * np.exp(-lam_inf) + pi * np.exp(-lam_T).mean(axis=1)
    else:
        p = np.exp(-lam_inf)
    dead = np.asarray(churn_at, float) <= cutoff
    return np.where(dead, 1.0, p)
