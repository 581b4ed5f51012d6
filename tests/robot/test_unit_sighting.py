"""A unit's pose from one of its markers, without a renderer: the marker's corners are
projected by hand from the unit's pose (box corners and face axes written out here, not
taken from the layout table) and the sighting must give that pose back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.perception.fiducials import (
    CameraMount,
    MarkerDetection,
    camera_matrix,
    solve_marker,
)
from lunarsite.robot.perception.points import chassis_rotation
from lunarsite.robot.perception.unit_sighting import sight_units
from lunarsite.robot.site.modules import Face, ModuleType
from lunarsite.robot.site.unit_markers import unit_markers
from lunarsite.robot.types import Pose2, wrap_angle

W, H, FOV = 640, 480, 0.8
K = camera_matrix(W, H, FOV)
MOUNT = CameraMount((0.2, 0.0, 0.7), 0.25)
SIZE = 0.2


def _module(face: Face) -> ModuleType:
    return ModuleType.model_validate(
        {
            "name": "crate",
            "kind": "habitat",
            "size_m": [0.8, 0.6, 0.5],
            "mass_kg": 30.0,
            "grasp": {"axis": "y", "height_m": 0.25},
            "markers": [{"face": face, "size_m": SIZE}],
            "max_slope_rad": 0.1,
        },
        strict=False,
    )


# Marker corners TL, TR, BR, BL in the unit's frame (box 0.8 × 0.6 × 0.5 centred on its
# middle), for a marker read upright by someone facing the face; on the top face its
# image's up is the unit's +y, on a side face it is +z.
_H = 0.5 * SIZE
CORNERS: dict[str, list[tuple[float, float, float]]] = {
    "top": [(-_H, _H, 0.25), (_H, _H, 0.25), (_H, -_H, 0.25), (-_H, -_H, 0.25)],
    "front": [(0.4, -_H, _H), (0.4, _H, _H), (0.4, _H, -_H), (0.4, -_H, -_H)],
    "left": [(_H, 0.3, _H), (-_H, 0.3, _H), (-_H, 0.3, -_H), (_H, 0.3, -_H)],
}


def _detection(
    face: str, unit: tuple[float, float, float, float], rover: Pose2, pitch: float
) -> MarkerDetection:
    ux, uy, uz, uyaw = unit
    c, s = math.cos(uyaw), math.sin(uyaw)
    in_site = np.array(
        [[ux + c * x - s * y, uy + s * x + c * y, uz + z] for x, y, z in CORNERS[face]]
    )
    r_site_chassis = chassis_rotation(rover.yaw_rad, pitch, 0.0)
    # Camera axes in the chassis frame: x right (-y), y down, z forward pitched down.
    cp, sp = math.cos(MOUNT.pitch_rad), math.sin(MOUNT.pitch_rad)
    forward = np.array([cp, 0.0, -sp])
    right = np.array([0.0, -1.0, 0.0])
    down = np.cross(forward, right)
    r_site_cam = r_site_chassis @ np.column_stack([right, down, forward])
    cam = np.array([rover.x_m, rover.y_m, 0.0]) + r_site_chassis @ np.asarray(MOUNT.xyz_m)
    px = ((in_site - cam) @ r_site_cam) @ K.T
    return MarkerDetection(0, px[:, :2] / px[:, 2:3])


@pytest.mark.parametrize(
    ("face", "unit", "rover", "pitch"),
    [
        ("top", (3.0, 1.0, 0.25, 0.4), Pose2(1.2, 0.9, 0.1), 0.0),
        ("top", (3.0, 1.0, 0.25, -2.0), Pose2(1.4, 1.5, -0.2), 0.05),
        ("front", (3.5, 1.0, 0.25, math.pi), Pose2(1.0, 1.2, 0.05), -0.03),
        ("left", (3.5, 1.0, 0.25, 0.5 * math.pi + 0.2), Pose2(1.0, 0.8, 0.2), 0.0),
    ],
)
def test_a_unit_is_placed_by_one_of_its_markers(
    face: Face, unit: tuple[float, float, float, float], rover: Pose2, pitch: float
) -> None:
    (marker,) = unit_markers([("u", _module(face))])
    obs = solve_marker(_detection(face, unit, rover, pitch), SIZE, K)
    assert obs is not None
    seen = sight_units([obs], {0: marker}, MOUNT, rover, 0.0, pitch)["u"]
    assert seen.x_m == pytest.approx(unit[0], abs=1e-3)
    assert seen.y_m == pytest.approx(unit[1], abs=1e-3)
    assert abs(wrap_angle(seen.yaw_rad - unit[3])) < 1e-3
    assert seen.range_m > 1.0


def test_a_marker_of_no_unit_is_ignored() -> None:
    (marker,) = unit_markers([("u", _module("top"))], first_id=4)
    obs = solve_marker(_detection("top", (3.0, 1.0, 0.25, 0.0), Pose2(1.2, 1.0, 0.0), 0.0), SIZE, K)
    assert obs is not None  # id 0; the unit's marker is 4
    assert sight_units([obs], {4: marker}, MOUNT, Pose2(1.2, 1.0, 0.0)) == {}
