"""Where a unit stands, from a marker on it seen by the rover's camera.

A unit's markers are known before the run (:mod:`lunarsite.robot.site.unit_markers`:
which id on which face, how large, laid how); where the unit stands is not. One sighted
marker gives its pose in the camera frame (:class:`~.fiducials.FiducialDetector`, with the
depth image for its range), the IMU's tilt puts it in the rover's level frame
(:func:`~.marker_fixes.marker_in_level`), and the face's layout gives the unit's centre and
heading from it. The rover's own pose estimate then puts that on the site.

What matters for a grasp is the unit relative to the rover, which the camera measures
directly; an error of the rover's estimate moves the sighting and the rover's motions to
it alike. Checked against a design, it is the estimate's error plus the camera's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..site.unit_markers import FACE_AXES, UnitMarker, marker_centre_m
from ..types import Pose2, wrap_angle
from .fiducials import CameraMount, MarkerObservation
from .marker_fixes import marker_in_level

__all__ = ["UnitSighting", "sight_units"]


@dataclass(frozen=True, slots=True)
class UnitSighting:
    """A unit seen: its centre and heading on the site (m, rad), by the rover's estimate
    and the camera."""

    unit_id: str
    x_m: float
    y_m: float
    yaw_rad: float
    marker_id: int
    range_m: float
    """From the chassis centre to the marker, horizontally, in m."""
    stamp_s: float


def sight_units(
    observations: Iterable[MarkerObservation],
    markers: Mapping[int, UnitMarker],
    mount: CameraMount,
    pose: Pose2,
    roll_rad: float = 0.0,
    pitch_rad: float = 0.0,
) -> dict[str, UnitSighting]:
    """The units whose markers are in ``observations``, seen from ``pose`` (the rover's
    estimate when the frame was taken) with the chassis tilted by ``roll_rad`` and
    ``pitch_rad``. A unit seen by more than one marker keeps its nearest."""
    out: dict[str, UnitSighting] = {}
    c, s = math.cos(pose.yaw_rad), math.sin(pose.yaw_rad)
    for obs in observations:
        m = markers.get(obs.marker_id)
        if m is None:
            continue
        rot, offset = marker_in_level(obs, mount, roll_rad, pitch_rad, lying=m.face == "top")
        # Rows: the marker's right, up and normal in the unit's frame (rotation marker ←
        # unit), so level ← unit is level ← marker times that.
        marker_unit = np.array(FACE_AXES[m.face], dtype=np.float64)
        level_unit = rot @ marker_unit
        centre = offset - level_unit @ np.asarray(marker_centre_m(m.module, m.face))
        heading = math.atan2(float(level_unit[1, 0]), float(level_unit[0, 0]))
        dx, dy = float(centre[0]), float(centre[1])
        rng = math.hypot(float(offset[0]), float(offset[1]))
        seen = UnitSighting(
            m.unit_id,
            pose.x_m + c * dx - s * dy,
            pose.y_m + s * dx + c * dy,
            wrap_angle(pose.yaw_rad + heading),
            obs.marker_id,
            rng,
            obs.stamp_s,
        )
        old = out.get(m.unit_id)
        if old is None or seen.range_m < old.range_m:
            out[m.unit_id] = seen
    return out
