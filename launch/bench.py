"""Speed measurements that print figures (``lunarsite bench``). Tests never assert on these."""

from __future__ import annotations

import os
import platform
import resource
import time
from typing import Any

import pybullet

from .runner import run_scenario
from .schema import load_scenario

__all__ = ["bench_sim"]


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "pybullet": pybullet.__version__ if hasattr(pybullet, "__version__") else "3.x",
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def bench_sim(*, sim_seconds: float = 60.0, seed: int = 0) -> dict[str, Any]:
    """Real-time factor of the drive_test world, headless, without and with the camera.

    Each measurement runs the drive_test mission for ``sim_seconds`` of simulated time
    (the whole run: physics, sensors, controller, ground-truth recording) and divides by
    the wall time. With the camera, the rover renders RGB-D at its configured rate with
    PyBullet's TinyRenderer, as a real camera streams whether or not anyone looks.
    """
    scenario = load_scenario("drive_test")
    cam = scenario.rover.camera
    result: dict[str, Any] = {
        "benchmark": "sim",
        "scenario": "drive_test",
        "rover": scenario.rover.name,
        "seed": seed,
        "physics_hz": scenario.config.sim.physics_hz,
        "control_hz": scenario.config.sim.control_hz,
        "camera_config": None
        if cam is None
        else {"width_px": cam.width_px, "height_px": cam.height_px, "rate_hz": cam.rate_hz},
        "machine": _machine(),
    }
    for label, camera in (("no_camera", False), ("with_camera", True)):
        t0 = time.perf_counter()
        record = run_scenario(scenario, seed=seed, time_limit_s=sim_seconds, render_camera=camera)
        wall = time.perf_counter() - t0
        assert record.outcome is not None
        sim = record.outcome.elapsed_s
        result[label] = {
            "sim_time_s": round(sim, 3),
            "wall_time_s": round(wall, 3),
            "real_time_factor": round(sim / wall, 2),
            "physics_step_us": round(
                1e6 * wall / max(1.0, sim * scenario.config.sim.physics_hz), 1
            ),
        }
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    return result
