"""The lunarsite command: exit codes, run folder contents, bad input, determinism."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from lunarsite.launch.cli import main
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario

STRAIGHT = """\
name: straight
description: a short straight drive on gentle generated ground (test scenario)
seed: 3
site:
  size_m: [12.0, 6.0]
  cell_size_m: 0.1
  terrain:
    kind: procedural
    craters: {enabled: false}
    rocks: {enabled: false}
    roughness: {rms_m: 0.005}
rover:
  file: excavator_66kg
  start: {x_m: 2.0, y_m: 3.0, yaw_rad: 0.0}
time_limit_s: 60.0
mission:
  kind: waypoints
  waypoints:
    - {x_m: 6.0, y_m: 3.0}
    - {x_m: 9.0, y_m: 3.2}
acceptance:
  max_waypoint_error_m: 0.5
  max_final_error_m: 0.5
  max_rock_contacts: 0
"""


@pytest.fixture
def straight(tmp_path: Path) -> Path:
    path = tmp_path / "straight.yaml"
    path.write_text(STRAIGHT)
    return path


def test_scenarios_lists_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "drive_test" in out and "lab_rover" in out and "excavator_66kg" in out


def test_validate_good_and_bad(
    straight: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(straight)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(STRAIGHT.replace("{x_m: 9.0, y_m: 3.2}", "{x_m: 19.0, y_m: 3.2}"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "mission.waypoints[1]" in err and "outside the site" in err


@pytest.mark.slow
def test_run_writes_a_complete_run_folder(straight: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["run", str(straight), "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["success"] is True
    assert metrics["scenario"] == "straight" and metrics["seed"] == 3
    assert metrics["waypoints_reached"] == 2
    assert 6.5 < metrics["distance_driven_m"] < 8.5
    assert metrics["final_goal_distance_m"] < 0.5
    assert metrics["final_position_error_m"] < 0.5
    assert metrics["real_time_factor"] > 0 and metrics["oracle"] is False
    heights = np.load(out / "terrain.npy")
    meta = json.loads((out / "terrain.json").read_text())
    assert list(heights.shape) == meta["shape"] == [61, 121]
    assert meta["cell_size_m"] == 0.1
    rows = list(csv.DictReader((out / "trajectory.csv").open()))
    assert len(rows) > 100
    last = rows[-1]
    final = metrics["final_true_pose"]
    assert float(last["true_x_m"]) == pytest.approx(final["x_m"], abs=0.05)
    image = cv2.imread(str(out / "map.png"))
    assert image is not None and image.shape[1] >= 800


@pytest.mark.slow
def test_run_that_falls_short_exits_1(straight: Path, tmp_path: Path) -> None:
    out = tmp_path / "short"
    assert main(["run", str(straight), "--out", str(out), "--time-limit", "5", "--quiet"]) == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["success"] is False
    assert metrics["status"] == "canceled" and "time limit" in metrics["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no_such_scenario"], "no shipped scenario of that name"),
        (["run", "drive_test", "--seed", "-1"], "must be zero or positive"),
        (["run", "drive_test", "--time-limit", "soon"], "expected a number of seconds"),
        (["validate", "/nonexistent.yaml"], "file not found"),
    ],
)
def test_bad_input_exits_2_without_traceback(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lunarsite.launch.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_refuses_a_non_empty_out_folder(straight: Path, tmp_path: Path) -> None:
    out = tmp_path / "used"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["run", str(straight), "--out", str(out), "--quiet"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


@pytest.mark.slow
def test_same_seed_same_trajectory_other_seed_differs() -> None:
    scenario = load_scenario("drive_test_dr")
    a, b, c = (run_sim(scenario, None, seed=seed, time_limit_s=20.0).record for seed in (7, 7, 8))
    assert len(a.t_s) > 300
    assert a.true_xyzyaw == b.true_xyzyaw
    assert a.est_xyyaw == b.est_xyyaw
    assert np.array_equal(a.terrain_before_m, b.terrain_before_m)  # type: ignore[arg-type]
    assert not np.array_equal(a.terrain_before_m, c.terrain_before_m)  # type: ignore[arg-type]
    assert a.true_xyzyaw != c.true_xyzyaw


@pytest.mark.slow
def test_video_is_written(straight: Path, tmp_path: Path) -> None:
    out = tmp_path / "video"
    assert (
        main(["run", str(straight), "--out", str(out), "--video", "--time-limit", "10", "--quiet"])
        == 1
    )
    cap = cv2.VideoCapture(str(out / "video.mp4"))
    frames = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        frames += 1
    cap.release()
    assert frames >= 18  # 10 s of simulated time at a frame every 0.5 s


def test_bench_nav_planner_only_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "nav", "--seeds", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    planner = out["planner"]
    assert planner["grid_cells"] == [401, 401]
    assert planner["planning_failures_on_connected_pairs"] == 0
    # Smoothed paths cut the 8-connected grid's corners: never much longer than it.
    assert planner["length_over_grid_shortest_max"] <= 1.06
    assert "closed_loop" not in out
