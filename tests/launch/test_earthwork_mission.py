"""The earthwork mission kind: designs the site cannot hold are refused with the field
named, and the shipped landing_pad converts into controller values that balance."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from lunarsite.launch.missions.earthwork import task_params
from lunarsite.launch.schema import ScenarioError, load_scenario
from lunarsite.robot.planning.earthwork import cut_fill, haul_flows


def _pad(**patch: object) -> dict[str, object]:
    data = yaml.safe_load(load_scenario("landing_pad").path.read_text())
    for dotted, value in patch.items():
        node = data
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("patch", "field", "reason"),
    [
        (
            {
                "mission__tasks__0__polygon_xy_m": [
                    [10.0, 1.0],
                    [13.0, 1.0],
                    [13.0, 3.0],
                    [10.0, 3.0],
                ]
            },
            "mission.tasks[0]",
            "reaches outside the site",
        ),
        (
            {"mission__tasks__1__side_slope_rad": 0.8},
            "mission.tasks[1].side_slope_rad",
            "steeper than the soil's angle of repose (35.0°)",
        ),
        ({"mission__tasks__1__kind": "raise_tower"}, "mission.tasks[1]", "does not match"),
        ({"mission__survey_cell_m": 0.2}, "mission.survey_cell_m", "less than or equal to 0.05"),
        ({"mission__spoil__0__x_m": 13.0}, "mission.spoil[0]", "not inside the site"),
        ({"soil": None}, "mission.kind", "needs soil"),
    ],
)
def test_designs_the_site_cannot_hold_are_refused(
    tmp_path: Path, patch: dict[str, object], field: str, reason: str
) -> None:
    path = tmp_path / "bad_pad.yaml"
    data = _pad(**patch)
    data["rover"]["file"] = "excavator_66kg"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    text = str(info.value)
    assert f"{path}:" in text and field in text and reason in text


@pytest.mark.parametrize(
    ("depth_m", "reason"),
    [
        (0.8, "deeper than the soil (0.5 m)"),
        # excavator_66kg's edge reaches 0.251 m below its wheels with the bucket tipped
        # 0.5 rad nose-down (arm 0.45 m from a mount 0.21 m up, bucket 0.25 × 0.2 m).
        (0.3, "deeper than rover 'excavator_66kg''s bucket reaches below its wheels (0.251 m)"),
    ],
)
def test_a_trench_too_deep_is_refused(tmp_path: Path, depth_m: float, reason: str) -> None:
    data = yaml.safe_load(load_scenario("trench").path.read_text())
    data["mission"]["tasks"][0]["depth_m"] = depth_m
    path = tmp_path / "deep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert "mission.tasks[0].depth_m" in str(info.value) and reason in str(info.value)


@pytest.mark.parametrize(
    ("patch", "field", "reason"),
    [
        (
            {"module": "tent"},
            "mission.tasks[0].module",
            "covers module 'tent', which is not in mission.modules (modules: 'habitat')",
        ),
        (
            {"side_slope_rad": 0.7},
            "mission.tasks[0].side_slope_rad",
            "steeper than the soil's angle of repose (35.0°)",
        ),
        ({"centre_xy_m": [8.8, 3.5]}, "mission.modules[0]", "module is not inside the site"),
        ({"centre_xy_m": [1.9, 1.6]}, "rover.start", "it would stand on it"),
        ({"height_m": 0.0}, "mission.modules[0].height_m", "greater than 0"),
    ],
)
def test_a_shield_over_no_module_and_modules_the_site_cannot_hold_are_refused(
    tmp_path: Path, patch: dict[str, object], field: str, reason: str
) -> None:
    data = yaml.safe_load(load_scenario("shield_habitat").path.read_text())
    shield, module = data["mission"]["tasks"][0], data["mission"]["modules"][0]
    for key, value in patch.items():
        (shield if key in shield else module)[key] = value
    path = tmp_path / "bad_shield.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    text = str(info.value)
    assert f"{path}:" in text and field in text and reason in text


def test_the_shield_design_caps_the_module_it_names() -> None:
    scenario = load_scenario("shield_habitat")
    params = task_params(scenario.mission, scenario)
    (shield,) = params.designs
    (module,) = params.modules
    assert module.name == "habitat" and module.height_m == 0.15
    grid = params.grid
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    # Flat ground at 0 with the module's top at 0.15 m: the cap is 0.15 + 0.06 over it.
    on = (np.abs(gx - 4.5) <= 0.3) & (np.abs(gy - 3.5) <= 0.25)
    ground = np.where(on, 0.15, 0.0)
    design = shield.resolve(grid, ground)
    assert np.nanmax(design.heights_m) == pytest.approx(0.21, abs=1e-9)
    assert np.all(design.heights_m[on] == pytest.approx(0.21, abs=1e-9))
    # 29° sides: 0.21 m of height comes down to the ground 0.06 + 0.21 / tan(0.5) out.
    reach = 0.06 + 0.21 / math.tan(0.5)
    far = np.hypot(np.maximum(np.abs(gx - 4.5) - 0.3, 0), np.maximum(np.abs(gy - 3.5) - 0.25, 0))
    assert np.all(np.isnan(design.heights_m[far > reach + 0.051]))


def test_landing_pad_plans_on_rough_ground_without_the_engines() -> None:
    before = set(sys.modules)
    scenario = load_scenario("landing_pad")
    params = task_params(scenario.mission, scenario)
    loaded = set(sys.modules) - before
    assert not any(m.startswith(("pybullet", "serial")) for m in loaded)
    grid = params.grid
    assert grid.cell_size_m == 0.05
    # Rough ground: two bumps and a bowl across the pad, the berm's footing flat.
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    ground = 0.05 * np.sin(gx * 1.9) * np.cos(gy * 1.3)
    designs = tuple(d.resolve(grid, ground) for d in params.designs)
    pad, berm = designs
    # The pad sits 1 cm below the mean of the ground inside it (below_balance_m).
    inside = np.isfinite(pad.heights_m)
    assert float(np.nanmax(pad.heights_m)) == pytest.approx(
        float(ground[inside].mean()) - 0.01, abs=1e-9
    )
    cf = cut_fill(ground, designs, grid, params.planner.deadband_m)
    flows = haul_flows(
        cf, params.planner, borrow_mask=params.borrow_mask, spoil_mask=params.spoil_mask
    )
    assert flows.moved_kg == pytest.approx(max(flows.cut_kg, flows.fill_kg), rel=1e-6)
    # Berm fill sinks lie on the berm: the flows into them come from within the site.
    assert math.isfinite(flows.bound_kg_m) and flows.bound_kg_m > 0.0
    assert berm.kind == "build_berm"


def test_plan_command_prints_and_draws_without_the_simulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from lunarsite.launch.cli import main

    before = set(sys.modules)
    out = tmp_path / "plan"
    assert main(["plan", "landing_pad", "--out", str(out)]) == 0
    assert not any(m.startswith("pybullet") for m in set(sys.modules) - before)
    text = capsys.readouterr().out
    assert "haul work bound (optimal transport)" in text
    summary = json.loads((out / "plan.json").read_text())
    png = (out / "plan.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # Every kilogram of the larger side is moved, in loads no bigger than the bucket.
    assert summary["moved_kg"] == pytest.approx(
        max(summary["cut_kg"], summary["fill_kg"]), rel=1e-3
    )
    masses = [ld["mass_kg"] for ld in summary["loads"]]
    assert max(masses) <= summary["bucket_load_kg"] + 1e-3
    assert sum(masses) == pytest.approx(summary["moved_kg"], rel=0.02)
    # Loads go from centroid to centroid: never more work than the exact transport bound.
    assert summary["planned_work_kg_m"] <= summary["bound_kg_m"] * 1.0001
    assert main(["plan", "drive_test", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_a_short_trench_run_leaves_files_anyone_can_check(tmp_path: Path) -> None:
    import json

    from lunarsite.launch.cli import main

    out = tmp_path / "run"
    code = main(
        ["run", "trench", "--seed", "3", "--time-limit", "40", "--out", str(out), "--quiet"]
    )
    assert code == 1  # the trench is not dug in 40 s: the run falls short, and says so
    meta = json.loads((out / "terrain.json").read_text())
    before = np.load(out / "terrain_before.npy")
    design = np.load(out / "design.npy")
    assert design.shape == before.shape
    # The design speaks for the trench only: 3 m × 0.3 m (plus round ends) of 2 cm cells.
    cells = int(np.isfinite(design).sum())
    cell = meta["cell_size_m"]
    assert cells == pytest.approx((3.0 * 0.3 + math.pi * 0.15**2) / cell**2, rel=0.1)
    # Its floor is 0.25 m below the ground around it, measured from the file.
    j, i = np.nonzero(np.isfinite(design))
    ring = before[j.min() - 40 : j.max() + 40, i.min() - 40 : i.max() + 40]
    assert float(np.nanmedian(design)) == pytest.approx(float(np.median(ring)) - 0.25, abs=0.02)
    # Conservation from the per-cell masses alone: what the grid lost is in the bucket.
    m0 = np.load(out / "soil_mass_before.npy")
    m1 = np.load(out / "soil_mass_after.npy")
    metrics = json.loads((out / "metrics.json").read_text())
    in_tools = metrics["soil"].get("tool_load_kg", 0.0)
    assert float(m0.sum()) == pytest.approx(float(m1.sum()) + in_tools, rel=1e-6)
    for name in ("profile_trench.png", "error_after.png"):
        assert (out / name).exists(), name
    # Nothing dug in 40 s: the as-built width, beside the design's, is none.
    trench = metrics["tasks"]["trench"]
    assert trench["design_width_m"] == 0.3
    assert trench["as_built_width_m"] == 0.0


def test_the_plan_stands_modules_on_a_levelled_spot_as_the_simulator_does() -> None:
    from lunarsite.launch.earthwork_plan import with_modules
    from lunarsite.robot.site.design import ModuleBox
    from lunarsite.robot.site.grid import GridSpec

    grid = GridSpec.covering((0.0, 0.0), (4.0, 4.0), 0.05)
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    ground = 0.01 * gx  # a 1% slope
    box = ModuleBox("hab", (2.0, 2.0), (0.6, 0.4), 0.0, 0.15)
    out = with_modules(ground, grid, (box,))
    body = (np.abs(gx - 2.0) <= 0.3) & (np.abs(gy - 2.0) <= 0.2)
    ring = (np.abs(gx - 2.0) <= 0.55) & (np.abs(gy - 2.0) <= 0.45) & ~body
    # The spot, centred on x = 2, levels to the slope's height there (2 cm, to within
    # the half cell its edges are drawn to); one level under the module and round it.
    level = float(out[ring][0])
    assert level == pytest.approx(0.02, abs=5e-4)
    assert np.allclose(out[ring], level, atol=1e-12)
    assert np.allclose(out[body & (np.abs(gx - 2.0) < 0.28)], level + 0.15, atol=1e-12)
    far = (np.abs(gx - 2.0) > 0.7) | (np.abs(gy - 2.0) > 0.6)
    assert np.array_equal(out[far], ground[far])
