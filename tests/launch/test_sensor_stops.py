"""A sensor that stops in a real PyBullet run (the scenario's fault rehearsal) ends the
run with the reason and the rover stopped (issue 16's faults); the same run with every
sensor live reaches its goal."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from lunarsite.launch.missions.navigate import SETTLE_S
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario

STOP_S = 4.0
"""When the rehearsed sensor stops, in s of simulated time."""
LAG_S = 1.0
"""How long a camera frame or a scanner's silence may lag (the lab camera's 5 Hz: five
frame periods, at least 1 s)."""
FROZEN_IMU_S = 0.5

SCENARIO: dict[str, Any] = {
    "name": "sensor_stop",
    "description": "the lab rover drives 2.5 m to a goal by beacon, map and planner",
    "seed": 0,
    "site": {
        "size_m": [5.0, 4.0],
        "cell_size_m": 0.05,
        "terrain": {
            "kind": "procedural",
            "craters": {"enabled": False},
            "rocks": {"enabled": False},
            "roughness": {"rms_m": 0.002},
        },
        "beacons": [{"marker_id": 1, "x_m": 4.7, "y_m": 2.0, "facing_yaw_rad": math.pi}],
    },
    "rover": {"file": "lab_rover", "start": {"x_m": 1.0, "y_m": 2.0, "yaw_rad": 0.0}},
    "time_limit_s": 60.0,
    "mission": {
        "kind": "navigate",
        "goals": [{"x_m": 3.5, "y_m": 2.0}],
        "goal_tolerance_m": 0.15,
        "scanner_mount_xyz_m": [0.1, 0.0, 0.3],
    },
}


def _run(tmp_path: Path, stops: dict[str, float]) -> tuple[dict[str, Any], float, float]:
    """metrics.json, the run's end in s, and the rover's true speed then, in m/s."""
    spec = json.loads(json.dumps(SCENARIO))
    spec["sim"] = {"sensor_stops_s": stops}
    path = tmp_path / "sensor_stop.yaml"
    path.write_text(yaml.safe_dump(spec))
    outcome = run_sim(load_scenario(str(path)), tmp_path / "run", seed=0, time_limit_s=60.0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    t = outcome.record.t_s
    xyz = outcome.record.true_xyzyaw
    speed = math.hypot(xyz[-1][0] - xyz[-3][0], xyz[-1][1] - xyz[-3][1]) / (t[-1] - t[-3])
    return metrics, outcome.record.sim_time_s, speed


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sensor", "detected_after_s", "says"),
    [
        ("camera", LAG_S, "camera stopped: the newest frame was captured at "),
        ("scanner", LAG_S, "scanner stopped: nothing new since"),
        ("imu", FROZEN_IMU_S, "IMU stopped: its six channels have read the same values"),
    ],
)
def test_a_sensor_that_stops_ends_the_run_with_the_reason(
    tmp_path: Path, sensor: str, detected_after_s: float, says: str
) -> None:
    metrics, end_s, _ = _run(tmp_path, {sensor: STOP_S})
    assert metrics["ended_by"] == "fault"
    assert metrics["status"] == "execution_failed"
    assert metrics["reason"].startswith(says)
    # Noticed once the lag has run from the last sample, which came at most one of its
    # periods (the camera's 0.2 s, the scanner asked every few ticks) before the stop. The
    # stop counts from the rover's activation, the run's clock from after the mission's
    # settling.
    stop_in_run_s = STOP_S - SETTLE_S
    assert stop_in_run_s + detected_after_s - 0.3 < end_s < stop_in_run_s + detected_after_s + 0.3


@pytest.mark.slow
def test_with_every_sensor_live_the_same_drive_reaches_its_goal(tmp_path: Path) -> None:
    metrics, end_s, speed = _run(tmp_path, {"camera": 1000.0})
    assert metrics["ended_by"] == "finished", metrics["reason"]
    assert metrics["success"] is True
    assert end_s > STOP_S + 2.0  # it ran past the time the others stopped
    assert speed < 0.05
    # The filter's NEES in metrics.json, recomputed from trajectory.csv's columns.
    rows = np.genfromtxt(tmp_path / "run" / "trajectory.csv", delimiter=",", names=True)
    nees = []
    for r in rows:
        sx, sy, rho = r["est_std_x_m"], r["est_std_y_m"], r["est_corr_xy"]
        cov = np.array([[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]])
        err = np.array([r["true_x_m"] - r["est_x_m"], r["true_y_m"] - r["est_y_m"]])
        nees.append(float(err @ np.linalg.solve(cov, err)))
    position = metrics["nees"]["position"]
    assert position["ticks"] == len(rows) == metrics["ticks"]
    assert position["mean"] == pytest.approx(np.mean(nees), rel=0.05)
    assert metrics["goals_called_reached_falsely"] == 0
