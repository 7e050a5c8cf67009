"""The BG/NBD and Gamma-Gamma fit against the literature, on the papers' own data."""

import csv
from pathlib import Path

import numpy as np
import pytest

from analytics import clv

DATA = Path(__file__).resolve().parent.parent / "data" / "cdnow_customers_summary_with_transactions.csv"


@pytest.fixture(scope="module")
def cdnow():
    with DATA.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2357
    columns = {name: np.array([float(r[name]) for r in rows]) for name in ("x", "t_x", "T", "zbar")}
    return columns


def within(value: float, published: float, tolerance: float = 0.01) -> bool:
    return abs(value - published) <= tolerance * abs(published)


def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow):
    params = clv.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])

    # Fader, Hardie & Lee (2005), section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426.
    assert within(params.r, 0.243), params
    assert within(params.alpha, 4.414), params
    assert within(params.a, 0.793), params
    assert within(params.b, 2.426), params
    # ... and the maximised log-likelihood the paper reports, -9582.4.
    ll = clv.bgnbd_log_likelihood(params, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert ll == pytest.approx(-9582.4, abs=0.5)


def test_bgnbd_conditional_expectation_and_p_alive_match_the_paper(cdnow):
    params = clv.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)

    # FHL (2005) section 5: a customer with x = 2, t_x = 30.43, T = 38.86 weeks is
    # expected to make 1.226 purchases in the next 39 weeks.
    expected = clv.expected_purchases(params, 39, [2], [30.43], [38.86])
    assert expected[0] == pytest.approx(1.226, abs=0.002)
    # Nobody who never came back is "more alive" than a regular; P(alive) of a
    # one-off buyer (x = 0) is 1 by the model's construction.
    alive = clv.probability_alive(params, [0, 2, 2], [0, 30.43, 5.0], [38.86, 38.86, 38.86])
    assert alive[0] == 1.0
    assert alive[1] > alive[2]


def test_gamma_gamma_reproduces_fader_hardie_2013(cdnow):
    params = clv.fit_gamma_gamma(cdnow["x"], cdnow["zbar"])

    # Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": p = 6.25, q = 3.74, gamma = 15.44.
    assert within(params.p, 6.25), params
    assert within(params.q, 3.74), params
    assert within(params.v, 15.44), params
    # The note's population mean spend per transaction: p * gamma / (q - 1) = 35.22.
    population = clv.expected_average_spend(params, [0], [0])[0]
    assert population == pytest.approx(35.22, abs=0.1)


def test_expected_spend_shrinks_towards_the_population_mean():
    params = clv.GammaGammaParams(p=6.25, q=3.74, v=15.44)
    # One repeat purchase of 100: the estimate lies between the population mean
    # (35.22) and the customer's own 100; with 20 purchases it is nearer to 100.
    one, many = clv.expected_average_spend(params, [1, 20], [100.0, 100.0])
    assert 35.22 < one < many < 100.0


def test_a_fit_without_customers_is_an_error():
    with pytest.raises(clv.FitError):
        clv.fit_bgnbd([], [], [])
