"""Whether an estimator knows its error: normalized estimation error squared (NEES).

For an estimate x̂ with covariance P of a true state x, ``NEES = (x − x̂)ᵀ P⁻¹ (x − x̂)``.
A consistent filter's NEES is χ²-distributed with as many degrees of freedom as the state
has: its mean is that number (2 for a position), and it exceeds the χ² 95% point (5.99
for two) 5% of the time. A filter that is sure of an error it has not got (the one that
reports a few centimetres while it is 0.3 m off) shows it as a NEES far above.

Over N independent runs, the NEES at one time averaged over the runs is χ²(N·n)/N; its
95% band is the Monte-Carlo consistency test of Bar-Shalom, Li and Kirubarajan,
*Estimation with Applications to Tracking and Navigation* (2001), §5.4.2. A single run's
ticks are strongly correlated, so no band is drawn from one run alone: it reports its
mean, its percentiles and its share of ticks beyond the 95% point.

Truth comes from the simulator's evaluation channel: this is metrics, not control.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2

__all__ = ["mc_band", "nees_summary", "position_nees", "run_nees", "yaw_nees"]

FloatArray = npt.NDArray[np.float64]


def position_nees(err_xy_m: FloatArray, cov_xy_m2: FloatArray) -> FloatArray:
    """Per-tick NEES of a 2-D position: ``err_xy_m`` (T, 2) true minus estimated,
    ``cov_xy_m2`` (T, 3) as (var_x, cov_xy, var_y). NaN where the covariance is not
    positive definite."""
    e = np.asarray(err_xy_m, dtype=np.float64).reshape(-1, 2)
    c = np.asarray(cov_xy_m2, dtype=np.float64).reshape(-1, 3)
    vx, cxy, vy = c.T
    det = vx * vy - cxy * cxy
    ex, ey = e.T
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = (vy * ex * ex - 2.0 * cxy * ex * ey + vx * ey * ey) / det
    out[~((vx > 0.0) & (det > 0.0))] = math.nan
    return out


def yaw_nees(err_yaw_rad: FloatArray, var_yaw_rad2: FloatArray) -> FloatArray:
    """Per-tick NEES of the heading: the wrapped error squared over its variance."""
    e = np.angle(np.exp(1j * np.asarray(err_yaw_rad, dtype=np.float64)))
    v = np.asarray(var_yaw_rad2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(v > 0.0, e * e / v, math.nan)
    return out


def nees_summary(nees: FloatArray, dof: int) -> dict[str, Any]:
    """One run's NEES in figures: its mean (``dof`` when consistent), median, 95th
    percentile and share of ticks beyond the χ² 95% point (0.05 when consistent)."""
    x = np.asarray(nees, dtype=np.float64)
    x = x[np.isfinite(x)]
    limit = float(chi2.ppf(0.95, dof))
    if not len(x):
        return {"dof": dof, "ticks": 0}
    return {
        "dof": dof,
        "ticks": len(x),
        "mean": _figure(x.mean()),
        "median": _figure(np.median(x)),
        "p95": _figure(np.percentile(x, 95)),
        "max": _figure(x.max()),
        "chi2_95": _figure(limit),
        "share_above_chi2_95": round(float(np.mean(x > limit)), 4),
    }


def _figure(value: float | np.floating[Any]) -> float:
    """Four significant digits (a NEES spans decades)."""
    return float(f"{float(value):.4g}")


def mc_band(runs: int, dof: int, probability: float = 0.95) -> tuple[float, float]:
    """The two-sided ``probability`` band of the NEES averaged over ``runs`` independent
    runs of a consistent filter: χ²(runs·dof)/runs."""
    if runs < 1 or dof < 1:
        raise ValueError(f"runs and dof must be at least 1, got {runs} and {dof}")
    tail = 0.5 * (1.0 - probability)
    n = runs * dof
    return float(chi2.ppf(tail, n)) / runs, float(chi2.ppf(1.0 - tail, n)) / runs


def run_nees(
    true_xyyaw: Sequence[Sequence[float]],
    est_xyyaw: Sequence[Sequence[float]],
    est_cov: Sequence[Sequence[float]],
) -> tuple[FloatArray, FloatArray]:
    """Position and heading NEES per tick from a run's rows: true (x, y, ..., yaw) as the
    recorder keeps them (x, y, z, yaw), the estimate (x, y, yaw) and its covariance
    (var_x, cov_xy, var_y, var_yaw)."""
    t = np.asarray(true_xyyaw, dtype=np.float64)
    e = np.asarray(est_xyyaw, dtype=np.float64)
    c = np.asarray(est_cov, dtype=np.float64)
    pos = position_nees(t[:, :2] - e[:, :2], c[:, :3])
    yaw = yaw_nees(t[:, -1] - e[:, 2], c[:, 3])
    return pos, yaw
