"""How an earthwork run is judged and what it leaves in its run folder.

The designs are laid on the true soil grid before the run, by the rules the rover used on
its own survey, and the true grid after is scored against them (RMS, maximum and mean
absolute error, share of cells within ±3 cm; a trench's width as built, at half its
depth, beside its design's). Files added to the run folder:

- ``design.npy``: the design height per cell on the grid of ``terrain_*.npy`` (NaN where
  no design speaks);
- ``survey_final.npy`` and ``survey_grid.json``: the rover's last survey and its grid;
- ``soil_mass_before.npy`` and ``soil_mass_after.npy``: the soil's mass per cell, in kg,
  so conservation can be recomputed from files;
- ``error_after.png``: the true grid after minus the design;
- ``plan.png``: the rover's first plan (cut and fill on its survey, the loads as arrows);
- ``profile_NAME.png`` for each berm and trench: the true ground before and after and
  the design, across the middle of its centreline.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from lunarsite.robot.control.bucket import bucket_edge_m
from lunarsite.robot.planning.earthwork import combine_designs, transport_bound_kg_m
from lunarsite.robot.site.as_built import trench_width_m
from lunarsite.robot.site.design import ResolvedDesign, Trench
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.tasks.earthwork import Earthwork

from .base import Judgement, RunRecord
from .earthwork import designs_of

__all__ = ["judge_earthwork", "write_earthwork_files"]

ROBOT_MASS_NOTE = "Lunabotics worked example: 77,551 cm³ in 15 min by a 66 kg robot, ~7 kg/h per kg"
"""reference/CONSTRUCTION.md."""


TRENCH_WIDTH_SEARCH_M = 0.75
"""A trench's as-built width is looked for this far beyond its design's sides, in m."""


def _true_grid(run: RunRecord) -> GridSpec | None:
    truth = run.setup.backend.truth
    if truth is None or run.terrain_before_m is None:
        return None
    shape = run.terrain_before_m.shape
    return GridSpec(truth.terrain_origin_xy_m, truth.terrain_cell_size_m, (shape[0], shape[1]))


def _true_designs(run: RunRecord) -> tuple[ResolvedDesign, ...]:
    grid = _true_grid(run)
    if grid is None or run.terrain_before_m is None:
        return ()
    return tuple(
        d.resolve(grid, run.terrain_before_m) for d in designs_of(run.setup.scenario.mission)
    )


def executed_hauls(run: RunRecord, task: Earthwork) -> list[tuple[float, float]]:
    """(kg carried, m carried) of every load, from the true trajectory: the bucket's
    most while carrying, and the distance its edge moved from the end of the dig to the
    start of the dump (edge = chassis + reach along the heading)."""
    phase = run.channels.get("haul_phase", [])
    load = run.channels.get("bucket_load_kg", [])
    if not phase or not run.true_xyzyaw:
        return []
    poses = task.poses
    reach_dump, _ = bucket_edge_m(task.config, task.tool, poses.dump_boom_rad, poses.dump_curl_rad)
    reach_dig, _ = bucket_edge_m(task.config, task.tool, poses.carry_boom_rad, poses.carry_curl_rad)
    out = []
    carry_start: int | None = None
    for k in range(1, min(len(phase), len(run.true_xyzyaw))):
        if phase[k - 1] == 1 and phase[k] == 2:
            carry_start = k
        elif phase[k - 1] == 2 and phase[k] == 3 and carry_start is not None:
            x0, y0, _, yaw0 = run.true_xyzyaw[carry_start]
            x1, y1, _, yaw1 = run.true_xyzyaw[k]
            a = (x0 + reach_dig * math.cos(yaw0), y0 + reach_dig * math.sin(yaw0))
            b = (x1 + reach_dump * math.cos(yaw1), y1 + reach_dump * math.sin(yaw1))
            kg = max(load[carry_start : k + 1], default=0.0)
            out.append((float(kg), math.hypot(b[0] - a[0], b[1] - a[1])))
            carry_start = None
    return out


def scale_check(run: RunRecord, task: Earthwork) -> dict[str, Any] | None:
    """The rover's bucket scale against the true load at each weighing (None: it did not
    weigh, or there is no truth): how far off, and what it decided from its readings."""
    load = run.channels.get("bucket_load_kg", [])
    st = task.progress
    if not st.weighings or not load or not run.t_s:
        return None
    errors, pairs = [], []
    for stamp, kg in st.weighings:
        k = min(bisect.bisect_left(run.t_s, stamp), len(load) - 1)
        if math.isfinite(load[k]):
            errors.append(kg - load[k])
            pairs.append([round(stamp, 2), round(kg, 2), round(load[k], 2)])
    if not errors:
        return None
    abs_err = np.abs(np.asarray(errors))
    return {
        "weighings": len(errors),
        "median_abs_error_kg": round(float(np.median(abs_err)), 3),
        "max_abs_error_kg": round(float(abs_err.max()), 3),
        "mean_error_kg": round(float(np.mean(errors)), 3),
        "weighed_kg": round(st.weighed_kg, 2),
        "full_loads": st.full_loads,
        "top_up_passes": st.top_ups,
        "time_weighed_true": pairs,
        "time_weighed_true_note": "per weighing: time in s, kg weighed, kg in the bucket (truth)",
    }


def judge_earthwork(run: RunRecord) -> Judgement:
    scenario = run.setup.scenario
    acc = scenario.acceptance
    task = run.task
    assert isinstance(task, Earthwork)
    st = task.progress
    checks: dict[str, bool] = {}
    per_task: dict[str, Any] = {}
    if run.has_truth:
        checks["not_tipped_over"] = not run.tipped_over
    after = run.terrain_after_m
    grid = _true_grid(run)
    for d, spec in zip(_true_designs(run), designs_of(scenario.mission), strict=True):
        if after is None:
            break
        s = d.judge(after)
        per_task[d.name] = {
            "kind": d.kind,
            "cells": s.cells,
            "rms_error_m": round(s.rms_error_m, 4),
            "max_abs_error_m": round(s.max_abs_error_m, 4),
            "mean_abs_error_m": round(s.mean_abs_error_m, 4),
            "share_in_spec_3cm": round(s.share_in_spec, 4),
            "still_to_cut_m3": round(s.above_m3, 4),
            "still_to_fill_m3": round(s.below_m3, 4),
        }
        if isinstance(spec, Trench) and grid is not None and run.terrain_before_m is not None:
            # A bucket wider than the design digs wider: say how wide it came out.
            width = trench_width_m(
                spec.polyline_xy_m,
                0.5 * spec.width_m + TRENCH_WIDTH_SEARCH_M,
                grid,
                run.terrain_before_m,
                after,
            )
            per_task[d.name]["design_width_m"] = spec.width_m
            per_task[d.name]["as_built_width_m"] = round(width, 3)
        own = st.scores.get(d.name)
        if own is not None:
            per_task[d.name]["rover_survey"] = {
                "rms_error_m": round(own.rms_error_m, 4),
                "share_in_tolerance": round(own.share_in_tolerance, 4),
                "coverage": round(own.coverage, 4),
            }
        if acc.min_share_in_spec is not None:
            checks[f"{d.name}_in_spec"] = s.share_in_spec >= acc.min_share_in_spec
        if acc.max_rms_m is not None:
            checks[f"{d.name}_rms"] = s.rms_error_m <= acc.max_rms_m
        if acc.max_mean_abs_error_m is not None:
            checks[f"{d.name}_mae"] = s.mean_abs_error_m <= acc.max_mean_abs_error_m
    truth = run.setup.backend.truth
    soil = truth.soil_report() if truth is not None else None
    if soil is not None and acc.max_conservation_error is not None:
        checks["conservation_ok"] = soil["conservation_error_rel"] <= acc.max_conservation_error
    hauls = executed_hauls(run, task)
    work = sum(kg * m for kg, m in hauls)
    bound = math.nan
    grid = _true_grid(run)
    if (
        grid is not None
        and run.soil_mass_before_kg is not None
        and run.soil_mass_after_kg is not None
    ):
        delta = run.soil_mass_after_kg - run.soil_mass_before_kg
        bound = transport_bound_kg_m(grid, -delta, delta, task.params.planner.haul_cell_m)
    scale = scale_check(run, task)
    rover_kg = scenario.rover.total_mass_kg
    hours = run.sim_time_s / 3600.0
    moved = soil["moved_into_tools_kg"] if soil else 0.0
    rate = moved / hours / rover_kg if hours > 0 else math.nan
    data: dict[str, Any] = {
        "tasks": per_task,
        "loads": st.loads,
        "surveys": st.rounds,
        "last_phase": st.phase,
        "planned_kg": round(st.planned_kg, 2),
        "planned_haul_work_kg_m": round(st.planned_work_kg_m, 1),
        "first_plan_bound_kg_m": round(st.bound_kg_m, 1),
        "haul_work_kg_m": round(work, 1),
        "haul_work_bound_kg_m": round(bound, 1),
        "haul_work_over_bound": round(work / bound, 3) if bound > 0 else None,
        "load_kg": [round(kg, 2) for kg, _ in hauls],
        "moved_kg": round(moved, 2),
        "cycle_time_s": round(run.sim_time_s / st.loads, 1) if st.loads else None,
        "energy_wh": run.energy_used_wh,
        "wall_fixes": task.pilot.fixes,
        "wall_fix_correction_median_m": round(float(np.median(task.pilot.fix_corrections_m)), 4)
        if task.pilot.fix_corrections_m
        else None,
        "turn_stalls": task.pilot.turn_stalls,
        "slipped_legs": task.pilot.slips,
        "unsticks": st.unsticks,
        "cut_yield": {
            "passes": len(st.cut_yields),
            "median": round(float(np.median(st.cut_yields)), 3) if st.cut_yields else None,
        },
        "motion_timeouts": task.pilot.timeouts,
        "dig_pitch_reliefs": task.pilot.pitch_reliefs,
        "skipped_loads": st.skipped,
        "kg_per_hour_per_kg_rover": round(rate, 3),
        "productivity_reference": ROBOT_MASS_NOTE,
        "soil": soil,
        "bucket_scale": scale,
    }
    lines = [
        f"{st.loads} loads, {st.rounds} surveys; moved {moved:.0f} kg",
        f"haul work {work:.0f} kg·m; optimal-transport bound for the soil moved {bound:.0f} kg·m",
    ]
    for name, t in per_task.items():
        lines.append(
            f"{name}: {t['share_in_spec_3cm']:.0%} of cells within ±3 cm, RMS "
            f"{t['rms_error_m'] * 100:.1f} cm, mean |error| "
            f"{t['mean_abs_error_m'] * 100:.1f} cm (truth)"
            + (
                f"; {t['as_built_width_m']:.2f} m wide at half its depth (design "
                f"{t['design_width_m']:g} m)"
                if "as_built_width_m" in t
                else ""
            )
        )
    if scale is not None:
        lines.append(
            f"bucket scale: {scale['weighings']} weighings, median |error| "
            f"{scale['median_abs_error_kg']:.2f} kg (max {scale['max_abs_error_kg']:.2f}) "
            f"against the true load; {scale['full_loads']} of {st.loads} loads weighed full, "
            f"{scale['top_up_passes']} top-up passes"
        )
    lines.append(f"productivity {rate:.2f} kg/h per kg of rover ({ROBOT_MASS_NOTE})")
    return Judgement(checks, data, tuple(lines))


def write_earthwork_files(run: RunRecord, out_dir: Path, judgement: Judgement) -> None:
    task = run.task
    assert isinstance(task, Earthwork)
    grid = _true_grid(run)
    designs = _true_designs(run)
    if grid is not None and designs:
        design = combine_designs(designs, grid)
        np.save(out_dir / "design.npy", design)
        if run.terrain_after_m is not None:
            from ..terrain_maps import write_terrain_map

            err = np.where(np.isfinite(design), run.terrain_after_m - design, np.nan)
            write_terrain_map(
                out_dir / "error_after.png",
                np.nan_to_num(err, nan=0.0),
                grid.cell_size_m,
                grid.origin_xy_m,
                title=f"{run.setup.scenario.config.name} seed {run.setup.seed}: after − design",
            )
    if grid is not None and run.terrain_before_m is not None and run.terrain_after_m is not None:
        for spec, d in zip(designs_of(run.setup.scenario.mission), designs, strict=True):
            line = getattr(spec, "polyline_xy_m", None)
            if line is not None:
                _write_profile(
                    out_dir / f"profile_{d.name}.png",
                    grid,
                    [(float(x), float(y)) for x, y in line],
                    {"before": run.terrain_before_m, "after": run.terrain_after_m},
                    d.heights_m,
                    f"{run.setup.scenario.config.name} seed {run.setup.seed}: {d.kind} {d.name!r}",
                )
    st = task.progress
    if st.first_plan is not None:
        from ..earthwork_plan import draw_plan

        cf, plan = st.first_plan
        draw_plan(
            out_dir / "plan.png",
            cf,
            plan,
            run.setup.scenario.mission,
            f"{run.setup.scenario.config.name} seed {run.setup.seed}: the rover's first plan, "
            f"{plan.trips} trips, bound {plan.bound_kg_m:.0f} kg·m",
        )
    if st.survey_m is not None:
        np.save(out_dir / "survey_final.npy", st.survey_m)
        g = task.params.grid
        (out_dir / "survey_grid.json").write_text(
            json.dumps(
                {
                    "origin_xy_m": list(g.origin_xy_m),
                    "cell_size_m": g.cell_size_m,
                    "shape": list(g.shape),
                }
            )
        )
    if run.soil_mass_before_kg is not None:
        np.save(out_dir / "soil_mass_before.npy", run.soil_mass_before_kg)
    if run.soil_mass_after_kg is not None:
        np.save(out_dir / "soil_mass_after.npy", run.soil_mass_after_kg)


def _write_profile(
    path: Path,
    grid: GridSpec,
    polyline: list[tuple[float, float]],
    grids: dict[str, np.ndarray],
    design_m: np.ndarray,
    title: str,
) -> None:
    """Heights along a section square to the polyline's middle segment, at its middle,
    2 m each side (nearest cell)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = (len(polyline) - 1) // 2
    (ax_, ay_), (bx_, by_) = polyline[k], polyline[k + 1]
    mx, my = 0.5 * (ax_ + bx_), 0.5 * (ay_ + by_)
    length = math.hypot(bx_ - ax_, by_ - ay_) or 1.0
    nx_, ny_ = -(by_ - ay_) / length, (bx_ - ax_) / length
    s = np.arange(-2.0, 2.0 + 1e-9, grid.cell_size_m)
    j, i = grid.cells_of(mx + s * nx_, my + s * ny_)
    ok = (j >= 0) & (j < grid.shape[0]) & (i >= 0) & (i < grid.shape[1])
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    for label, h in grids.items():
        ax.plot(s[ok], h[j[ok], i[ok]] * 100, label=f"true ground {label}")
    ax.plot(s[ok], design_m[j[ok], i[ok]] * 100, "k--", lw=2, label="design")
    ax.set_xlabel("across the centreline (m, left +)")
    ax.set_ylabel("height (cm)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
