"""A rover that drives off the edge of the site ends its run there, with that reason,
instead of falling for as long as the run lasts (issue 16's faults)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml

from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario

SCENARIO = {
    "name": "off_the_edge",
    "description": "the lab rover drives 1 m from the middle of a 3 m sand box",
    "seed": 0,
    "site": {
        "size_m": [3.0, 3.0],
        "cell_size_m": 0.05,
        "terrain": {
            "kind": "procedural",
            "craters": {"enabled": False},
            "rocks": {"enabled": False},
            "roughness": {"rms_m": 0.002},
        },
    },
    "rover": {"file": "lab_rover", "start": {"x_m": 1.5, "y_m": 1.5, "yaw_rad": 0.0}},
    "time_limit_s": 60.0,
    "mission": {
        "kind": "steps",
        "control_hz": 20.0,
        "steps": [{"kind": "drive", "distance_m": 1.0, "speed_mps": 0.3}],
    },
}


def test_a_rover_that_drives_off_the_site_ends_the_run_at_the_edge(tmp_path: Path) -> None:
    path = tmp_path / "off_the_edge.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    scenario = load_scenario(str(path))
    # `validate` refuses a drive that ends off the site; a rover that slips, a wrong
    # estimate or a bug in a task does not ask. Drive 3 m from the middle of the box.
    drive = scenario.mission.steps[0].model_copy(update={"distance_m": 3.0})
    mission = scenario.mission.model_copy(update={"steps": (drive,)})
    scenario = dataclasses.replace(scenario, mission=mission)
    outcome = run_sim(scenario, tmp_path / "run", seed=0, time_limit_s=60.0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["ended_by"] == "canceled"
    assert "left the site" in metrics["reason"]
    assert metrics["left_site"] is True
    assert metrics["acceptance"]["checks"]["stayed_on_site"] is False
    assert metrics["success"] is False
    # 1.5 m to the edge at 0.3 m/s is 5 s and a little: ended then, not at the 10 s the
    # whole drive would take, nor at the time limit.
    assert 4.5 < outcome.record.sim_time_s < 8.0
    # The centre was past the edge when it ended, and not far below the ground.
    x, _, z, _ = outcome.record.true_xyzyaw[-1]
    assert 3.0 < x < 3.3 and z > -0.5


def test_a_rover_that_stays_on_the_site_passes_that_check(tmp_path: Path) -> None:
    path = tmp_path / "on_the_site.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    run_sim(load_scenario(str(path)), tmp_path / "run", seed=0, time_limit_s=60.0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["left_site"] is False
    assert metrics["acceptance"]["checks"]["stayed_on_site"] is True
