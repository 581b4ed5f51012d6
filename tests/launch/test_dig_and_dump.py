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
from lunarsite.launch.files import ScenarioError, _shipped
from lunarsite.launch.missions.dig_and_dump import DigAndDumpMission
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario

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
    assert isinstance(s.mission, DigAndDumpMission)
    assert cfg.site.size_m == (6.88, 5.0)
    assert cfg.site.cell_size_m == 0.02
    assert cfg.time_limit_s == 1800.0
    assert cfg.soil is not None
    assert cfg.soil.material == "bp1"
    assert cfg.soil.depth_m == 0.45
    assert s.acceptance.min_dump_fill_m3 is not None
    assert s.mission.max_depth_m <= cfg.soil.depth_m


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
            "acceptance.min_dump_fill_m3: required field is missing",
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
    assert m["status"] == "canceled" and "time limit of 5 s reached" in m["reason"]
    assert m["ended_by"] == "time_limit" and m["dumps"] == 0


@pytest.mark.slow
def test_soil_mass_is_constant_over_a_30_minute_dig_and_dump_run() -> None:
    """The issue's physical check: grid + tools (+ what left through the edges) stays
    constant to 0.1 % over 30 simulated minutes; nothing leaves unaccounted."""
    s = load_scenario("dig_and_dump")
    # As cheap as honest: physics at 60 Hz (the drive is as far as at 240 Hz,
    # reference/SIM.md); the soil updates at its own 10 Hz either way.
    cheap = s.config.model_copy(update={"sim": s.config.sim.model_copy(update={"physics_hz": 60})})
    r = run_sim(dataclasses.replace(s, config=cheap), None, seed=0, time_limit_s=1800.0).metrics
    assert r["sim_time_s"] == pytest.approx(1800.0, abs=0.1)
    soil = r["soil"]
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
    assert r["dumps"] >= 5
    assert math.isfinite(r["real_time_factor"])
