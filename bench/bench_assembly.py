"""Assembly planning cost: an order for N units (pavers laying a square pad edge to
edge, taken from a depot of as many, on an open 20 × 20 m site), for placer_66kg (its
footprint, and its clamp's grasp centre ahead of its centre).

Times :func:`plan_assembly` (access map, run-ins, the greedy order with its checks
against every unit still to place) and reports the peak memory it adds (tracemalloc).

Run: python bench/bench_assembly.py [--units 100] [--cell 0.1 0.05] [--repeat 5]
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
import tracemalloc

import numpy as np

from lunarsite.launch.files import load_catalog, load_rover
from lunarsite.robot.planning.assembly import AssemblyParams, DepotSlot, plan_assembly
from lunarsite.robot.planning.costmap import footprint_radius_m
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.site.modules import Placement


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--cell", type=float, nargs="+", default=[0.1, 0.05])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    catalog, _ = load_catalog()
    rover, _ = load_rover("placer_66kg")
    clamp = rover.tools[0]
    params = AssemblyParams(
        rover_radius_m=footprint_radius_m(rover),
        grip_ahead_m=clamp.mount_xyz_m[0] + clamp.arm_length_m,
    )
    side = math.ceil(math.sqrt(args.units))
    pitch = catalog.get("paver_tile").size_m[0]  # type: ignore[union-attr]
    placements = [
        Placement(f"p{k}", "paver_tile", 10.0 + pitch * (k % side), 8.0 + pitch * (k // side))
        for k in range(args.units)
    ]
    slots = [
        DepotSlot(f"d{k}", "paver_tile", 2.0 + 0.4 * (k % side), 2.0 + 0.4 * (k // side))
        for k in range(args.units)
    ]
    out = []
    for cell in args.cell:
        grid = GridSpec.covering((0.0, 0.0), (20.0, 20.0), cell)
        blocked = np.zeros(grid.shape, dtype=bool)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            plan = plan_assembly(placements, catalog, slots, grid, blocked, (5.0, 12.0), params)
            times.append(time.perf_counter() - t0)
        tracemalloc.start()
        plan_assembly(placements, catalog, slots, grid, blocked, (5.0, 12.0), params)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append(
            {
                "units": len(plan.steps),
                "cell_m": cell,
                "grid_cells": grid.shape[0] * grid.shape[1],
                "plan_s_median": round(statistics.median(times), 4),
                "plan_s_max": round(max(times), 4),
                "peak_mb": round(peak / 1e6, 2),
            }
        )
    print(
        json.dumps({"machine": platform.processor() or platform.machine(), "runs": out}, indent=1)
    )


if __name__ == "__main__":
    main()
