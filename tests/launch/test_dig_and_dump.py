"""The dig_and_dump scenario: its file, its checks, its plan, a short run through the CLI
writing the whole run folder, and the soil ledger over a 30-minute run."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from lunarsite.launch.cli import main
from lunarsite.launch.dig_script import (
    DigDumpPlan,
    Pilot,
    bucket_edge_m,
    dig_angles_rad,
    max_dig_depth_m,
)
from lunarsite.launch.schema import (
    DigAndDumpMission,
    ScenarioError,
    _shipped,
    load_rover,
    load_scenario,
)
from lunarsite.robot.config import RoverConfig
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.types import Pose2, SensedState

RUN_FILES = (
    "metrics.json",
    "terrain_before.npy",
    "terrain_after.npy",
    "terrain.json",
    "trajectory.csv",
    "terrain_before.png",
    "terrain_after.png",
    "difference.png",
)


def _shipped_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(_shipped("scenarios")["dig_and_dump"].read_text())
    return data


def _write(tmp_path: Path, data: dict[str, Any], name: str = "dd.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------------ the file
def test_shipped_scenario_is_the_ksc_arena_with_bp1_soil() -> None:
    s = load_scenario("dig_and_dump")
    cfg = s.config
    assert isinstance(cfg.mission, DigAndDumpMission)
    assert cfg.site.size_m == (6.88, 5.0)
    assert cfg.site.cell_size_m == 0.02
    assert cfg.time_limit_s == 1800.0
    assert cfg.soil is not None
    assert cfg.soil.material == "bp1"
    assert cfg.soil.depth_m == 0.45
    assert cfg.acceptance.min_dump_fill_m3 is not None
    assert cfg.mission.max_depth_m <= cfg.soil.depth_m


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["mission"]["dump_area"].update(x_m=6.8),
            "mission.dump_area: box x 6.5..7.1, y 3.05..4.05 m is not inside the site",
        ),
        (
            lambda d: d["mission"].update(dump_area=dict(d["mission"]["dig_area"])),
            "mission.dump_area: overlaps the dig_area",
        ),
        (
            lambda d: d["soil"].update(depth_m=0.1),
            "mission.max_depth_m: 0.18 m is deeper than the soil (soil.depth_m 0.1 m)",
        ),
        (
            lambda d: d["mission"].update(max_depth_m=0.3),
            "mission.max_depth_m: rover 'excavator_66kg''s bucket reaches 0.18 m below the "
            "ground at most",
        ),
        (
            lambda d: d.pop("soil"),
            "mission.kind: a dig_and_dump mission needs soil: {...}",
        ),
        (
            lambda d: d["acceptance"].pop("min_dump_fill_m3"),
            "acceptance: a dig_and_dump mission needs acceptance.min_dump_fill_m3",
        ),
        (
            lambda d: d["mission"]["dig_area"].update(y_m=0.9),
            "mission.dig_area: the rover would stand at",
        ),
        (
            lambda d: d["mission"].update(dig_facing="up"),
            "mission.dig_facing: Input should be 'east', 'north', 'west' or 'south'",
        ),
    ],
)
def test_scenario_checks_name_the_line_and_field(tmp_path: Path, change: Any, message: str) -> None:
    data = _shipped_data()
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert any(f"{path}:" in p and message in p for p in err.value.problems), err.value.problems


# ------------------------------------------------------------------------ the plan
def test_dig_angles_put_the_edge_at_the_planned_depth() -> None:
    s = load_scenario("dig_and_dump")
    plan = DigDumpPlan(s.config.mission, s.rover)  # type: ignore[arg-type]
    deepest = max_dig_depth_m(s.rover, plan.tool, plan.poses)
    assert 0.15 < deepest < 0.25
    for depth in (0.02, 0.1, deepest - 1e-6):
        angles = dig_angles_rad(s.rover, plan.tool, depth, plan.poses)
        assert angles is not None
        _, up = bucket_edge_m(s.rover, plan.tool, *angles)
        assert up == pytest.approx(-depth, abs=1e-9)
        assert sum(angles) == pytest.approx(plan.poses.dig_pitch_rad)
    assert dig_angles_rad(s.rover, plan.tool, deepest + 0.01, plan.poses) is None


def test_plan_skims_the_dig_area_in_layers_far_strip_first() -> None:
    s = load_scenario("dig_and_dump")
    mission = s.config.mission
    assert isinstance(mission, DigAndDumpMission)
    plan = DigDumpPlan(mission, s.rover)
    x0, x1, y0, y1 = mission.dig_area.bounds_m
    per = plan.passes_per_layer
    passes = [plan.dig_pass(i) for i in range(3 * per + 2)]
    assert [p.depth_m for p in passes[:per]] == [mission.layer_depth_m] * per
    assert passes[per].depth_m == pytest.approx(2 * mission.layer_depth_m)
    assert passes[-1].depth_m == pytest.approx(plan.reachable_depth_m)  # the last repeats
    for p in passes:
        reach, _ = bucket_edge_m(s.rover, plan.tool, p.boom_rad, p.curl_rad)
        edge_start = p.start_xy_m[0] + reach
        assert x0 - 1e-9 <= edge_start and edge_start + p.length_m <= x1 + 1e-9
        assert y0 <= p.start_xy_m[1] <= y1
        # The front wheels stay out of the dig area.
        front = p.start_xy_m[0] + p.length_m + 0.5 * s.rover.wheels.wheelbase_m
        assert front + s.rover.wheels.radius_m <= x0
    assert passes[0].start_xy_m[0] > passes[1].start_xy_m[0]  # far strip first
    lanes = {p.lane for p in passes[:per]}
    assert lanes == set(range(len(plan.dig_lanes_m)))
    spots = [plan.dump_spot(i) for i in range(len(plan.dump_lanes_m))]
    assert len({s.lane for s in spots}) == len(spots)


# ------------------------------------------------------------------------- the run
@pytest.mark.slow
def test_short_run_writes_the_run_folder_and_exits_per_acceptance(tmp_path: Path) -> None:
    data = _shipped_data()
    data["mission"]["cycles"] = 1
    data["acceptance"]["min_dump_fill_m3"] = 0.002
    path = _write(tmp_path, data)
    out = tmp_path / "run"
    code = main(["run", str(path), "--out", str(out), "--quiet", "--time-limit", "150"])
    assert code == 0
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    for key in (
        "scenario",
        "seed",
        "success",
        "status",
        "reason",
        "acceptance",
        "sim_time_s",
        "wall_time_s",
        "real_time_factor",
        "soil",
    ):
        assert key in m, key
    assert m["success"] is True and m["dumps"] == 1
    assert set(m["acceptance"]["checks"]) >= {"dump_fill_ok", "conservation_ok", "stayed_on_site"}
    soil = m["soil"]
    for key in (
        "grid_volume_before_m3",
        "grid_volume_after_m3",
        "tool_volume_m3",
        "volume_moved_m3",
        "conservation_error_rel",
        "pile_volume_m3",
        "pit_volume_m3",
        "outflow_kg",
    ):
        assert key in soil, key
    assert soil["moved_into_tools_kg"] > 5.0
    assert soil["pile_volume_m3"] >= 0.002
    assert soil["pit_volume_m3"] > 0.002
    assert soil["conservation_error_rel"] < 1e-9
    before = np.load(out / "terrain_before.npy")
    after = np.load(out / "terrain_after.npy")
    meta = json.loads((out / "terrain.json").read_text())
    assert list(before.shape) == meta["shape"] == list(after.shape)
    assert meta["cell_size_m"] == 0.02
    cell_area = meta["cell_size_m"] ** 2
    assert float((after - before).sum()) * cell_area == pytest.approx(
        soil["scan_volume_change_m3"], abs=1e-12
    )
    # Cut native soil swells when dumped loose, wheels compact: volume is not conserved,
    # but the grid lost about what the bucket took (compacted) less what it poured (loose).
    assert soil["scan_volume_change_m3"] < 0.0
    with (out / "trajectory.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert max(float(r["bucket_load_kg"]) for r in rows) > 5.0
    assert {"true_x_m", "est_x_m", "bucket_load_kg"} <= set(rows[0])
    # Not a single dump yet after 5 s: the run falls short and says so in its exit code.
    short = tmp_path / "short"
    assert main(["run", str(path), "--out", str(short), "--quiet", "--time-limit", "5"]) == 1
    m = json.loads((short / "metrics.json").read_text())
    assert m["acceptance"]["checks"]["dump_fill_ok"] is False
    assert m["status"] == "execution_failed" and "dump_fill_ok" in m["reason"]


@pytest.mark.slow
def test_soil_mass_is_constant_over_a_30_minute_dig_and_dump_run() -> None:
    """The issue's physical check: grid + tools (+ what left through the edges) stays
    constant to 0.1 % over 30 simulated minutes; nothing leaves unaccounted."""
    from lunarsite.launch.dig_and_dump import run_dig_and_dump

    s = load_scenario("dig_and_dump")
    # As cheap as honest: physics at 60 Hz (the drive is as far as at 240 Hz,
    # reference/SIM.md); the soil updates at its own 10 Hz either way.
    cheap = s.config.model_copy(update={"sim": s.config.sim.model_copy(update={"physics_hz": 60})})
    r = run_dig_and_dump(dataclasses.replace(s, config=cheap), time_limit_s=1800.0)
    assert r.sim_time_s == pytest.approx(1800.0, abs=0.1)
    soil = r.soil
    assert soil is not None
    moved = soil["cut_kg"]
    assert moved > 100.0
    total_before = soil["grid_mass_before_kg"]
    total_after = soil["grid_mass_after_kg"] + soil["tool_load_kg"] + soil["outflow_kg"]
    assert abs(total_after - total_before) <= 1e-3 * moved
    assert soil["conservation_error_rel"] < 1e-3
    # Nothing leaves unaccounted: whatever the grid lost is in the bucket or the outflow.
    lost = soil["grid_mass_before_kg"] - soil["grid_mass_after_kg"]
    assert lost == pytest.approx(soil["tool_load_kg"] + soil["outflow_kg"], abs=1e-6)
    assert soil["poured_kg"] + soil["tool_load_kg"] == pytest.approx(
        soil["moved_into_tools_kg"], abs=1e-6
    )
    assert r.dumps >= 5
    assert math.isfinite(r.real_time_factor)


# -------------------------------------------------------------------- wall fixes
def _scan_of_walls(truth: tuple[float, float, float], size: tuple[float, float]) -> Any:
    """A level 360-ray scan from a chassis at ``truth`` inside walls round ``size``, with
    a few returns off something nearer (a bucket) and no return behind it."""
    from lunarsite.robot.perception.mapping import RangeScan

    x, y, yaw = truth
    az = np.linspace(-math.pi, math.pi, 360, endpoint=False)
    dirs = np.column_stack([np.cos(az), np.sin(az), np.zeros_like(az)])
    wx, wy = np.cos(az + yaw), np.sin(az + yaw)
    with np.errstate(divide="ignore"):
        tx = np.where(wx > 0, (size[0] - x) / wx, np.where(wx < 0, -x / wx, np.inf))
        ty = np.where(wy > 0, (size[1] - y) / wy, np.where(wy < 0, -y / wy, np.inf))
    ranges = np.minimum(tx, ty)
    ranges[np.abs(az) < 0.15] = 0.9  # the bucket in front
    return RangeScan(0.0, (0.0, 0.0, 0.35), dirs, ranges, 10.0)


@pytest.mark.parametrize(
    ("truth", "guess"),
    [
        ((3.0, 2.0, 0.3), (3.3, 1.7, 0.25)),
        ((1.2, 4.1, -2.0), (1.0, 4.3, -1.95)),
    ],
)
def test_a_level_scan_of_the_walls_recovers_the_pose(
    truth: tuple[float, float, float], guess: tuple[float, float, float]
) -> None:
    from lunarsite.launch.dig_script import fit_walls
    from lunarsite.robot.types import Pose2

    size = (6.88, 5.0)
    fixed = fit_walls(Pose2(*guess), _scan_of_walls(truth, size), size)
    assert fixed is not None
    assert fixed.x_m == pytest.approx(truth[0], abs=1e-3)
    assert fixed.y_m == pytest.approx(truth[1], abs=1e-3)
    assert fixed.yaw_rad == pytest.approx(truth[2], abs=1e-3)


def test_a_scan_that_sees_no_walls_gives_no_fix() -> None:
    from lunarsite.launch.dig_script import fit_walls
    from lunarsite.robot.perception.mapping import RangeScan
    from lunarsite.robot.types import Pose2

    dirs = np.column_stack([np.ones(100), np.zeros(100), np.zeros(100)])
    scan = RangeScan(0.0, (0.0, 0.0, 0.35), dirs, np.full(100, np.inf), 10.0)
    assert fit_walls(Pose2(3.0, 2.0, 0.0), scan, (6.88, 5.0)) is None


class _PitchingRover(MockRover):
    """A mock excavator whose chassis noses down at ``rate`` while it drives forward with
    its boom below ``bite_rad`` (the FEE pulling a deep cut down), as its gyro reports."""

    def __init__(self, config: RoverConfig, clock: ManualClock, rate: float, bite_rad: float):
        super().__init__(config, clock, Pose2(1.0, 1.0, 0.0))
        self.rate, self.bite_rad = rate, bite_rad

    def _on_read(self) -> SensedState:
        s = super()._on_read()
        cutting = (
            self.true_twist.linear_mps > 0.0 and s.tool_positions_rad["boom_lift"] < self.bite_rad
        )
        g = s.gyro_radps
        return dataclasses.replace(
            s, gyro_radps=(g[0], g[1] + (self.rate if cutting else 0.0), g[2])
        )


@pytest.mark.parametrize("rate", [0.0, 0.1])
def test_a_dig_pass_raises_its_boom_when_the_chassis_noses_down(rate: float) -> None:
    config = load_rover("excavator_66kg")[0]
    clock = ManualClock()
    rover = _PitchingRover(config, clock, rate=rate, bite_rad=-0.1)
    rover.configure()
    rover.activate()
    pilot = Pilot(rover, config, Pose2(1.0, 1.0, 0.0), control_hz=20.0, deadline_s=60.0)
    pilot.tools_to({"boom_lift": -0.4, "bucket_curl": 0.3})
    pilot.dig(0.3, 0.08, 0.0, boom="boom_lift", carry_rad=0.4)
    if rate == 0.0:
        assert pilot.pitch_reliefs == 0
        assert pilot.tools["boom_lift"] == -0.4
    else:
        # 0.8 s of pitching at 0.1 rad/s trips the guard; each trip raises the boom 0.15
        # rad and stands still, until the boom is above the biting depth.
        assert pilot.pitch_reliefs == 2
        assert pilot.tools["boom_lift"] == pytest.approx(-0.1)
    assert rover.true_pose.x_m == pytest.approx(1.3, abs=0.03)  # the pass still ends
