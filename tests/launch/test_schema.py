"""Scenario and rover files: shipped ones load; bad ones are refused with file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lunarsite.launch.schema import ScenarioError, list_scenarios, load_rover, load_scenario


def test_shipped_scenarios_and_rovers_load() -> None:
    names = [n for n, _ in list_scenarios()]
    assert "drive_test" in names
    for name in names:
        assert load_scenario(name).config.name == name
    assert load_rover("lab_rover")[0].total_mass_kg == pytest.approx(3.0, abs=0.3)
    assert load_rover("excavator_66kg")[0].total_mass_kg == pytest.approx(66.0)


def _scenario_text(**patch: object) -> dict[str, object]:
    data = yaml.safe_load(load_scenario("drive_test_dr").path.read_text())
    for dotted, value in patch.items():
        node = data
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("patch", "field", "reason"),
    [
        ({"site__size_mm": [1, 2]}, "site.size_mm", "unknown key"),
        ({"rover__start__x_m": "four"}, "rover.start.x_m", "Input should be a valid number"),
        ({"site__size_m": [-20.0, 20.0]}, "site.size_m[0]", "greater than 0"),
        ({"site__cell_size_m": 0}, "site.cell_size_m", "greater than 0"),
        ({"time_limit_s": _DELETE}, "time_limit_s", "required field is missing"),
        ({"mission__waypoints__1__x_m": 25.0}, "mission.waypoints[1]", "outside the site"),
        ({"rover__start__x_m": 0.1}, "rover.start", "outside the site"),
        ({"sim__control_hz": 7}, "sim", "integer multiple of control_hz"),
        ({"mission__cruise_speed_mps": 2.0}, "mission.cruise_speed_mps", "exceeds the rover"),
        ({"rover__file": "no_such_rover"}, "rover.file", "no shipped rover"),
        (
            {"site__terrain__kind": "lava"},
            "site.terrain",
            "does not match any of the expected tags",
        ),
        ({"seed": True}, "seed", "valid integer"),
    ],
)
def test_bad_scenarios_name_file_line_field_and_reason(
    tmp_path: Path, patch: dict[str, object], field: str, reason: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_scenario_text(**patch), sort_keys=False))
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    text = str(info.value)
    assert f"{path}:" in text
    assert field in text
    assert reason in text


def test_unknown_key_is_reported_at_its_line(tmp_path: Path) -> None:
    text = load_scenario("drive_test_dr").path.read_text()
    text = text.replace("time_limit_s: 400.0", "time_limit_s: 400.0\ntime_limt_s: 3")
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    line = text.splitlines().index("time_limt_s: 3") + 1
    with pytest.raises(ScenarioError, match=rf"typo.yaml:{line}: time_limt_s: unknown key"):
        load_scenario(str(path))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("name: a\nname: b\n", "duplicate key 'name'"),
        ("name: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_malformed_yaml(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=reason):
        load_scenario(str(path))


def test_missing_file_and_unknown_name() -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario("/nonexistent/where.yaml")
    with pytest.raises(
        ScenarioError, match=r"no shipped scenario of that name \(shipped: .*drive_test"
    ):
        load_scenario("drive_tset")


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"wheels": {"radius_m": -0.1}}, "wheels.radius_m: Input should be greater than 0"),
        (
            {"encoders": {"ticks_per_rev": 12.5}},
            "encoders.ticks_per_rev: Input should be a valid integer",
        ),
        ({"drive": {"max_speed_mps": 5.0}}, "exceeds what the wheels can reach"),
        ({"wheels": {"track_m": 0.01}}, "track_m (0.01) must exceed wheels.width_m"),
    ],
)
def test_bad_rover_files(tmp_path: Path, patch: dict[str, dict[str, object]], reason: str) -> None:
    data = yaml.safe_load(load_rover("lab_rover")[1].read_text())
    for section, values in patch.items():
        data[section].update(values)
    path = tmp_path / "rover.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as info:
        load_rover(str(path))
    assert reason in str(info.value)


def test_every_mission_kind_is_found_and_names_itself() -> None:
    from typing import get_args

    from lunarsite.launch.missions import mission_kinds

    kinds = mission_kinds()
    assert sorted(kinds) == [
        "dig_and_dump",
        "earthwork",
        "navigate",
        "place_modules",
        "steps",
        "waypoints",
    ]
    for name, kind in kinds.items():
        # The schema's own ``kind`` literal is the registry's key: a file naming it gets it.
        assert get_args(kind.schema.model_fields["kind"].annotation) == (name,)
        assert kind.acceptance.model_config.get("extra") == "forbid"


def test_a_key_of_another_kind_is_refused_in_acceptance(tmp_path: Path) -> None:
    text = load_scenario("drive_test_dr").path.read_text()
    path = tmp_path / "dr.yaml"
    path.write_text(
        text.replace("max_rock_contacts: 0", "max_rock_contacts: 0\n  min_dump_fill_m3: 0.1")
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert any("acceptance.min_dump_fill_m3: unknown key" in p for p in err.value.problems)
