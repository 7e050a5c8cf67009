"""Predicted customer value: BG/NBD (how often a customer buys and whether they are
still a customer) with Gamma-Gamma (how much they spend per visit).

A small implementation of the published log-likelihoods, fitted with
``scipy.optimize``, rather than a library:

- ``lifetimes`` (the reference implementation) has had no release since 2020, pins
  old pandas behaviour and pulls in autograd and pandas for what is a 4-parameter fit;
- ``btyd`` is its fork with one beta release (2022), same dependency weight;
- ``pymc-marketing`` brings PyMC, PyTensor and ArviZ (hundreds of MB, a compiler at
  import) for a Bayesian fit we do not need nightly.

numpy and scipy are maintained, ship wheels, and the formulas below are the
papers' own, term for term:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way",
  Marketing Science 24(2), equations (6), (10) and (13) (the log-likelihood,
  the conditional expectation and P(alive));
- Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value",
  equations (1) and (5).

Inputs are per-customer arrays in one time unit (the project uses days):
``frequency`` x = repeat purchases (purchase days after the first),
``recency`` t_x = time from the first to the last purchase, ``T`` = time from the
first purchase to the end of the observation. Floats are used inside the fit
(statistics); callers turn money back into Decimal before storing it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

Array = np.ndarray


class FitError(ValueError):
    """The optimiser did not converge (too little or degenerate data)."""


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float  # the papers' gamma (scale of the spend distribution)


def _as_arrays(*columns) -> list[Array]:
    return [np.asarray(c, dtype=float) for c in columns]


def bgnbd_log_likelihood(params: BgNbdParams, frequency, recency, T) -> Array:
    """Each customer's log-likelihood, FHL (2005) eq. (6)."""
    x, t_x, T = _as_arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # ln(a / (b + x - 1)) - (r + x) ln(alpha + t_x), only where x > 0 (else the term is absent).
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)


def _minimise(negative_ll, start: Array) -> Array:
    # Parameters are positive: optimise their logarithms (unconstrained), first with
    # Nelder-Mead (robust from a poor start), then polish with BFGS.
    result = optimize.minimize(
        negative_ll, np.log(start), method="Nelder-Mead", options={"maxiter": 2000, "xatol": 1e-7, "fatol": 1e-9}
    )
    polished = optimize.minimize(negative_ll, result.x, method="BFGS", options={"gtol": 1e-8})
    best = polished if polished.success and polished.fun <= result.fun else result
    if not np.all(np.isfinite(best.x)) or not np.isfinite(best.fun):
        raise FitError("the likelihood could not be maximised")
    return np.exp(best.x)


def fit_bgnbd(frequency, recency, T) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters."""
    x, t_x, T = _as_arrays(frequency, recency, T)
    if len(x) == 0:
        raise FitError("no customers")

    def negative_ll(log_params: Array) -> float:
        r, alpha, a, b = np.exp(log_params)
        if not np.all(np.isfinite([r, alpha, a, b])):
            return np.inf
        ll = bgnbd_log_likelihood(BgNbdParams(r, alpha, a, b), x, t_x, T).sum()
        return -ll if np.isfinite(ll) else np.inf

    scale = float(np.mean(T)) or 1.0
    r, alpha, a, b = _minimise(negative_ll, np.array([1.0, scale, 1.0, 1.0]))
    return BgNbdParams(r=float(r), alpha=float(alpha), a=float(a), b=float(b))


def _alive_odds(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x): the denominator's second term."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    log_term = (
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(repeat, np.exp(np.minimum(log_term, 700.0)), 0.0)


def probability_alive(params: BgNbdParams, frequency, recency, T) -> Array:
    """P(still a customer | x, t_x, T), FHL (2005) eq. (13)."""
    x, t_x, T = _as_arrays(frequency, recency, T)
    return 1.0 / (1.0 + _alive_odds(params, x, t_x, T))


def expected_purchases(params: BgNbdParams, t: float, frequency, recency, T) -> Array:
    """E[purchases in (T, T + t] | x, t_x, T], FHL (2005) eq. (10)."""
    x, t_x, T = _as_arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    return numerator / (1.0 + _alive_odds(params, x, t_x, T))


def gamma_gamma_log_likelihood(params: GammaGammaParams, frequency, monetary) -> Array:
    """Each repeat customer's log-likelihood of their average spend, Fader & Hardie (2013) eq. (1)."""
    x, m = _as_arrays(frequency, monetary)
    p, q, v = params.p, params.q, params.v
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + m * x)
    )


def fit_gamma_gamma(frequency, monetary) -> GammaGammaParams:
    """Fit on customers with at least one repeat purchase and a positive average spend."""
    x, m = _as_arrays(frequency, monetary)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) == 0:
        raise FitError("no repeat customers with spend")

    def negative_ll(log_params: Array) -> float:
        p, q, v = np.exp(log_params)
        ll = gamma_gamma_log_likelihood(GammaGammaParams(p, q, v), x, m).sum()
        return -ll if np.isfinite(ll) else np.inf

    # Start where the population mean p*v/(q-1) equals the observed mean spend.
    p, q, v = _minimise(negative_ll, np.array([2.0, 3.0, float(np.mean(m))]))
    return GammaGammaParams(p=float(p), q=float(q), v=float(v))


def expected_average_spend(params: GammaGammaParams, frequency, monetary) -> Array:
    """E[spend per purchase | x, m_x], Fader & Hardie (2013) eq. (5); customers without a
    repeat purchase get the population mean p·v/(q−1)."""
    x, m = _as_arrays(frequency, monetary)
    p, q, v = params.p, params.q, params.v
    population = p * v / (q - 1) if q > 1 else float("nan")
    conditional = p * (v + x * m) / (p * x + q - 1)
    return np.where(x > 0, conditional, population)
