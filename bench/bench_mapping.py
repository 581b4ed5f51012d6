"""The elevation map's cost per scan, with and without the gate against false returns.

Scans of flat ground from a 0.8 m mast, cast analytically (no physics) with the fan the
traverse mission uses and the Livox HAP's figures (2 cm range noise, 0.1° pointing, the
25° field of view, 0.01% false returns at a uniform range), are fused into the traverse
site's 200 × 200 grid at 0.1 m, the rover standing still.

Run: python bench/bench_mapping.py [--scans 200] [--repeats 3]
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time

import numpy as np

from lunarsite.robot.config import ScannerConfig
from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2
from lunarsite.sim.rangefinder import RangefinderConfig, datasheet_returns, ray_directions

MOUNT = (0.0, 0.0, 0.8)
HAP = ScannerConfig(
    part="Livox HAP (TX) (Livox HAP User Manual 2022, Table 1.2.1)",
    range_std_m=0.02,
    angle_std_rad=0.0017,
    min_range_m=0.5,
    vertical_fov_rad=0.436,
    false_return_share=1e-4,
)


def scans(n: int, rng: np.random.Generator) -> list[RangeScan]:
    cfg = RangefinderConfig(MOUNT).with_part(HAP)
    d = ray_directions(cfg)
    with np.errstate(divide="ignore"):
        r = np.where(d[:, 2] < 0.0, MOUNT[2] / -d[:, 2], np.inf)
    out = []
    up = np.broadcast_to([0.0, 0.0, 1.0], d.shape)
    for k in range(n):
        noisy = r + rng.normal(0.0, HAP.range_std_m, len(r))
        ranges = datasheet_returns(noisy, d, up, HAP, cfg, rng)  # the simulator's own model
        ranges[ranges > cfg.max_range_m] = np.inf
        std, angle = HAP.range_std_m, HAP.angle_std_rad
        out.append(RangeScan(0.05 * k, MOUNT, d, ranges, cfg.max_range_m, std, angle))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scans", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    data = scans(args.scans, np.random.default_rng(0))
    grid = GridSpec((0.0, 0.0), 0.1, (200, 200))
    pose = Pose2(10.0, 10.0, 0.3)
    figures: dict[str, object] = {
        "python": platform.python_version(),
        "rays_per_scan": len(data[0].ranges_m),
        "scans": args.scans,
    }
    for label, gate in (("gate_off", None), ("gate_on", 4.0)):
        best = math.inf
        held = 0
        for _ in range(args.repeats):
            emap = ElevationMap(grid, gate_sigmas=gate)
            t0 = time.perf_counter()
            for scan in data:
                emap.integrate_scan(scan, pose, 0.0, 0.0, 0.0, max_range_m=6.0)
            best = min(best, time.perf_counter() - t0)
            held = 0 if emap.gate is None else emap.gate.held_back
        figures[label] = {
            "us_per_scan": round(1e6 * best / args.scans, 1),
            "returns_held_back": held,
        }
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
