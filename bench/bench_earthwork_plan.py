"""Earthwork planning cost: the landing_pad design (a 4 × 4 m pad and a 3 m berm) on the
scenario's own starting terrain, resampled to the rover's 5 cm survey cells.

Times the first plan (designs laid on the ground, cut/fill, optimal transport, loads)
and a replan (cut/fill, transport, loads on a second, noisy survey of the ground), and reports the
peak memory the planning adds (tracemalloc). Seeds: --seeds.

Run: python bench/bench_earthwork_plan.py [--seeds 0 1 2] [--repeat 5]
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import tracemalloc

import numpy as np

from lunarsite.launch.backends import SeedStreams, build_terrain
from lunarsite.launch.earthwork_plan import terrain_on_grid
from lunarsite.launch.missions.earthwork import task_params
from lunarsite.launch.schema import load_scenario
from lunarsite.robot.planning.earthwork import cut_fill, haul_flows
from lunarsite.robot.planning.hauls import plan_loads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    scenario = load_scenario("landing_pad")
    params = task_params(scenario.mission, scenario)
    grid = params.grid
    out = []
    for seed in args.seeds:
        terrain = build_terrain(scenario, SeedStreams(seed).terrain)
        ground = terrain_on_grid(terrain, grid)
        start = (scenario.start.x_m, scenario.start.y_m)

        def first(ground: np.ndarray = ground, start: tuple[float, float] = start) -> tuple:  # type: ignore[type-arg]
            designs = tuple(d.resolve(grid, ground) for d in params.designs)
            cf = cut_fill(ground, designs, grid, params.planner.deadband_m)
            flows = haul_flows(
                cf, params.planner, borrow_mask=params.borrow_mask, spoil_mask=params.spoil_mask
            )
            return designs, flows, plan_loads(flows, params.planner, start)

        designs, flows, plan = first()
        # A later survey: the same ground read again with 5 mm of noise per cell.
        later = ground + np.random.default_rng(seed).normal(0.0, 0.005, grid.shape)

        def replan(
            later: np.ndarray = later, designs: tuple = designs, start: tuple[float, float] = start
        ) -> object:  # type: ignore[type-arg]
            cf = cut_fill(later, designs, grid, params.planner.deadband_m)
            fl = haul_flows(
                cf, params.planner, borrow_mask=params.borrow_mask, spoil_mask=params.spoil_mask
            )
            return plan_loads(fl, params.planner, start)

        times_first, times_re = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            first()
            times_first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            replan()
            times_re.append(time.perf_counter() - t0)
        tracemalloc.start()
        first()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append(
            {
                "seed": seed,
                "cells": int(grid.shape[0] * grid.shape[1]),
                "haul_sources": int(flows.flow_kg.shape[0]),
                "haul_sinks": int(flows.flow_kg.shape[1]),
                "moved_kg": round(flows.moved_kg, 1),
                "bound_kg_m": round(flows.bound_kg_m, 1),
                "planned_work_kg_m": round(plan.work_kg_m, 1),
                "planned_over_bound": round(plan.work_kg_m / flows.bound_kg_m, 4)
                if flows.bound_kg_m > 0
                else None,
                "trips": plan.trips,
                "plan_s_median": round(statistics.median(times_first), 4),
                "plan_s_max": round(max(times_first), 4),
                "replan_s_median": round(statistics.median(times_re), 4),
                "replan_s_max": round(max(times_re), 4),
                "peak_memory_mb": round(peak / 1e6, 1),
            }
        )
    print(
        json.dumps(
            {
                "benchmark": "earthwork_plan",
                "scenario": "landing_pad",
                "survey_cell_m": grid.cell_size_m,
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
                "per_seed": out,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
