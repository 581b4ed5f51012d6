"""Navigation figures for ``lunarsite bench nav`` and ``bench/bench_nav.py`` (issue 4).

- :func:`bench_planner`: costmap build and planning time on a 401 × 401 costmap (a 40 m
  site at 0.1 m with craters and 3× the typical rock density, rigid rocks stamped in as
  a scanner maps them), and path length against the grid's shortest 8-connected path
  over non-lethal cells (a compiled Dijkstra, ``skimage.graph.MCP_Geometric``).
- :func:`bench_traverse`: the closed loop on the ``traverse`` scenario, seeds
  ``first_seed`` … with ``goals`` random reachable goals each (the scenario's
  ``random_goals.count`` overridden, the per-goal time limit kept), through
  the one runner (:func:`~lunarsite.launch.runner.run_sim`): share of goals reached, rock
  contacts, tip-overs and the localization error at each goal, judged on ground truth;
  the seeds run as a campaign on Ray, in parallel, each run with its own folder.

Tests never assert on these figures.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.planning.costmap import CostmapParams, build_costmap
from lunarsite.robot.planning.planner import Planner, PlanningError
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2
from lunarsite.sim.terrain_config import CraterConfig, ProceduralTerrainConfig, RockConfig
from lunarsite.sim.terrain_generation import generate_terrain

from .missions.navigate import NavigateMission, rock_stamped_heights
from .schema import load_scenario

__all__ = ["bench_nav", "bench_planner", "bench_traverse"]

log = logging.getLogger(__name__)

PLANNER_SITE_M = 40.0
"""Side of the planning benchmark's site, in m (401 × 401 cells at 0.1 m)."""


def bench_planner(config: RoverConfig, *, pairs: int = 40, seed: int = 0) -> dict[str, Any]:
    """Planning time and path quality on a 401 × 401 costmap; see the module docstring."""
    from skimage.graph import MCP_Geometric

    terrain = generate_terrain(
        ProceduralTerrainConfig(
            craters=CraterConfig(min_diameter_m=1.0, max_diameter_m=10.0),
            rocks=RockConfig(
                min_diameter_m=0.1, rigid_min_diameter_m=0.25, max_diameter_m=1.0, density_scale=3.0
            ),
        ),
        (PLANNER_SITE_M, PLANNER_SITE_M),
        0.1,
        np.random.default_rng(seed),
    )
    heights = rock_stamped_heights(terrain)
    grid = GridSpec(terrain.origin_xy_m, terrain.cell_size_m, terrain.shape)
    params = CostmapParams.for_rover(config, max_crater_depth_m=0.3)
    t0 = time.perf_counter()
    for _ in range(3):
        costmap = build_costmap(heights, grid, params)
    costmap_ms = (time.perf_counter() - t0) / 3 * 1e3
    free = np.isfinite(costmap.cost)
    unit = np.where(free, 1.0, np.inf)
    rng = np.random.default_rng(seed + 1)
    cells = np.argwhere(free)
    planner = Planner()
    times: list[float] = []
    ratios_grid: list[float] = []
    ratios_straight: list[float] = []
    failures = 0
    while len(times) < pairs:
        a, b = cells[rng.integers(len(cells), size=2)]
        start = Pose2(*grid.center_of(int(a[0]), int(a[1])), 0.0)
        goal = grid.center_of(int(b[0]), int(b[1]))
        straight = math.hypot(goal[0] - start.x_m, goal[1] - start.y_m)
        if straight < 10.0:
            continue
        cum, _ = MCP_Geometric(unit, fully_connected=True).find_costs([tuple(a)], [tuple(b)])
        shortest_m = float(cum[tuple(b)]) * grid.cell_size_m
        if not math.isfinite(shortest_m):
            continue  # not connected: not a fair pair
        t0 = time.perf_counter()
        try:
            path = planner.plan(costmap, start, goal)
        except PlanningError:
            failures += 1
            continue
        times.append(time.perf_counter() - t0)
        ratios_grid.append(path.length_m / shortest_m)
        ratios_straight.append(path.length_m / straight)
    ms = np.array(times) * 1e3
    return {
        "grid_cells": list(grid.shape),
        "cell_size_m": grid.cell_size_m,
        "lethal_share": round(float(np.mean(~free)), 3),
        "costmap_build_ms": round(costmap_ms, 1),
        "pairs": pairs,
        "plan_ms_median": round(float(np.median(ms)), 1),
        "plan_ms_p90": round(float(np.percentile(ms, 90)), 1),
        "plan_ms_max": round(float(ms.max()), 1),
        "length_over_grid_shortest_median": round(float(np.median(ratios_grid)), 3),
        "length_over_grid_shortest_max": round(float(np.max(ratios_grid)), 3),
        "length_over_straight_median": round(float(np.median(ratios_straight)), 3),
        "planning_failures_on_connected_pairs": failures,
    }


