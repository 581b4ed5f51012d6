"""The ``place_modules`` mission: validation names what cannot be built, ``lunarsite plan``
draws the order, and a short run places real pavers by friction, judged on truth."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from lunarsite.launch.cli import main
from lunarsite.launch.files import ScenarioError, load_catalog
from lunarsite.launch.missions.placement import assembly_of
from lunarsite.launch.missions.placement_report import (
    collisions,
    design_neighbours,
    yaw_error_rad,
)
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario


def test_the_shipped_road_validates_and_plans_far_end_first(tmp_path: Path) -> None:
    scenario = load_scenario("paver_road")
    assert main(["plan", "paver_road", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "plan.json").read_text())
    assert (tmp_path / "plan.png").stat().st_size > 10_000
    start = (scenario.start.x_m, scenario.start.y_m)
    placements = scenario.mission.placements
    # Far end first, by distance from the start; each unit from its own depot slot.
    by_distance = sorted(placements, key=lambda p: -math.dist((p.x_m, p.y_m), start))
    assert summary["order"] == [p.id for p in by_distance]
    assert len({s["depot_unit"] for s in summary["steps"]}) == len(placements)


def test_the_shipped_solar_array_is_a_row_the_rover_approaches_along_the_panels() -> None:
    scenario = load_scenario("solar_array")
    catalog = load_catalog()[0]
    assert scenario.site_size_m is not None
    start = (scenario.start.x_m, scenario.start.y_m)
    panels = sorted(scenario.mission.placements, key=lambda p: p.y_m)
    assert len(panels) == 4
    # One row: the same x and heading, 0.9 m between centres (0.5 m gaps of 0.4 m panels).
    assert {p.x_m for p in panels} == {panels[0].x_m} and {p.yaw_rad for p in panels} == {0.0}
    assert [round(b.y_m - a.y_m, 6) for a, b in itertools.pairwise(panels)] == [0.9] * 3
    plan, _ = assembly_of(scenario.mission, scenario.rover, scenario.site_size_m, catalog, start)
    for step in plan.steps:
        # The jaws close across a panel's 0.4 m width: the rover faces along its length.
        for pose in (step.pick, step.place):
            assert math.sin(pose.yaw_rad) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"rover.file": "excavator_66kg"}, "rover.file", "has no clamp"),
        ({"mission.placements.0.x_m": 9.9}, "mission.placements", "leaves the site"),
        ({"mission.placements.0.type": "habitat_module"}, "mission.placements", "levelled pad"),
        ({"mission.depot.3.type": "beacon"}, "mission.placements", "depot holds 9 paver_tile"),
        # A paver beyond the depot's north end, 0.45 m from the wall: the rover, turning
        # with it, has no room at either end of its run-ins, so no order exists.
        (
            {"mission.placements.9.x_m": 2.2, "mission.placements.9.y_m": 6.4},
            "mission.placements",
            "planning failed",
        ),
        ({"mission.catalog": "no_such_catalog"}, "mission.catalog", "no shipped module catalog"),
        # Tighter than the camera can check: every unit would be set down again.
        ({"mission.tolerance_m": 0.004}, "mission.tolerance_m", "greater than 0.005"),
    ],
)
def test_a_design_that_cannot_be_built_is_refused_naming_the_field(
    overrides: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario("paver_road", overrides)
    text = "\n".join(err.value.problems)
    assert field in text and reason in text, text


def test_collisions_count_touches_of_units_not_in_hand() -> None:
    handled = [(0.0, 10.0, "d1"), (10.0, 20.0, "d2")]
    neighbours = {"d1": set(), "d2": {"d1"}}  # d2 is laid against d1
    contacts = [
        (1.0, ("d1",), ()),  # the rover on the unit in hand: fine
        (2.0, ("d1", "d3"), ()),  # the rover on a neighbour: one collision...
        (2.05, ("d3",), ()),  # ...the same touch going on
        (5.0, ("d3",), ()),  # a new touch of it
        (12.0, ("d1",), ()),  # the rover on the unit set down before: a collision
        (15.0, (), ("d1",)),  # the unit in hand laid against d1, as designed: allowed
        (16.0, (), ("d3",)),  # the unit in hand striking d3: a collision
    ]
    touches, allowed = collisions(contacts, handled, neighbours)
    assert touches == {"d3": 3, "d1": 1}
    assert allowed == 1


def test_design_neighbours_are_the_units_laid_against_each_other() -> None:
    scenario = load_scenario("paver_road")
    plan, _ = assembly_of(
        scenario.mission,
        scenario.rover,
        scenario.site_size_m,
        load_catalog()[0],
        (scenario.start.x_m, scenario.start.y_m),
    )
    near = design_neighbours(plan, load_catalog()[0])
    slot = {s.placement.id: s.slot.id for s in plan.steps}
    # Pavers r0..r9 end to end: r0 and r9 have one neighbour, the rest two.
    assert near[slot["r0"]] == {slot["r1"]}
    assert near[slot["r5"]] == {slot["r4"], slot["r6"]}
    assert sum(len(v) for v in near.values()) == 2 * 9


def test_a_box_turned_half_a_turn_is_the_same_box() -> None:
    assert yaw_error_rad(math.pi + 0.01, 0.0) == pytest.approx(0.01)
    assert yaw_error_rad(-0.02, 0.0) == pytest.approx(0.02)
    assert yaw_error_rad(0.5 * math.pi, 0.0) == pytest.approx(0.5 * math.pi)


def _brown_out_jaws_once(monkeypatch: pytest.MonkeyPatch, past_x_m: float, for_s: float) -> None:
    """Fault injection: the first time the clamp holds a unit with the rover's chassis
    past ``past_x_m`` (truth), its jaw servo drives open for ``for_s`` whatever it is
    commanded, as a servo that browned out; then it obeys again."""
    from lunarsite.sim.rover import SimRover

    update, drive = SimRover._update_grasps, SimRover.drive_servos
    left: list[int | None] = [None]

    def faulty_update(self: SimRover) -> None:
        if left[0] is None and any(g.held is not None for g in self.grasps):
            x = self.world.client.getBasePositionAndOrientation(self.body)[0][0]
            if x > past_x_m:
                left[0] = round(for_s / self.world.physics_dt_s)
        if left[0]:
            left[0] -= 1
            drive(self, {"clamp_jaws": self.config.joint("clamp_jaws").lower_rad})
        update(self)

    def faulty_drive(self: SimRover, targets: dict[str, float]) -> None:
        drive(self, {k: v for k, v in targets.items() if not (left[0] and k == "clamp_jaws")})

    monkeypatch.setattr(SimRover, "_update_grasps", faulty_update)
    monkeypatch.setattr(SimRover, "drive_servos", faulty_drive)


@pytest.mark.slow
def test_a_paver_that_falls_on_the_way_is_weighed_missing_found_and_set_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One paver carried 4.8 m from the depot: half way the jaw servo browns out and the
    # paver falls. The rover must weigh it missing at the place, find it by camera where
    # it lies (a unit off its slot: the same look that finds a knocked depot unit) and
    # grasp it there.
    _brown_out_jaws_once(monkeypatch, past_x_m=4.6, for_s=0.5)
    scenario = load_scenario(
        "paver_road",
        {
            "mission.placements": [{"id": "a", "type": "paver_tile", "x_m": 7.0, "y_m": 3.5}],
            "mission.depot": [{"id": "d0", "type": "paver_tile", "x_m": 2.2, "y_m": 3.5}],
        },
    )
    outcome = run_sim(scenario, tmp_path, seed=0, time_limit_s=600.0)
    data = outcome.metrics
    (m,) = data["modules"]
    assert data["collisions"] == 0
    assert m["fell_on_the_way"] == 1 and m["attempts"] == 1  # found, not fetched again
    assert m["placed"], m
    assert m["position_error_m"] < 0.03  # the issue asks 2 cm; measured spread in README
    assert m["yaw_error_rad"] < math.radians(1.5)
    assert m["weighed_kg"] == pytest.approx(10.8, abs=1.0)  # the catalog's paver
    # The rover's own check by camera agrees with the truth to a centimetre, and passed.
    assert abs(m["seen_position_error_m"] - m["position_error_m"]) < 0.01
    assert data["status"] == "succeeded"
    assert (tmp_path / "layout.png").is_file()
