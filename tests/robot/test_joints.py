"""Aiming a unit a joint clear of the units it is laid against, and telling which units
one set down touches. Expected gaps are measured between the footprints' corners
(:func:`gap_m`), not from the aim's own reach along the line between centres."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lunarsite.launch.files import load_catalog
from lunarsite.robot.planning.assembly import gap_m
from lunarsite.robot.planning.joints import JOINT_M, MAX_GIVE_M, LaidUnit, aim_clear_of, touching
from lunarsite.robot.site.modules import ModuleType, Placement


@pytest.fixture(scope="module")
def paver() -> ModuleType:
    m = load_catalog()[0].get("paver_tile")
    assert m is not None
    return m


# Two pavers of a road laid end to end: r9 down first, r8 against its -x face.
R9 = Placement("r9", "paver_tile", 8.35, 3.5)
R8 = Placement("r8", "paver_tile", 8.05, 3.5)


def test_a_unit_laid_against_one_on_its_design_is_aimed_a_joint_short(paver: ModuleType) -> None:
    assert gap_m(R8, paver, R9, paver) == pytest.approx(0.0, abs=1e-9)  # the design
    aim = aim_clear_of(R8, paver, [LaidUnit(R9, R9, paver)])
    assert gap_m(aim, paver, R9, paver) == pytest.approx(JOINT_M, abs=1e-9)
    assert aim.x_m < R8.x_m  # backed away from r9, along the road
    assert aim.y_m == pytest.approx(R8.y_m) and aim.yaw_rad == R8.yaw_rad


@pytest.mark.parametrize("seen_yaw_rad", [0.02, -0.03])
def test_the_joint_is_kept_from_a_neighbour_seen_turned(
    paver: ModuleType, seen_yaw_rad: float
) -> None:
    seen = replace(R9, x_m=R9.x_m - 0.003, yaw_rad=seen_yaw_rad)
    aim = aim_clear_of(R8, paver, [LaidUnit(R9, seen, paver)])
    # A turned paver reaches back by its corner: the joint is left from that corner.
    assert gap_m(aim, paver, seen, paver) == pytest.approx(JOINT_M, abs=1e-6)


def test_a_neighbour_seen_lying_away_lets_the_aim_come_to_the_design(paver: ModuleType) -> None:
    seen = replace(R9, x_m=R9.x_m + 0.012)  # 12 mm beyond its design, past a joint
    assert aim_clear_of(R8, paver, [LaidUnit(R9, seen, paver)]) == R8
    half = replace(R9, x_m=R9.x_m + 0.5 * JOINT_M)
    aim = aim_clear_of(R8, paver, [LaidUnit(R9, half, paver)])
    assert R8.x_m - aim.x_m == pytest.approx(0.5 * JOINT_M, abs=1e-9)


def test_a_neighbour_seen_far_in_pushes_the_aim_back_only_so_far(paver: ModuleType) -> None:
    seen = replace(R9, x_m=R9.x_m - 0.05)  # 5 cm towards r8: r8's design is taken
    aim = aim_clear_of(R8, paver, [LaidUnit(R9, seen, paver)])
    assert R8.x_m - aim.x_m == pytest.approx(JOINT_M + MAX_GIVE_M, abs=1e-9)


def test_units_the_design_keeps_apart_and_units_stacked_are_left_alone(
    paver: ModuleType,
) -> None:
    apart = Placement("far", "paver_tile", 8.05, 3.5 + 0.3 + 0.1)  # 10 cm beside
    assert aim_clear_of(R8, paver, [LaidUnit(apart, apart, paver)]) == R8
    below = Placement("under", "paver_tile", 8.05, 3.5)
    on_top = replace(R8, on="under")
    assert aim_clear_of(on_top, paver, [LaidUnit(below, below, paver)]) == on_top


def test_a_unit_between_two_shares_the_room_and_one_in_a_corner_keeps_both(
    paver: ModuleType,
) -> None:
    r7 = Placement("r7", "paver_tile", 7.75, 3.5)
    r7_seen = replace(r7, x_m=7.75 - 0.006, y_m=3.505)  # 6 mm back (and 5 mm aside)
    r9_seen = replace(R9, x_m=R9.x_m + 0.004)  # 4 mm on
    # 10 mm of room between them, short of two joints: r8 goes where it leaves as much
    # on each side.
    aim = aim_clear_of(R8, paver, [LaidUnit(r7, r7_seen, paver), LaidUnit(R9, r9_seen, paver)])
    g7, g9 = gap_m(aim, paver, r7_seen, paver), gap_m(aim, paver, r9_seen, paver)
    assert (g7, g9) == pytest.approx((0.005, 0.005), abs=1e-9)
    # A neighbour beside and one behind: both joints kept.
    beside = Placement("s8", "paver_tile", 8.05, 3.2)
    corner = aim_clear_of(R8, paver, [LaidUnit(r7, r7, paver), LaidUnit(beside, beside, paver)])
    assert gap_m(corner, paver, r7, paver) == pytest.approx(JOINT_M, abs=1e-9)
    assert gap_m(corner, paver, beside, paver) == pytest.approx(JOINT_M, abs=1e-9)


def test_touching_names_the_units_seen_within_the_distance(paver: ModuleType) -> None:
    here = replace(R8, x_m=R8.x_m - 0.006, yaw_rad=math.radians(2.0))
    laid = [LaidUnit(R9, R9, paver), LaidUnit(R8, R8, paver)]  # its own record: skipped
    # Turned 2°, its +x corner reaches 0.15·(sin 2° + cos 2° − 1) m ≈ 5.1 mm towards r9,
    # which leaves 0.9 mm of the 6 mm.
    assert touching(here, paver, laid, 0.004) == ["r9"]
    assert touching(replace(here, yaw_rad=0.0), paver, laid, 0.004) == []
