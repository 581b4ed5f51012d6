"""A campaign's pictures: success per variation, and the spread of the main metrics.

``success.png``: the success share of each variation with its Wilson interval, and how
many runs fell short or crashed. ``metrics.png``: for up to twelve metrics, every run as
a dot per variation, the median as a bar and its bootstrap interval (from
``summary.json``). The metrics drawn are the ones most missions report first (the
:data:`PREFERRED` list), then any other numeric column that varies between runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .campaign_stats import numeric_columns

__all__ = ["PREFERRED", "write_campaign_plots"]

PREFERRED = (
    "goal_share",
    "goals_reached",
    "median_localization_error_m",
    "final_position_error_m",
    "max_position_error_m",
    "rock_contacts",
    "volume_moved_m3",
    "energy_used_wh",
    "distance_driven_m",
    "sim_time_s",
    "wall_time_s",
    "real_time_factor",
)
MAX_PANELS = 12


def chosen_metrics(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The metrics drawn in ``metrics.png`` (see the module docstring)."""
    cols = numeric_columns(rows)
    varying = [c for c in cols if len({_num(r.get(c)) for r in rows} - {None}) > 1]
    first = [c for c in PREFERRED if c in cols]
    rest = [c for c in varying if c not in first]
    return (first + rest)[:MAX_PANELS]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(float(value)) else None


def write_campaign_plots(
    rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], folder: Path
) -> list[Path]:
    """Draw ``success.png`` and ``metrics.png`` into ``folder``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [folder / "success.png"]
    variations = list(summary.get("by_variation", {}))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(variations) + 2.0), 3.6))
    for i, name in enumerate(variations):
        v = summary["by_variation"][name]
        share = v["success_share"]
        if share["value"] is None:
            continue
        lo, hi = share["ci95"]
        ax.bar(i, share["value"], color="#4c72b0", width=0.6)
        ax.errorbar(
            i,
            share["value"],
            yerr=[[share["value"] - lo], [hi - share["value"]]],
            color="black",
            capsize=4,
        )
        ax.text(
            i,
            1.04,
            f"{v['succeeded']}/{v['runs']}" + (f"\n{v['crashed']} crashed" if v["crashed"] else ""),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(variations)), variations, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0.0, 1.25)
    ax.set_ylabel("success share (95% Wilson interval)")
    ax.set_title(f"{summary['succeeded']} of {summary['runs']} runs succeeded")
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

    metrics = chosen_metrics(rows)
    if metrics:
        paths.append(folder / "metrics.png")
        cols = min(4, len(metrics))
        nrows = math.ceil(len(metrics) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False)
        for ax, name in zip(axes.flat, metrics, strict=False):
            _metric_panel(ax, rows, variations, name, summary["metrics"].get(name))
        for ax in list(axes.flat)[len(metrics) :]:
            ax.set_visible(False)
        fig.tight_layout()
        fig.savefig(paths[1], dpi=100)
        plt.close(fig)
    return paths


def _metric_panel(
    ax: Any,
    rows: Sequence[Mapping[str, Any]],
    variations: list[str],
    name: str,
    stats: Mapping[str, Any] | None,
) -> None:
    rng = np.random.default_rng(0)  # jitter only
    for i, var in enumerate(variations):
        vals = [v for r in rows if r["variation"] == var and (v := _num(r.get(name))) is not None]
        colours = [
            "#55a868" if r["success"] else "#c44e52"
            for r in rows
            if r["variation"] == var and _num(r.get(name)) is not None
        ]
        x = i + rng.uniform(-0.15, 0.15, size=len(vals))
        ax.scatter(x, vals, s=12, c=colours, zorder=3)
        if vals:
            ax.hlines(float(np.median(vals)), i - 0.3, i + 0.3, color="black", zorder=4)
    if stats is not None and len(variations) == 1:
        lo, hi = stats["ci95"]
        ax.axhspan(lo, hi, color="#dddddd", zorder=1)
    ax.set_xticks(
        range(len(variations)),
        variations if len(variations) > 1 else [""],
        rotation=20,
        ha="right",
        fontsize=7,
    )
    ax.set_title(name, fontsize=8)
    ax.tick_params(labelsize=7)
