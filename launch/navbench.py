"""Navigation figures for ``lunarsite bench nav`` and ``bench/bench_nav.py`` (issue 4).

- :func:`bench_planner`: costmap build and planning time on a 401 × 401 costmap (a 40 m
  site at 0.1 m with craters and 3× the typical rock density, rigid rocks stamped in as
  a scanner maps them), and path length against the grid's shortest 8-connected path
  over non-lethal cells (a compiled Dijkstra, ``skimage.graph.MCP_Geometric``).
- :func:`bench_traverse`: the closed loop on the ``traverse`` scenario, seeds
  ``first_seed`` … with ``goals`` random reachable goals each (the scenario's
  ``random_goals.count`` overridden, the per-goal time limit kept), through
  the one runner (:func:`~lunarsite.launch.runner.run_sim`): share of goals reached, rock
  contacts, tip-overs and the localization error at each goal, judged on ground truth.

Tests never assert on these figures.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.planning.costmap import CostmapParams, build_costmap
from lunarsite.robot.planning.planner import Planner, PlanningError
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2
from lunarsite.sim.terrain import (
    CraterConfig,
    ProceduralTerrainConfig,
    RockConfig,
    generate_terrain,
)

from .missions.navigate import NavigateMission, rock_stamped_heights
from .runner import run_sim
from .schema import LoadedScenario, load_scenario

__all__ = ["bench_nav", "bench_planner", "bench_traverse", "with_goal_count"]

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


def with_goal_count(scenario: LoadedScenario, count: int) -> LoadedScenario:
    """A navigate scenario with ``random_goals.count`` set to ``count`` (time limits kept:
    the run's limit is ``count`` times the per-goal limit)."""
    mission = scenario.mission
    if not isinstance(mission, NavigateMission) or mission.random_goals is None:
        raise ValueError(f"{scenario.path}: not a navigate mission with random goals")
    goals = mission.random_goals.model_copy(update={"count": count})
    config = scenario.config.model_copy(update={"time_limit_s": count * mission.goal_time_limit_s})
    return dataclasses.replace(
        scenario, config=config, mission=mission.model_copy(update={"random_goals": goals})
    )


def bench_traverse(
    *,
    seeds: int = 5,
    goals: int = 20,
    first_seed: int = 1,
    scenario: str = "traverse",
    on_seed: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The issue's closed-loop measure; see the module docstring. ``on_seed`` is called
    with each seed's summary as it finishes (for progress output)."""
    loaded = with_goal_count(load_scenario(scenario), goals)
    per_seed: list[dict[str, Any]] = []
    loc_errors: list[float] = []
    reached = attempted = contacts = tips = 0
    sim_s = wall_s = 0.0
    for seed in range(first_seed, first_seed + seeds):
        d = run_sim(loaded, None, seed=seed, time_limit_s=loaded.config.time_limit_s).metrics
        errs = [g["localization_error_m"] for g in d["goals"] if g["attempted"]]
        loc_errors.extend(errs)
        reached += d["goals_reached"]
        attempted += len(d["goals"])
        contacts += d["rock_contacts"]
        tips += d["tip_overs"]
        sim_s += d["sim_time_s"]
        wall_s += d["wall_time_s"]
        summary = {
            "seed": seed,
            "goals_reached": d["goals_reached"],
            "goals": len(d["goals"]),
            "rock_contacts": d["rock_contacts"],
            "tip_overs": d["tip_overs"],
            "median_localization_error_m": d["median_localization_error_m"],
            "real_time_factor": d["real_time_factor"],
            "failed_goals": [
                {k: g.get(k) for k in ("index", "reason", "true_distance_to_goal_m")}
                for g in d["goals"]
                if not g["reached"]
            ],
            "localization_errors_m": errs,
        }
        per_seed.append(summary)
        if on_seed is not None:
            on_seed(seed, summary)
    err = np.asarray(loc_errors)
    return {
        "scenario": scenario,
        "seeds": list(range(first_seed, first_seed + seeds)),
        "goals_per_seed": goals,
        "goal_share": round(reached / attempted, 4) if attempted else None,
        "goals_reached": reached,
        "goals": attempted,
        "rock_contacts": contacts,
        "tip_overs": tips,
        "localization_error_m_median": round(float(np.median(err)), 4) if err.size else None,
        "localization_error_m_p90": round(float(np.percentile(err, 90)), 4) if err.size else None,
        "sim_time_s": round(sim_s, 1),
        "wall_time_s": round(wall_s, 1),
        "real_time_factor": round(sim_s / wall_s, 2) if wall_s else None,
        "per_seed": per_seed,
    }


def bench_nav(
    *,
    pairs: int = 40,
    seed: int = 0,
    seeds: int = 5,
    goals: int = 20,
    first_seed: int = 1,
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
            seeds=seeds, goals=goals, first_seed=first_seed, on_seed=on_seed
        )
    return out
