"""Speed measurements that print figures (``lunarsite bench``). Tests never assert on these."""

from __future__ import annotations

import os
import platform
import resource
import time
from typing import Any

import pybullet

from .backends import SimBackend
from .runner import run_mission, run_sim
from .schema import load_scenario

__all__ = ["bench_sim", "bench_soil"]


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "pybullet": pybullet.__version__ if hasattr(pybullet, "__version__") else "3.x",
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def bench_sim(*, sim_seconds: float = 60.0, seed: int = 0) -> dict[str, Any]:
    """Real-time factor of the drive_test_dr world, headless, without and with the camera;
    then of the traverse scenario with its camera, the terrain drawn whole or culled.

    Each measurement runs the drive_test_dr mission for ``sim_seconds`` of simulated time
    (the whole run: physics, sensors, controller, ground-truth recording) and divides by
    the wall time. With the camera, the rover renders RGB-D at its configured rate with
    PyBullet's TinyRenderer, as a real camera streams whether or not anyone looks. A
    one-second warm-up run comes first (module loading is not part of either figure).
    """
    scenario = load_scenario("drive_test_dr")
    cam = scenario.rover.camera
    result: dict[str, Any] = {
        "benchmark": "sim",
        "scenario": "drive_test_dr",
        "rover": scenario.rover.name,
        "seed": seed,
        "physics_hz": scenario.config.sim.physics_hz,
        "control_hz": scenario.config.sim.control_hz,
        "camera_config": None
        if cam is None
        else {"width_px": cam.width_px, "height_px": cam.height_px, "rate_hz": cam.rate_hz},
        "machine": _machine(),
    }
    # A short warm-up run first: the modules the run loads on first use (the simulator,
    # terrain generation) are not part of its real-time factor.
    run_sim(scenario, None, seed=seed, time_limit_s=1.0, render_camera=False)
    for label, camera in (("no_camera", False), ("with_camera", True)):
        t0 = time.perf_counter()
        outcome = run_sim(scenario, None, seed=seed, time_limit_s=sim_seconds, render_camera=camera)
        wall = time.perf_counter() - t0
        sim = outcome.record.sim_time_s
        result[label] = {
            "sim_time_s": round(sim, 3),
            "wall_time_s": round(wall, 3),
            "real_time_factor": round(sim / wall, 2),
            "physics_step_us": round(
                1e6 * wall / max(1.0, sim * scenario.config.sim.physics_hz), 1
            ),
        }
    result["traverse"] = {
        label: _traverse_with_camera(seed, sim_seconds, cull)
        for label, cull in (("whole_terrain", False), ("culled_terrain", True))
    }
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    return result


def _traverse_with_camera(seed: int, sim_seconds: float, cull: bool) -> dict[str, Any]:
    """The traverse scenario (rigid 20 × 20 m site, camera streaming, scanner, planner)
    for ``sim_seconds``: its real-time factor and the camera's cost per frame, with the
    camera drawing the whole terrain or only the tiles in view
    (:mod:`lunarsite.sim.render_tiles`)."""
    scenario = load_scenario("traverse")
    options = {
        **scenario.kind.sim_options(scenario),
        "render_camera": True,
        "camera_culls_terrain": cull,
    }
    backend = SimBackend(scenario, seed, sim_options=options)
    t0 = time.perf_counter()
    outcome = run_mission(
        scenario, backend, None, seed=seed, time_limit_s=sim_seconds, log_mcap=False
    )
    wall = time.perf_counter() - t0
    sim = outcome.record.sim_time_s
    camera = backend.rover.camera
    assert camera is not None
    frames = max(1, camera.frames_rendered)
    return {
        "sim_time_s": round(sim, 3),
        "wall_time_s": round(wall, 3),
        "real_time_factor": round(sim / wall, 2),
        "camera_frames": camera.frames_rendered,
        "camera_ms_per_frame": round(1e3 * camera.render_wall_s / frames, 2),
        "camera_share_of_wall": round(camera.render_wall_s / wall, 3),
    }


def _timings_ms(samples: list[float]) -> dict[str, float]:
    a = sorted(samples)
    return {
        "mean_ms": round(1e3 * sum(a) / len(a), 3),
        "p95_ms": round(1e3 * a[min(len(a) - 1, int(0.95 * len(a)))], 3),
        "max_ms": round(1e3 * a[-1], 3),
        "n": len(a),
    }


