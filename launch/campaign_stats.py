"""A campaign's table and summary: one row per run, and the spread over runs.

- :func:`run_row`: a run's ``metrics.json`` flattened to one row of scalars (nested keys
  joined by ``.``; lists, such as the per-goal records, stay in the run's folder).
- :func:`wilson_interval`: the Wilson score interval of a success share (Wilson 1927;
  it stays inside [0, 1] and behaves at 0 and n successes, where the normal
  approximation does not).
- :func:`median_interval`: a percentile bootstrap interval of a median
  (``scipy.stats.bootstrap``, seeded, so a summary is reproducible).
- :func:`summarize`: success share with its interval, medians with theirs for every
  numeric column, the failures with their reasons, and the same per variation.
- :func:`write_tables`: ``runs.csv`` and ``runs.parquet`` (pyarrow).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ID_COLUMNS",
    "median_interval",
    "run_row",
    "summarize",
    "wilson_interval",
    "write_tables",
]

ID_COLUMNS = ("run_id", "variation", "seed", "status", "success", "reason")
"""The first columns of every row, in this order."""

Z95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""

BOOTSTRAP_RESAMPLES = 2000
SKIP_METRICS = frozenset({"seed", "control_hz", "time_limit_s"})
SKIP_PREFIXES = ("acceptance.criteria.",)
"""Numeric columns that are settings, not outcomes: no median is reported for them."""


def run_row(
    run_id: str, variation: str, seed: int, metrics: Mapping[str, Any] | None, *, crashed: str = ""
) -> dict[str, Any]:
    """One table row. ``metrics`` is the run's ``metrics.json`` (None when it crashed
    before writing one); ``crashed`` is the crash's one-line reason."""
    row: dict[str, Any] = {"run_id": run_id, "variation": variation, "seed": seed}
    if crashed or metrics is None:
        row.update(status="crashed", success=False, reason=crashed or "no metrics.json")
        return row
    success = bool(metrics.get("success"))
    row.update(
        status="succeeded" if success else "fell_short",
        success=success,
        reason=str(metrics.get("reason", "")),
    )
    for key, value in _flatten(metrics):
        if key not in row:
            row[key] = value
    return row


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += _flatten(value, name + ".")
        elif isinstance(value, bool | int | float | str) and name not in ("success", "reason"):
            out.append((name, value))
    return out


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``n`` (95% by default).

    Raises:
        ValueError: ``n`` < 1 or ``successes`` outside 0..n.
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def median_interval(
    values: Sequence[float], *, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """A percentile bootstrap interval of the median of ``values`` (finite ones).

    Raises:
        ValueError: no finite value.
    """
    from scipy.stats import bootstrap

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite values")
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = bootstrap(
        (x,),
        np.median,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _share(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    k = sum(1 for r in rows if r["success"])
    lo, hi = wilson_interval(k, n) if n else (math.nan, math.nan)
    return {"value": k / n if n else None, "ci95": [lo, hi] if n else None, "method": "wilson"}


def numeric_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Columns holding numbers (not booleans) in at least one row, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key in ID_COLUMNS or key in SKIP_METRICS or key.startswith(SKIP_PREFIXES):
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                seen.setdefault(key, None)
    return list(seen)


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The contents of ``summary.json`` for these rows (see the module docstring)."""
    metrics: dict[str, Any] = {}
    for col in numeric_columns(rows):
        vals = [
            float(r[col])
            for r in rows
            if isinstance(r.get(col), int | float) and math.isfinite(float(r[col]))
        ]
        if not vals:
            continue
        lo, hi = median_interval(vals)
        metrics[col] = {
            "median": float(np.median(vals)),
            "ci95": [lo, hi],
            "n": len(vals),
            "method": "bootstrap",
        }
    failures = [
        {k: r[k] for k in ("run_id", "seed", "variation", "status", "reason")}
        for r in rows
        if not r["success"]
    ]
    by_variation: dict[str, Any] = {}
    for name in dict.fromkeys(r["variation"] for r in rows):
        sub = [r for r in rows if r["variation"] == name]
        by_variation[name] = {
            "runs": len(sub),
            "succeeded": sum(1 for r in sub if r["success"]),
            "crashed": sum(1 for r in sub if r["status"] == "crashed"),
            "success_share": _share(sub),
        }
    return {
        "runs": len(rows),
        "succeeded": sum(1 for r in rows if r["success"]),
        "crashed": sum(1 for r in rows if r["status"] == "crashed"),
        "success_share": _share(rows),
        "metrics": metrics,
        "failures": failures,
        "by_variation": by_variation,
    }


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every column, the identifying ones first, the rest in first-seen order."""
    cols: dict[str, None] = dict.fromkeys(ID_COLUMNS)
    for row in rows:
        for key in row:
            cols.setdefault(key, None)
    return list(cols)


def write_tables(rows: Sequence[Mapping[str, Any]], folder: Path) -> list[str]:
    """Write ``runs.csv`` and ``runs.parquet``; returns the columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = columns_of(rows)
    with (folder / "runs.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in cols])
    arrays = {c: _column_array(pa, [row.get(c) for row in rows]) for c in cols}
    pq.write_table(pa.table(arrays), folder / "runs.parquet")
    return cols


def _column_array(pa: Any, values: list[Any]) -> Any:
    """One Parquet column: numbers as float64 (ints as int64 when all are), booleans as
    bool, anything else as text; missing values as nulls."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.bool_())
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(values, type=pa.int64())
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())
