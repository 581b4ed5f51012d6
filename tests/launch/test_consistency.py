"""NEES figures: checked against samples drawn from a known covariance and against the
χ² table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.launch.consistency import (
    mc_band,
    nees_summary,
    position_nees,
    run_nees,
    yaw_nees,
)


def _cov(n: int) -> np.ndarray:
    """``n`` random 2×2 covariances, as (var_x, cov_xy, var_y) rows."""
    rng = np.random.default_rng(1)
    sx, sy = rng.uniform(0.01, 0.3, n), rng.uniform(0.01, 0.3, n)
    rho = rng.uniform(-0.9, 0.9, n)
    return np.column_stack([sx * sx, rho * sx * sy, sy * sy])


def test_position_nees_is_the_mahalanobis_distance_squared() -> None:
    rng = np.random.default_rng(2)
    cov = _cov(50)
    err = rng.normal(0.0, 0.2, (50, 2))
    expected = [
        float(e @ np.linalg.inv(np.array([[c[0], c[1]], [c[1], c[2]]])) @ e)
        for e, c in zip(err, cov, strict=True)
    ]
    np.testing.assert_allclose(position_nees(err, cov), expected, rtol=1e-9)


def test_errors_drawn_from_the_covariance_give_a_consistent_nees() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    cov = _cov(n)
    # Draw each error from its own covariance through its Cholesky factor.
    L = np.zeros((n, 2, 2))
    L[:, 0, 0] = np.sqrt(cov[:, 0])
    L[:, 1, 0] = cov[:, 1] / L[:, 0, 0]
    L[:, 1, 1] = np.sqrt(cov[:, 2] - L[:, 1, 0] ** 2)
    err = np.einsum("nij,nj->ni", L, rng.normal(size=(n, 2)))
    s = nees_summary(position_nees(err, cov), 2)
    assert s["mean"] == pytest.approx(2.0, abs=0.06)
    assert s["median"] == pytest.approx(2.0 * math.log(2.0), abs=0.05)  # χ²(2) median
    assert s["share_above_chi2_95"] == pytest.approx(0.05, abs=0.006)
    # Over-confident by 3x in standard deviation: NEES 9x.
    assert nees_summary(position_nees(3.0 * err, cov), 2)["mean"] == pytest.approx(18.0, rel=0.05)


def test_a_covariance_that_is_not_positive_definite_gives_nan() -> None:
    out = position_nees(np.ones((3, 2)), np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [1, 0, 1]]))
    assert math.isnan(out[0]) and math.isnan(out[1]) and out[2] == pytest.approx(2.0)
    assert nees_summary(out, 2)["ticks"] == 1


def test_yaw_nees_wraps_the_error() -> None:
    err = np.array([0.1, 2.0 * math.pi + 0.1, -2.0 * math.pi - 0.1])
    np.testing.assert_allclose(yaw_nees(err, np.full(3, 0.01)), [1.0, 1.0, 1.0], rtol=1e-9)


def test_run_rows_give_position_and_heading_nees() -> None:
    true = [(1.0, 2.0, 0.3, 0.05)]  # x, y, z, yaw as the recorder keeps them
    est = [(1.1, 1.8, 0.0)]
    cov = [(0.01, 0.0, 0.04, 0.0025)]
    pos, yaw = run_nees(true, est, cov)
    assert pos[0] == pytest.approx(0.1**2 / 0.01 + 0.2**2 / 0.04)
    assert yaw[0] == pytest.approx(0.05**2 / 0.0025)


def test_mc_band_matches_the_chi2_table() -> None:
    # χ² table, 2 degrees of freedom: 0.0506 (2.5%) and 7.378 (97.5%).
    lo, hi = mc_band(1, 2)
    assert lo == pytest.approx(0.0506, abs=1e-4) and hi == pytest.approx(7.378, abs=1e-3)
    # 10 runs of 2 dof: χ²(20) 2.5% 9.591, 97.5% 34.170, divided by 10.
    lo, hi = mc_band(10, 2)
    assert lo == pytest.approx(0.9591, abs=1e-4) and hi == pytest.approx(3.4170, abs=1e-4)
    with pytest.raises(ValueError, match="runs and dof"):
        mc_band(0, 2)
