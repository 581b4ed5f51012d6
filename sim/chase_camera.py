"""A chase camera for videos: it follows one rover from behind and keeps it in frame.

The camera looks at the chassis centre from ``distance_m`` behind it and above it. Its
heading follows the rover's with a first-order lag (``lag_s``), so a turn in place is
seen swinging round rather than the whole site spinning about the rover. Before each
picture it checks, with two rays, that nothing stands between the camera and the
rover and that the camera is above the ground; where either fails (behind a crater rim,
a pile, a rock) it looks down more steeply. Pictures are drawn by
:func:`~.lunar_view.render_lunar_view`: black sky, low sun, shadows cast around the rover.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from .lunar_view import LOW_SUN, LunarView, ShadowFocus, Sun, render_lunar_view

if TYPE_CHECKING:
    from .rover import SimRover
    from .world import LunarWorld

__all__ = ["ChaseCamera"]

PITCHES_RAD: Final = tuple(math.radians(d) for d in (-16.0, -26.0, -38.0, -52.0, -68.0))
"""Camera elevations tried in turn (below the horizontal) until the rover is in sight."""
GROUND_CLEARANCE_M: Final = 0.15
"""The camera stays at least this far above whatever is under it."""


def _wrap(angle_rad: float) -> float:
    return (angle_rad + math.pi) % (2.0 * math.pi) - math.pi


class ChaseCamera:
    """Follows ``rover`` in ``world`` (see the module docstring).

    Args:
        distance_m: from the camera to the chassis centre; default 0.2 m + 3.5 chassis
            lengths (1.1 m from the lab rover, 4.05 m from the excavator).
        lag_s: time constant of the heading's follow, in s of simulated time.
    """

    def __init__(
        self,
        world: LunarWorld,
        rover: SimRover,
        *,
        sun: Sun = LOW_SUN,
        distance_m: float | None = None,
        lag_s: float = 1.5,
        vertical_fov_rad: float = math.radians(50.0),
    ) -> None:
        length = rover.config.chassis.length_m
        self.world = world
        self.rover = rover
        self.sun = sun
        self.distance_m = distance_m if distance_m is not None else 0.2 + 3.5 * length
        self.lag_s = lag_s
        self.vertical_fov_rad = vertical_fov_rad
        self.shadow_radius_m = max(1.0, 1.5 * self.distance_m)
        self.shadow_height_m = max(0.5, length)
        self._yaw_rad: float | None = None
        self._last_s = 0.0

    def heading_rad(self) -> float:
        """The camera's heading now: the rover's, lagged."""
        _, rot = self.rover.chassis_frame()
        rover_yaw = math.atan2(float(rot[1, 0]), float(rot[0, 0]))
        now = self.world.sim_time_s
        if self._yaw_rad is None:
            self._yaw_rad = rover_yaw
        else:
            dt = max(0.0, now - self._last_s)
            share = 1.0 - math.exp(-dt / self.lag_s) if self.lag_s > 0.0 else 1.0
            self._yaw_rad = _wrap(self._yaw_rad + share * _wrap(rover_yaw - self._yaw_rad))
        self._last_s = now
        return self._yaw_rad

    def eye_xyz_m(self, target: npt.NDArray[np.float64], yaw_rad: float) -> npt.NDArray[np.float64]:
        """Where the camera stands: the first of :data:`PITCHES_RAD` with the rover in
        sight and ground below, else the steepest."""
        c = self.world.client
        eye: npt.NDArray[np.float64] = target
        for pitch in PITCHES_RAD:
            back = self.distance_m * math.cos(pitch)
            eye = target + np.array(
                [
                    -back * math.cos(yaw_rad),
                    -back * math.sin(yaw_rad),
                    -self.distance_m * math.sin(pitch),
                ]
            )
            above = eye + np.array([0.0, 0.0, 50.0])
            below = eye - np.array([0.0, 0.0, GROUND_CLEARANCE_M])
            sight, ground = c.rayTestBatch(
                [eye.tolist(), above.tolist()], [target.tolist(), below.tolist()]
            )
            in_sight = sight[0] in (-1, self.rover.body)
            over_ground = ground[0] in (-1, self.rover.body)
            if in_sight and over_ground:
                return eye
        return eye

    def frame(self, width_px: int, height_px: int) -> LunarView:
        """A picture of the rover now."""
        centre, _ = self.rover.chassis_frame()
        target = np.asarray(centre, dtype=np.float64)
        eye = self.eye_xyz_m(target, self.heading_rad())
        focus = ShadowFocus(
            (float(target[0]), float(target[1]), float(target[2])),
            self.shadow_radius_m,
            self.shadow_height_m,
        )
        return render_lunar_view(
            self.world,
            eye.tolist(),
            target.tolist(),
            width_px=width_px,
            height_px=height_px,
            vertical_fov_rad=self.vertical_fov_rad,
            sun=self.sun,
            shadows=focus,
        )
