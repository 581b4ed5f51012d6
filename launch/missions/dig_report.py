"""How a dig-and-dump run is judged and drawn: the pit and the pile from the true soil
before and after (two scans, as the Lunabotics judges measure), the soil model's mass
ledger, and the pictures of the soil (before, after, and the difference).

Files it adds to the run folder: ``terrain_before.png``, ``terrain_after.png`` (with the
true and estimated paths) and ``difference.png`` (after − before), the dig and dump areas
marked on each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lunarsite.robot.site.survey import box_polygon, volume_change
from lunarsite.robot.tasks.dig_and_dump import DigAndDump

from .base import Judgement, RunRecord

__all__ = ["judge_dig", "write_soil_pictures"]

LOAD_WINDOW_TICKS = 200
"""A dump's load is the most the bucket held within this many ticks before it (10 s)."""


def _areas(mission: Any) -> dict[str, tuple[float, float, float, float]]:
    return {
        "dig area": mission.dig_area.box().bounds_m,
        "dump area": mission.dump_area.box().bounds_m,
    }


def _area_volumes(run: RunRecord, area: Any) -> dict[str, float]:
    """Fill and cut inside a box from the before and after grids (survey, two scans)."""
    truth = run.setup.backend.truth
    assert truth is not None and run.terrain_before_m is not None
    assert run.terrain_after_m is not None
    box = area.box()
    v = volume_change(
        run.terrain_before_m,
        run.terrain_after_m,
        truth.terrain_cell_size_m,
        truth.terrain_origin_xy_m,
        box_polygon((box.x_m, box.y_m), (box.size_x_m, box.size_y_m)),
    )
    return {
        "fill_m3": round(v.fill_m3, 6),
        "cut_m3": round(v.cut_m3, 6),
        "net_m3": round(v.net_m3, 6),
        "area_m2": round(v.area_m2, 4),
    }


def _dig_loads(run: RunRecord) -> list[float]:
    """The load each dump carried: the bucket's most in the ticks before it poured."""
    dumps = run.channels.get("dumps", [])
    load = run.channels.get("bucket_load_kg", [])
    out = []
    for k in range(1, len(dumps)):
        if dumps[k] > dumps[k - 1]:
            window = load[max(0, k + 1 - LOAD_WINDOW_TICKS) : k + 1]
            out.append(round(max(window, default=0.0), 3))
    return out


def _soil(run: RunRecord, mission: Any) -> dict[str, Any] | None:
    truth = run.setup.backend.truth
    report = truth.soil_report() if truth is not None else None
    if report is None or run.terrain_before_m is None or run.terrain_after_m is None:
        return None
    soil = dict(report)
    soil["dig_area"] = _area_volumes(run, mission.dig_area)
    soil["dump_area"] = _area_volumes(run, mission.dump_area)
    soil["pile_volume_m3"] = soil["dump_area"]["fill_m3"]
    soil["pit_volume_m3"] = soil["dig_area"]["cut_m3"]
    soil["volume_moved_m3"] = soil["moved_into_tools_m3"]
    # From the two grids of the run folder (the "before" scan is taken once the rover has
    # settled, so it holds its first wheel prints; the ledger starts before them).
    assert truth is not None
    soil["scan_volume_change_m3"] = float(
        (run.terrain_after_m - run.terrain_before_m).sum() * truth.terrain_cell_size_m**2
    )
    cfg = run.setup.scenario.config.soil
    if cfg is not None:
        soil["depth_m"] = cfg.depth_m
    return soil


def judge_dig(run: RunRecord) -> Judgement:
    """Acceptance and figures of a dig-and-dump run."""
    scenario = run.setup.scenario
    mission, acc = scenario.mission, scenario.acceptance
    task = run.task
    assert isinstance(task, DigAndDump)
    st, pilot = task.progress, task.pilot
    soil = _soil(run, mission)
    checks: dict[str, bool] = {}
    if run.has_truth:
        checks["stayed_on_site"] = run.min_edge_clearance_m > 0.0
        checks["not_tipped_over"] = not run.tipped_over
    if mission.cycles is not None:
        checks["cycles_done"] = st.dumps >= mission.cycles
    checks["dump_fill_ok"] = soil is not None and soil["pile_volume_m3"] >= acc.min_dump_fill_m3
    if acc.max_conservation_error is not None:
        checks["conservation_ok"] = (
            soil is not None and soil["conservation_error_rel"] <= acc.max_conservation_error
        )
    corrections = pilot.fix_corrections_m
    data: dict[str, Any] = {
        "soil_on": scenario.config.soil is not None and soil is not None,
        "physics_hz": scenario.config.sim.physics_hz,
        "digs": st.digs,
        "dumps": st.dumps,
        "cycles": st.dumps,
        "dig_loads_kg": _dig_loads(run),
        "last_phase": st.phase,
        "gyro_bias_estimate_radps": pilot.gyro_bias_radps[2],
        "wall_fixes": pilot.fixes,
        "wall_fix_correction_median_m": round(float(np.median(corrections)), 4)
        if corrections
        else None,
        "wall_fix_correction_max_m": round(max(corrections), 4) if corrections else None,
        "turn_stalls": pilot.turn_stalls,
        "slipped_legs": pilot.slips,
        "dig_pitch_reliefs": pilot.pitch_reliefs,
        "motion_timeouts": pilot.timeouts,
        "soil": soil,
    }
    s = soil or {}
    lines = (
        f"{st.dumps} dumps ({st.digs} digs)",
        f"moved {s.get('volume_moved_m3', 0.0):.3f} m³ loose; pile "
        f"{s.get('pile_volume_m3', 0.0):.3f} m³, pit {s.get('pit_volume_m3', 0.0):.3f} m³; "
        f"conservation error {s.get('conservation_error_rel', 0.0):.2e} of the mass cut",
    )
    return Judgement(checks, data, lines, areas=_areas(mission))


def write_soil_pictures(run: RunRecord, out_dir: Path, judgement: Judgement) -> None:
    """``terrain_before.png``, ``terrain_after.png`` and ``difference.png``."""
    from ..terrain_maps import write_difference_map, write_terrain_map  # matplotlib: when drawing

    truth = run.setup.backend.truth
    before, after = run.terrain_before_m, run.terrain_after_m
    if truth is None or before is None or after is None:
        return
    scenario = run.setup.scenario
    areas = judgement.areas
    cell, origin = truth.terrain_cell_size_m, truth.terrain_origin_xy_m
    title = f"{scenario.config.name}  seed {run.setup.seed}"
    dumps = judgement.data["dumps"]
    write_terrain_map(
        out_dir / "terrain_before.png", before, cell, origin, areas=areas, title=title + "  before"
    )
    write_terrain_map(
        out_dir / "terrain_after.png",
        after,
        cell,
        origin,
        paths={"true": run.true_xy(), "estimated": run.est_xy()},
        areas=areas,
        title=f"{title}  after {run.sim_time_s:.0f} s, {dumps} dumps",
    )
    soil = judgement.data["soil"] or {}
    write_difference_map(
        out_dir / "difference.png",
        before,
        after,
        cell,
        origin,
        areas=areas,
        title=f"{title}: pit {soil.get('pit_volume_m3', 0.0):.3f} m³, "
        f"pile {soil.get('pile_volume_m3', 0.0):.3f} m³ after {run.sim_time_s:.0f} s",
    )