def bench_soil(*, sim_seconds: float = 120.0, seed: int = 0) -> dict[str, Any]:
    """Soil costs at 2 cm cells over the 6.88 × 5 m Lunabotics arena (~86,000 cells).

    - ``soil_update``: one soil update for a 0.5 m bucket edge sweeping 1 cm into the soil
      (a 0.1 m/s dig at 10 Hz): cut into the tool, overflow, slumping (the configured
      iteration budget), on the pure-numpy grid.
    - ``heightfield_refresh``: in-place replacement of one collision tile and of the whole
      collision surface, at the default 4 cm collision cell and at 2 cm.
    - ``dig_and_dump``: the ``dig_and_dump`` scenario for ``sim_seconds``, soil on and on
      rigid terrain (the same site on the soil's collision cell), side by side: real-time
      factors and the soil's overhead.
    """
    import numpy as np
    from pybullet_utils import bullet_client

    from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
    from lunarsite.sim.earthmoving import CuttingEdge, ToolLoad, edge_cells, scoop
    from lunarsite.sim.quiet import c_stdout_silenced
    from lunarsite.sim.soil import SoilGrid
    from lunarsite.sim.soil_config import SoilConfig
    from lunarsite.sim.soil_heightfield import TiledHeightfield

    cfg = SoilConfig(material="bp1")
    arena = np.zeros((251, 345))  # the 6.88 × 5 m KSC arena at 2 cm
    grid = SoilGrid(arena, 0.02, config=cfg, gravity_mps2=LUNAR_GRAVITY_MPS2)
    tool = ToolLoad(0.015, grid.rho_loose)
    times: list[float] = []
    x, y, z = 1.0, 2.5, -0.05

    def edge(xe: float) -> CuttingEdge:
        return CuttingEdge(
            np.array([xe, y - 0.25, z]), np.array([xe, y + 0.25, z]), np.array([1.0, 0.0, 0.0])
        )

    for step in range(300):
        if tool.room_kg <= 0.0:  # empty it far away, as a dump would
            tool.load_kg = 0.0
        prev, curr = edge(x + 0.01 * step), edge(x + 0.01 * (step + 1))
        t0 = time.perf_counter()
        scoop(grid, tool, prev, curr)
        grid.set_obstacles(edge_cells(grid, curr))
        grid.relax()
        grid.pop_dirty()
        times.append(time.perf_counter() - t0)
    ny, nx = grid.shape
    result: dict[str, Any] = {
        "benchmark": "soil",
        "grid": {"nx": nx, "ny": ny, "cells": nx * ny, "cell_size_m": 0.02},
        "soil_update": {**_timings_ms(times), "relax_iterations_budget": cfg.relax_iterations},
        "machine": _machine(),
    }
    refresh: dict[str, Any] = {}
    for k in (2, 1):
        with c_stdout_silenced():  # PyBullet prints argv[0]= on connect
            client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
        try:
            coll = np.ascontiguousarray(grid.heights_m[::k, ::k])
            field = TiledHeightfield(
                client,
                coll,
                0.02 * k,
                (0.0, 0.0),
                (float(coll.min()) - 1.0, float(coll.max()) + 1.0),
                cfg.tile_cells,
                rgba=(0.5, 0.5, 0.5, 1.0),
                friction=1.0,
            )
            one, full = [], []
            for i in range(30):
                bump = coll[:8, :8] + 0.001 * (i + 1)
                t0 = time.perf_counter()
                field.update(slice(0, 8), slice(0, 8), bump)
                one.append(time.perf_counter() - t0)
            for i in range(5):
                t0 = time.perf_counter()
                field.update(slice(0, coll.shape[0]), slice(0, coll.shape[1]), coll + 0.001 * i)
                full.append(time.perf_counter() - t0)
            refresh[f"collision_cell_{0.02 * k:.2f}_m"] = {
                "tiles": len(field.tiles),
                "tile_cells": cfg.tile_cells,
                "one_tile": _timings_ms(one),
                "all_tiles": _timings_ms(full),
            }
        finally:
            client.disconnect()
    result["heightfield_refresh"] = refresh
    runs: dict[str, Any] = {}
    scenario = load_scenario("dig_and_dump")
    for label, soil_on in (("soil", True), ("rigid", False)):
        r = run_sim(scenario, None, seed=seed, time_limit_s=sim_seconds, soil_on=soil_on).metrics
        runs[label] = {
            "sim_time_s": round(r["sim_time_s"], 2),
            "wall_time_s": round(r["wall_time_s"], 2),
            "real_time_factor": r["real_time_factor"],
            "digs": r["digs"],
            "dumps": r["dumps"],
        }
        soil = r["soil"]
        if soil is not None:
            runs[label]["conservation_error_rel"] = soil["conservation_error_rel"]
            runs[label]["moved_into_tools_kg"] = round(soil["moved_into_tools_kg"], 2)
            runs[label]["soil_updates"] = soil["updates"]
            runs[label]["tiles_replaced"] = soil["tiles_replaced"]
    runs["soil_overhead_fraction"] = round(
        runs["soil"]["wall_time_s"] / runs["rigid"]["wall_time_s"] - 1.0, 3
    )
    runs["physics_hz"] = scenario.config.sim.physics_hz
    runs["control_hz"] = scenario.config.sim.control_hz
    result["dig_and_dump"] = runs
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    return result
