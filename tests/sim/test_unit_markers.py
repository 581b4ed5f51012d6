"""Units carry their markers where the layout says, and the rover's camera finds them.

The simulator textures each unit's faces (:func:`lunarsite.sim.units.add_unit`); the
rover renders a frame and :class:`SightUnit` reads the unit's centre and heading from a
marker. Truth is the pose the test stood the unit at (PyBullet's pose of its body, which
settles a millimetre or so); the rover stands still at a known pose with its estimate on
it, so the sighting's error is the camera's alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.control.sighting import SightUnit
from lunarsite.robot.executive.skill import ActionResult
from lunarsite.robot.perception.fiducials import CameraMount, FiducialDetector
from lunarsite.robot.perception.unit_sighting import UnitSighting, sight_units
from lunarsite.robot.site.modules import ModuleType
from lunarsite.robot.site.unit_markers import MarkerLayoutError, unit_markers
from lunarsite.robot.types import Pose2, wrap_angle
from lunarsite.sim.config import SimConfig
from lunarsite.sim.units import add_unit, unit_pose
from lunarsite.sim.world import LunarWorld
from tests.conftest import shipped_rover
from tests.sim.conftest import flat_terrain

START = Pose2(1.5, 3.0, 0.3)


@pytest.fixture(scope="module")
def placer() -> RoverConfig:
    return shipped_rover("placer_66kg")


@pytest.fixture(scope="module")
def catalog_types() -> dict[str, ModuleType]:
    from lunarsite.launch.files import load_catalog

    return {t.name: t for t in load_catalog()[0].types}


def _sight(
    placer: RoverConfig,
    module: ModuleType,
    ahead_m: float,
    beside_m: float,
    yaw_rad: float,
    *,
    refinements: tuple[str, ...] = (),
) -> tuple[
    ActionResult, SightUnit, tuple[float, float, float, float], dict[str, UnitSighting | None]
]:
    """Stand a unit ``ahead_m`` and ``beside_m`` of the rover turned ``yaw_rad`` on the
    site, and look for it with the placer's detector; with ``refinements``, the frame it
    was seen in is also read by a detector with each of those corner refinements (the
    last item: refinement → sighting, from the true pose)."""
    world = LunarWorld(
        flat_terrain(6.0, 0.05), SimConfig(gravity_mps2=LUNAR_GRAVITY_MPS2, physics_hz=240)
    )
    with world:
        rover = world.add_rover(placer, START, rng=np.random.default_rng(3))
        c, s = math.cos(START.yaw_rad), math.sin(START.yaw_rad)
        x = START.x_m + ahead_m * c - beside_m * s
        y = START.y_m + ahead_m * s + beside_m * c
        markers = unit_markers([("other", module), ("u", module)], first_id=7)
        unit = add_unit(
            world, "u", module, x, y, yaw_rad, markers=[m for m in markers if m.unit_id == "u"]
        )
        rover.configure()
        rover.activate()
        world.clock.sleep_s(1.0)  # the rover and the unit settle on the ground
        pilot = Pilot(placer, START, control_hz=20.0)
        sizes = {m.marker_id: m.size_m for m in markers}
        by_id = {m.marker_id: m for m in markers}
        frames = []

        def camera() -> Any:
            frames.append(rover.read_camera())
            return frames[-1]

        detector = FiducialDetector(sizes, corner_refinement="contour")
        look = SightUnit(pilot, camera, detector, by_id, "u")
        for _ in range(200):
            sensed = rover.read()
            pilot.sense(sensed)
            step = look.tick(sensed, world.sim_time_s)
            if isinstance(step, ActionResult):
                assert placer.camera is not None
                mount = CameraMount.from_config(placer.camera)
                also = {
                    r: sight_units(
                        FiducialDetector(sizes, corner_refinement=r).observe(frames[-1]),
                        by_id,
                        mount,
                        START,
                    ).get("u")
                    for r in refinements
                }
                return step, look, unit_pose(world, unit), also
            rover.write(step.command)
            world.clock.sleep_s(0.05)
    raise AssertionError("the look never finished")


@pytest.mark.parametrize(
    ("ahead_m", "beside_m", "yaw_rad"), [(1.75, 0.0, 0.3), (1.8, 0.25, 0.7), (2.2, -0.3, -0.4)]
)
def test_a_paver_is_sighted_by_its_top_marker(
    placer: RoverConfig,
    catalog_types: dict[str, ModuleType],
    ahead_m: float,
    beside_m: float,
    yaw_rad: float,
) -> None:
    result, look, truth, _ = _sight(placer, catalog_types["paver_tile"], ahead_m, beside_m, yaw_rad)
    assert result.succeeded, result.reason
    seen = look.seen
    assert seen is not None and seen.unit_id == "u"
    assert math.hypot(seen.x_m - truth[0], seen.y_m - truth[1]) < 0.015
    assert abs(wrap_angle(seen.yaw_rad - truth[3])) < math.radians(1.5)
    assert seen.range_m == pytest.approx(math.hypot(ahead_m, beside_m), abs=0.1)


def test_the_placers_corner_refinement_reads_a_pavers_turn_better_than_subpixel(
    placer: RoverConfig, catalog_types: dict[str, ModuleType]
) -> None:
    # From where the placer checks a paver it set down (1.75 m ahead, the paver nearly
    # square to it), the same frames read by both refinements. Measured over 36 such
    # views: contour 0.08-0.11° rms (max 0.25°), subpixel 0.36° rms (max 0.66°).
    errors: dict[str, list[float]] = {"contour": [], "subpix": []}
    for ahead, beside, turn in [(1.70, 0.02, 0.01), (1.76, -0.01, -0.02), (1.80, 0.01, 0.02)]:
        *_, truth, also = _sight(
            placer, catalog_types["paver_tile"], ahead, beside, START.yaw_rad + turn,
            refinements=("contour", "subpix"),
        )  # fmt: skip
        for r, seen in also.items():
            assert seen is not None
            errors[r].append(abs(wrap_angle(seen.yaw_rad - truth[3])))
    assert max(errors["contour"]) < math.radians(0.3)
    rms = {r: math.sqrt(float(np.mean(np.square(e)))) for r, e in errors.items()}
    assert rms["contour"] < 0.7 * rms["subpix"]


def test_a_habitat_is_sighted_by_the_marker_on_its_front(
    placer: RoverConfig, catalog_types: dict[str, ModuleType]
) -> None:
    # Turned half a turn round, the habitat shows the rover its +x face ("front"); the
    # top marker is seen too, edge-on from 2.5 m, and the nearer one is kept.
    result, look, truth, _ = _sight(
        placer, catalog_types["habitat_module"], 2.6, 0.0, START.yaw_rad + math.pi
    )
    assert result.succeeded, result.reason
    seen = look.seen
    assert seen is not None
    assert math.hypot(seen.x_m - truth[0], seen.y_m - truth[1]) < 0.03
    assert abs(wrap_angle(seen.yaw_rad - truth[3])) < math.radians(3.0)


def test_a_unit_out_of_the_frame_is_not_seen(
    placer: RoverConfig, catalog_types: dict[str, ModuleType]
) -> None:
    result, look, *_ = _sight(placer, catalog_types["paver_tile"], 0.3, 1.5, 0.0)  # beside it
    assert not result.succeeded
    assert "not seen" in result.reason
    assert look.seen is None


def test_marker_ids_are_handed_out_per_unit_in_order(
    catalog_types: dict[str, ModuleType],
) -> None:
    paver, habitat = catalog_types["paver_tile"], catalog_types["habitat_module"]
    got = unit_markers([("a", paver), ("h", habitat), ("b", paver)], first_id=5)
    assert [(m.unit_id, m.face, m.marker_id) for m in got] == [
        ("a", "top", 5),
        ("h", "front", 6),
        ("h", "back", 7),
        ("h", "top", 8),
        ("b", "top", 9),
    ]
    with pytest.raises(MarkerLayoutError, match="'b'"):
        unit_markers([("a", paver), ("b", paver)], first_id=49)