def bench_traverse(
    *,
    seeds: int = 5,
    goals: int = 20,
    first_seed: int = 1,
    scenario: str = "traverse",
    workers: int | None = None,
    folder: Path | None = None,
    on_seed: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The issue's closed-loop measure; see the module docstring. The seeds run as a
    campaign (:func:`~lunarsite.launch.campaign.run_campaign`, ``workers`` at once) into
    ``folder`` (default ``runs/bench-nav-TIME``), so every run's folder can be opened
    afterwards and a killed benchmark resumes. ``on_seed`` is called with each seed's
    summary as it finishes (for progress output)."""
    from .campaign import CampaignSpec, run_campaign
    from .report import default_out_dir
    from .sweep import Variation

    mission = load_scenario(scenario).mission
    if not isinstance(mission, NavigateMission) or mission.random_goals is None:
        raise ValueError(f"{scenario}: not a navigate mission with random goals")
    variation = Variation(
        f"goals={goals}",
        {"mission.random_goals.count": goals, "time_limit_s": goals * mission.goal_time_limit_s},
    )
    spec = CampaignSpec(scenario, tuple(range(first_seed, first_seed + seeds)), (variation,))
    folder = folder or default_out_dir("bench-nav")

    def summary_of(row: dict[str, Any]) -> dict[str, Any]:
        d = json.loads((folder / "runs" / row["run_id"] / "metrics.json").read_text())
        return {
            "seed": row["seed"],
            "goals_reached": d["goals_reached"],
            "goals": len(d["goals"]),
            "rock_contacts": d["rock_contacts"],
            "tip_overs": d["tip_overs"],
            "median_localization_error_m": d["median_localization_error_m"],
            "real_time_factor": d["real_time_factor"],
            "sim_time_s": d["sim_time_s"],
            "wall_time_s": d["wall_time_s"],
            "failed_goals": [
                {k: g.get(k) for k in ("index", "reason", "true_distance_to_goal_m")}
                for g in d["goals"]
                if not g["reached"]
            ],
            "localization_errors_m": [
                g["localization_error_m"] for g in d["goals"] if g["attempted"]
            ],
        }

    def progress(_done: int, _total: int, row: dict[str, Any]) -> None:
        if on_seed is not None and row["status"] != "crashed":
            on_seed(row["seed"], summary_of(row))

    result = run_campaign(spec, folder, workers=workers, on_progress=progress)
    crashed = [r for r in result.rows if r["status"] == "crashed"]
    per_seed = [summary_of(r) for r in result.rows if r["status"] != "crashed"]
    err = np.asarray([e for s in per_seed for e in s["localization_errors_m"]])
    reached = sum(s["goals_reached"] for s in per_seed)
    attempted = sum(s["goals"] for s in per_seed)
    sim_s = sum(s["sim_time_s"] for s in per_seed)
    wall_s = sum(s["wall_time_s"] for s in per_seed)
    return {
        "scenario": scenario,
        "seeds": list(spec.seeds),
        "goals_per_seed": goals,
        "campaign_folder": str(folder),
        "workers": workers,
        "goal_share": round(reached / attempted, 4) if attempted else None,
        "goals_reached": reached,
        "goals": attempted,
        "rock_contacts": sum(s["rock_contacts"] for s in per_seed),
        "tip_overs": sum(s["tip_overs"] for s in per_seed),
        "crashed_runs": [{"seed": r["seed"], "reason": r["reason"]} for r in crashed],
        "localization_error_m_median": round(float(np.median(err)), 4) if err.size else None,
        "localization_error_m_p90": round(float(np.percentile(err, 90)), 4) if err.size else None,
        "sim_time_s": round(sim_s, 1),
        "wall_time_s_runs": round(wall_s, 1),
        "wall_time_s_campaign": round(result.wall_time_s, 1),
        "real_time_factor_per_run": round(sim_s / wall_s, 2) if wall_s else None,
        "per_seed": per_seed,
    }


def bench_nav(
    *,
    pairs: int = 40,
    seed: int = 0,
    seeds: int = 5,
    goals: int = 20,
    first_seed: int = 1,
    workers: int | None = None,
    on_seed: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Planner figures and, with ``seeds > 0``, the closed-loop figures on ``traverse``
    (``on_seed`` as for :func:`bench_traverse`)."""
    from .bench import _machine

    rover = load_scenario("traverse").rover
    out: dict[str, Any] = {
        "benchmark": "nav",
        "rover": rover.name,
        "machine": _machine(),
        "planner": bench_planner(rover, pairs=pairs, seed=seed),
    }
    if seeds > 0:
        out["closed_loop"] = bench_traverse(
            seeds=seeds, goals=goals, first_seed=first_seed, workers=workers, on_seed=on_seed
        )
    return out
