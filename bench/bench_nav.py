"""Navigation figures: costmap and planning time on 400 × 400 cells, path length against
the grid's shortest path, and (optionally) closed-loop runs in the simulator.

Run: python bench/bench_nav.py [--pairs 40] [--seed 0] [--sim-seeds 0] [--sim-goals 3]
Prints JSON. Tests never assert on these figures.

Planning: a 40 m × 40 m site at 0.1 m (401 × 401 cells) generated from the VIPER crater
and rock statistics (``typical`` rocks at 3× density, craters 1–10 m), rigid rocks
stamped in as the robot would map them; excavator limits. Random start/goal pairs on
free, connected cells. "Grid shortest" is the shortest 8-connected path over non-lethal
cells (every cell costs 1), from a compiled Dijkstra.

Closed loop (``--sim-seeds N``): per seed, a 16 m site with rocks, two beacons and
``--sim-goals`` goals reachable on the true costmap; the excavator (camera on a mast)
with a mast range scanner. Reports goals reached, rock contacts, tip-overs and the
localization error at each goal.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from typing import Any

import numpy as np
from skimage.graph import MCP_Geometric

from lunarsite.launch.schema import load_rover
from lunarsite.robot.config import RoverConfig
from lunarsite.robot.costmap import CostmapParams, build_costmap
from lunarsite.robot.grid import GridSpec
from lunarsite.robot.planner import Planner, PlanningError
from lunarsite.robot.types import Pose2
from lunarsite.sim.terrain import (
    ClearZone,
    CraterConfig,
    ProceduralTerrainConfig,
    RockConfig,
    Terrain,
    generate_terrain,
)


def _stamp_rocks(terrain: Terrain) -> np.ndarray:
    """Heights with each rigid rock as a flat-topped disc of its height (what a scanner
    maps)."""
    h = np.array(terrain.heights_m, copy=True)
    xs, ys = terrain.x_coords_m, terrain.y_coords_m
    for rock in terrain.rocks:
        r = 0.5 * rock.diameter_m
        i0, i1 = np.searchsorted(xs, [rock.x_m - r, rock.x_m + r])
        j0, j1 = np.searchsorted(ys, [rock.y_m - r, rock.y_m + r])
        xx, yy = np.meshgrid(xs[i0:i1], ys[j0:j1])
        inside = np.hypot(xx - rock.x_m, yy - rock.y_m) <= r
        top = terrain.height_at(rock.x_m, rock.y_m) + rock.height_m - rock.embed_depth_m
        h[j0:j1, i0:i1] = np.where(inside, np.maximum(h[j0:j1, i0:i1], top), h[j0:j1, i0:i1])
    return h


def _site(
    size_m: float, seed: int, rock_scale: float, clear: tuple[ClearZone, ...] = ()
) -> Terrain:
    cfg = ProceduralTerrainConfig(
        craters=CraterConfig(min_diameter_m=1.0, max_diameter_m=10.0),
        rocks=RockConfig(
            min_diameter_m=0.1,
            rigid_min_diameter_m=0.25,
            max_diameter_m=1.0,
            density_scale=rock_scale,
        ),
        clear_zones=clear,
    )
    return generate_terrain(cfg, (size_m, size_m), 0.1, np.random.default_rng(seed))


def bench_planner(config: RoverConfig, *, pairs: int, seed: int) -> dict[str, Any]:
    terrain = _site(40.0, seed, 3.0)
    heights = _stamp_rocks(terrain)
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
    times, ratios_grid, ratios_straight, ratios_smooth = [], [], [], []
    failures = 0
    while len(times) < pairs:
        a, b = cells[rng.integers(len(cells), size=2)]
        start = Pose2(*grid.center_of(int(a[0]), int(a[1])), 0.0)
        goal = grid.center_of(int(b[0]), int(b[1]))
        straight = math.hypot(goal[0] - start.x_m, goal[1] - start.y_m)
        if straight < 10.0:
            continue
        mcp = MCP_Geometric(unit, fully_connected=True)
        cum, _ = mcp.find_costs([tuple(a)], [tuple(b)])
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
        ratios_smooth.append(path.length_m / path.grid_length_m)
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
        "smoothed_over_raw_grid_path_median": round(float(np.median(ratios_smooth)), 3),
        "planning_failures_on_connected_pairs": failures,
    }


def bench_sim(config: RoverConfig, *, seeds: int, goals: int) -> dict[str, Any]:
    """Closed-loop runs; see the module docstring."""
    import pybullet as pb  # noqa: F401  (the simulator is needed only here)

    from lunarsite.robot.executive import ActionStatus
    from lunarsite.robot.fiducials import SurveyedMarker
    from lunarsite.robot.localization import LocalizationParams, Localizer
    from lunarsite.robot.mapping import ElevationMap
    from lunarsite.robot.navigation import Navigator, NavigatorParams, NavTick
    from lunarsite.robot.types import RoverCommand
    from lunarsite.sim.beacons import add_beacons
    from lunarsite.sim.rangefinder import Rangefinder, RangefinderConfig
    from lunarsite.sim.world import LunarWorld, SimConfig

    assert config.camera is not None
    cfg = config.model_copy(
        update={
            "camera": config.camera.model_copy(
                update={"mount_xyz_m": (0.2, 0.0, 0.7), "mount_pitch_rad": 0.25}
            )
        }
    )
    start = Pose2(3.0, 8.0, 0.0)
    per_goal: list[dict[str, Any]] = []
    contacts_total = 0
    tipovers = 0
    wall0 = time.perf_counter()
    sim_s = 0.0
    for seed in range(seeds):
        terrain = _site(16.0, 100 + seed, 1.0, (ClearZone(x_m=3.0, y_m=8.0, radius_m=1.5),))
        grid = GridSpec(terrain.origin_xy_m, terrain.cell_size_m, terrain.shape)
        truth_cm = build_costmap(_stamp_rocks(terrain), grid, CostmapParams.for_rover(cfg))
        rng = np.random.default_rng(seed)
        free = np.argwhere(np.isfinite(truth_cm.cost))
        planner = Planner()
        goal_list: list[tuple[float, float]] = []
        here = start
        while len(goal_list) < goals:
            j, i = free[rng.integers(len(free))]
            g = grid.center_of(int(j), int(i))
            if (
                not (1.5 < g[0] < 14.5 and 1.5 < g[1] < 14.5)
                or math.dist(g, (here.x_m, here.y_m)) < 4
            ):
                continue
            try:
                planner.plan(truth_cm, here, g)
            except PlanningError:
                continue
            goal_list.append(g)
            here = Pose2(g[0], g[1], 0.0)
        world = LunarWorld(terrain, SimConfig(render_camera=True))
        with world:
            markers = [
                SurveyedMarker(
                    1, 6.0, 9.5, terrain.height_at(6.0, 9.5) + 0.45, math.radians(-150), 0.4
                ),
                SurveyedMarker(2, 15.5, 8.0, terrain.height_at(15.5, 8.0) + 0.45, math.pi, 0.4),
                SurveyedMarker(3, 8.0, 0.5, terrain.height_at(8.0, 0.5) + 0.45, math.pi / 2, 0.4),
                SurveyedMarker(
                    4, 8.0, 15.5, terrain.height_at(8.0, 15.5) + 0.45, -math.pi / 2, 0.4
                ),
            ]
            add_beacons(world, markers)
            rover = world.add_rover(cfg, start, rng=np.random.default_rng(seed))
            rover.configure()
            rover.activate()
            rover.write(RoverCommand(tool_targets_rad={"boom_lift": -0.1, "bucket_curl": 1.2}))
            world.clock.sleep_s(2.0)
            scanner = Rangefinder(
                world, rover, RangefinderConfig((0.0, 0.0, 0.8)), rng=np.random.default_rng(seed)
            )
            loc = Localizer(LocalizationParams.for_rover(cfg), start, (0.03, 0.03, 0.02))
            nav = Navigator(
                rover,
                cfg,
                loc,
                NavigatorParams.for_rover(cfg, world.config.control_hz, goal_time_limit_s=150.0),
                ElevationMap(grid),
                map_source=scanner.scan,
                markers=markers,
                ground_z_m=terrain.height_at(start.x_m, start.y_m),
            )
            touched: set[int] = set()
            tipped = False
            worst = {"tilt": 0.0, "x": 0.0, "y": 0.0}

            def watch(_: NavTick) -> None:
                nonlocal tipped
                touched.update(world.truth.rock_contacts(rover))  # noqa: B023
                tp = world.truth.rover_pose(rover)  # noqa: B023
                if tp.tilt_rad > worst["tilt"]:  # noqa: B023
                    worst.update(tilt=tp.tilt_rad, x=tp.x_m, y=tp.y_m)  # noqa: B023
                tipped = tipped or world.truth.tipped_over(rover)  # noqa: B023

            t_sim0 = world.sim_time_s
            for k, g in enumerate(goal_list):
                res = nav.run([g], observer=watch)
                truth = world.truth.rover_pose(rover)
                (gr,) = res.goals
                per_goal.append(
                    {
                        "seed": seed,
                        "goal": k,
                        "status": gr.result.status.value,
                        "reason": gr.result.reason,
                        "time_s": round(gr.elapsed_s, 1),
                        "true_distance_to_goal_m": round(math.dist(g, (truth.x_m, truth.y_m)), 3),
                        "localization_error_m": round(
                            math.hypot(
                                gr.final_estimate.x_m - truth.x_m, gr.final_estimate.y_m - truth.y_m
                            ),
                            3,
                        ),
                        "fixes": gr.fixes,
                        "plans": gr.plans,
                        "max_tilt_rad_so_far": round(worst["tilt"], 3),
                        "max_tilt_at_xy_m": (round(worst["x"], 2), round(worst["y"], 2)),
                    }
                )
                if (
                    gr.result.status is not ActionStatus.SUCCEEDED
                    and "hardware" in gr.result.reason
                ):
                    break
            sim_s += world.sim_time_s - t_sim0
            contacts_total += len(touched)
            tipovers += int(tipped)
    reached = [
        g for g in per_goal if g["status"] == "succeeded" and g["true_distance_to_goal_m"] < 0.3
    ]
    errors = [g["localization_error_m"] for g in per_goal]
    return {
        "seeds": seeds,
        "goals_per_seed": goals,
        "reached_share": round(len(reached) / max(1, len(per_goal)), 3),
        "rocks_touched": contacts_total,
        "tip_overs": tipovers,
        "localization_error_m_median": round(float(np.median(errors)), 3) if errors else None,
        "localization_error_m_max": round(float(np.max(errors)), 3) if errors else None,
        "sim_time_s": round(sim_s, 1),
        "wall_time_s": round(time.perf_counter() - wall0, 1),
        "goals": per_goal,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sim-seeds", type=int, default=0)
    ap.add_argument("--sim-goals", type=int, default=3)
    args = ap.parse_args(argv)
    config = load_rover("excavator_66kg")[0]
    out: dict[str, Any] = {
        "benchmark": "nav",
        "rover": config.name,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "planner": bench_planner(config, pairs=args.pairs, seed=args.seed),
    }
    if args.sim_seeds > 0:
        out["closed_loop"] = bench_sim(config, seeds=args.sim_seeds, goals=args.sim_goals)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
