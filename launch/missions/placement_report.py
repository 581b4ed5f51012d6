"""Judging a ``place_modules`` run on the true poses of its units, and drawing it.

Per placement: the depot unit the plan sent there, where that unit ended (truth), its
position and yaw error against the design (a box turned half a turn is the same box),
the attempts and the cycle time the rover took. Collisions: touches of any unit other
than the one the rover was handling at the time (the task's own record of that, against
the world's contacts), counted once per contiguous touch. ``layout.png`` draws the
as-built layout over the design.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from lunarsite.robot.planning.assembly import AssemblyPlan, gap_m
from lunarsite.robot.site.modules import Catalog, Placement, outline, yaw_error_rad
from lunarsite.robot.tasks.placement import PlacementTask
from lunarsite.robot.tasks.placement_checks import seen_errors

from .base import Judgement, RunRecord

__all__ = [
    "collisions",
    "design_neighbours",
    "judge_placement",
    "site_axes",
    "write_placement_files",
]

PLACED_WITHIN_M = 0.1
"""A unit whose centre ended this close to its target counts as placed (truth)."""
NEIGHBOUR_GAP_M = 0.015
"""Placements this close (or one on the other) are laid against each other by design: end
to end or side by side with at most a paving joint between them, in m."""
TOUCH_GAP_S = 0.25
"""Touches of one unit further apart than this are separate collisions, in s."""


def collisions(
    contacts: list[tuple[float, tuple[str, ...], tuple[str, ...]]],
    handled: list[tuple[float, float, str]],
    neighbours: dict[str, set[str]],
) -> tuple[dict[str, int], int]:
    """Contiguous touches per unit that are collisions, and the count of those that are
    not: ``contacts`` holds (time, units the rover touches, units the unit in its jaws
    strikes). The rover touching any unit but the one in hand collides; the unit in hand
    striking one the design lays against it (``neighbours``, by depot unit id) does
    not."""
    out: dict[str, int] = {}
    allowed = 0
    last: dict[tuple[str, bool], float] = {}
    for t, rover_touches, held_strikes in contacts:
        current = next((u for a, b, u in handled if a <= t <= b), None)
        for ids, by_unit in ((rover_touches, False), (held_strikes, True)):
            for uid in ids:
                if uid == current:
                    continue
                new = t - last.get((uid, by_unit), -math.inf) > TOUCH_GAP_S
                last[(uid, by_unit)] = t
                if not new:
                    continue
                if by_unit and current is not None and uid in neighbours.get(current, set()):
                    allowed += 1
                else:
                    out[uid] = out.get(uid, 0) + 1
    return out, allowed


def design_neighbours(plan: AssemblyPlan, catalog: Catalog) -> dict[str, set[str]]:
    """For each step's depot unit, the depot units of the placements the design lays
    within :data:`NEIGHBOUR_GAP_M` of it or under it."""
    shapes = {}
    for s in plan.steps:
        m = catalog.get(s.placement.type)
        assert m is not None
        shapes[s.slot.id] = (s.placement, m)
    out: dict[str, set[str]] = {k: set() for k in shapes}
    for a, (qa, ma) in shapes.items():
        for b, (qb, mb) in shapes.items():
            near = gap_m(qa, ma, qb, mb) <= NEIGHBOUR_GAP_M
            if a != b and (near or qa.on == qb.id or qb.on == qa.id):
                out[a].add(b)
                out[b].add(a)
    return out


def judge_placement(run: RunRecord) -> Judgement:
    acc = run.setup.scenario.acceptance
    task = run.task
    assert isinstance(task, PlacementTask)
    st = task.progress
    plan: AssemblyPlan = run.setup.extra["plan"]
    poses = run.unit_poses_after
    modules: list[dict[str, Any]] = []
    seen_off = seen_errors(task)
    for step in plan.steps:
        q = step.placement
        row: dict[str, Any] = {
            "id": q.id,
            "type": q.type,
            "depot_unit": step.slot.id,
            "placed_by_rover": q.id in st.placed,
            "attempts": st.attempts.get(q.id, 0),
            "cycle_s": round(st.cycle_s[q.id], 1) if q.id in st.cycle_s else None,
            "weighed_kg": round(st.weighed_kg[q.id], 2) if q.id in st.weighed_kg else None,
            "set_down_again": st.resets.get(q.id, 0),
            "fell_on_the_way": st.lost.get(q.id, 0),
            "reason": st.failed.get(q.id),
        }
        seen = seen_off.get(q.id)
        if seen is not None:  # what the rover's own camera made of it when it last looked
            at = st.seen_at[q.id]
            row["seen_position_error_m"] = round(seen[0], 4)
            row["seen_yaw_error_rad"] = round(seen[1], 4)
            row["seen_pose"] = _pose_row(at.x_m, at.y_m, at.yaw_rad)
            row["seen_at_s"] = round(st.seen_stamp_s[q.id], 2)
        pose = poses.get(step.slot.id)
        if pose is not None:
            row["pose"] = _pose_row(pose[0], pose[1], pose[3])
            err = math.hypot(pose[0] - q.x_m, pose[1] - q.y_m)
            row["position_error_m"] = round(err, 4)
            row["yaw_error_rad"] = round(yaw_error_rad(pose[3], q.yaw_rad), 4)
            row["placed"] = err <= PLACED_WITHIN_M
        modules.append(row)
    neighbours = design_neighbours(plan, task.params.catalog)
    touches, laid_against = collisions(
        run.setup.extra.get("unit_contacts", []), st.handled, neighbours
    )
    n_collisions = sum(touches.values())
    checks: dict[str, bool] = {}
    if run.has_truth:
        checks["not_tipped_over"] = not run.tipped_over
        if acc.all_placed:
            checks["all_placed"] = all(m.get("placed", False) for m in modules)
        errors = [m["position_error_m"] for m in modules if "position_error_m" in m]
        yaws = [m["yaw_error_rad"] for m in modules if "yaw_error_rad" in m]
        if acc.max_position_error_m is not None and errors:
            checks["position_error"] = max(errors) <= acc.max_position_error_m
        if acc.max_yaw_error_rad is not None and yaws:
            checks["yaw_error"] = max(yaws) <= acc.max_yaw_error_rad
        if acc.max_collisions is not None:
            checks["collisions"] = n_collisions <= acc.max_collisions
    placed = [m for m in modules if m.get("placed")]
    errs = np.asarray([m["position_error_m"] for m in placed]) if placed else np.zeros(0)
    yaw = np.asarray([m["yaw_error_rad"] for m in placed]) if placed else np.zeros(0)
    cycles = [m["cycle_s"] for m in modules if m["cycle_s"] is not None]
    data: dict[str, Any] = {
        "modules": modules,
        "placed": len(placed),
        "planned": len(modules),
        "position_error_m": _stats(errs),
        "yaw_error_rad": _stats(yaw),
        "cycle_s": _stats(np.asarray(cycles)),
        "collisions": n_collisions,
        "collided_units": touches,
        "touches_of_neighbours_laid_against": laid_against,
        "order": list(plan.order),
        "wall_fixes": task.pilot.fixes,
        "turn_stalls": task.pilot.turn_stalls,
        "motion_timeouts": task.pilot.timeouts,
        "energy_wh": run.energy_used_wh,
    }
    lines = [
        f"{len(placed)} of {len(modules)} units placed (truth: within {PLACED_WITHIN_M:g} m)",
    ]
    if placed:
        lines.append(
            f"position error median {np.median(errs) * 100:.1f} cm, max {errs.max() * 100:.1f} cm; "
            f"yaw error median {math.degrees(float(np.median(yaw))):.2f}°, max "
            f"{math.degrees(float(yaw.max())):.2f}°"
        )
    if cycles:
        lines.append(f"cycle per unit: median {np.median(cycles):.0f} s, max {max(cycles):.0f} s")
    lines.append(f"collisions with units not being handled: {n_collisions}")
    points = np.asarray([(s.placement.x_m, s.placement.y_m) for s in plan.steps])
    return Judgement(checks, data, tuple(lines), points_xy_m=points, tolerance_m=PLACED_WITHIN_M)


def _pose_row(x_m: float, y_m: float, yaw_rad: float) -> dict[str, float]:
    return {"x_m": round(x_m, 4), "y_m": round(y_m, 4), "yaw_rad": round(yaw_rad, 5)}


def _stats(values: np.ndarray) -> dict[str, float] | None:
    if values.size == 0:
        return None
    return {
        "median": round(float(np.median(values)), 4),
        "max": round(float(values.max()), 4),
        "mean": round(float(values.mean()), 4),
    }


def write_placement_files(run: RunRecord, out_dir: Path, judgement: Judgement) -> None:
    """``layout.png``: the design's footprints (dashed), where each unit ended (filled,
    with its error), the depot and the rover's true path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    plan: AssemblyPlan = run.setup.extra["plan"]
    task = run.task
    assert isinstance(task, PlacementTask)
    catalog = task.params.catalog
    fig, ax = plt.subplots(figsize=(8, 6), dpi=110)
    for step in plan.steps:
        module = catalog.get(step.placement.type)
        assert module is not None
        ax.add_patch(
            Polygon(outline(step.placement, module), fill=False, ls="--", ec="tab:blue", lw=1.0)
        )
        pose = run.unit_poses_after.get(step.slot.id)
        if pose is None:
            continue
        where = Placement(step.slot.id, module.name, pose[0], pose[1], pose[3])
        ok = (
            math.hypot(pose[0] - step.placement.x_m, pose[1] - step.placement.y_m)
            <= PLACED_WITHIN_M
        )
        ax.add_patch(
            Polygon(
                outline(where, module),
                fc="tab:green" if ok else "tab:red",
                alpha=0.45,
                ec="k",
                lw=0.5,
            )
        )
    path = run.true_xy()
    if len(path):
        ax.plot(path[:, 0], path[:, 1], color="0.4", lw=0.6, label="rover (truth)")
    site_axes(ax, run.setup.scenario.site_size_m)
    placed = judgement.data.get("placed", 0)
    ax.set_title(f"As built over the design: {placed} of {len(plan.steps)} placed (dashed: design)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "layout.png")
    plt.close(fig)


def site_axes(ax: Any, size_m: tuple[float, float] | None) -> None:
    """Axes over the whole site (x east, y north, equal scale, in m)."""
    if size_m is not None:
        ax.set_xlim(0.0, size_m[0])
        ax.set_ylim(0.0, size_m[1])
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
