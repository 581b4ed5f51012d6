"""Localization: an extended Kalman filter over wheel odometry, the gyro and fiducial fixes.

State ``[x_m, y_m, yaw_rad, gyro_bias_radps, odometry_scale]`` in the site frame. The
filter's core (its state, the prediction from odometry and the IMU, the height channel and
slip detection) is :class:`~.localization_core.LocalizerCore`; :class:`Localizer` adds the
fixes:

- :meth:`Localizer.update_landmark`: a surveyed point (a fiducial marker's centre) seen
  at a horizontal offset in the rover's level frame (x forward, y left, yaw only) — a
  range-bearing fix that pins position and, as the rover moves, heading;
- :meth:`Localizer.update_yaw` and :meth:`Localizer.update_pose`: direct heading or pose
  fixes (a marker's face normal; an external survey).

Fixes whose innovation fails a χ² gate are rejected; after ``max_rejections`` in a row
the filter accepts the next one with its covariance inflated (it was lost, not the fix).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt

from ..types import Pose2, wrap_angle
from .localization_core import YAW, LocalizerCore, X, Y
from .localization_types import (
    LandmarkFix,
    LocalizationParams,
    SlipStatus,
    shift_fix,
)

__all__ = [
    "LandmarkFix",
    "LocalizationParams",
    "Localizer",
    "SlipStatus",
    "shift_fix",
]

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float64]

CHI2_GATE_2DOF = 13.82
"""χ² 99.9% quantile, 2 degrees of freedom (standard tables)."""
CHI2_GATE_1DOF = 10.83
"""χ² 99.9% quantile, 1 degree of freedom (standard tables)."""
CHI2_GATE_3DOF = 16.27
"""χ² 99.9% quantile, 3 degrees of freedom (standard tables)."""


class Localizer(LocalizerCore):
    """The EKF of the module docstring; constructed as
    :class:`~.localization_core.LocalizerCore` says."""

    # ------------------------------------------------------------------ updates
    def _landmark_model(self, landmark_xy_m: tuple[float, float]) -> tuple[Matrix, Matrix]:
        """A landmark's offset in the rover's level frame as the estimate predicts it
        (2,), and its Jacobian in the state (2 × 5)."""
        mx, my = landmark_xy_m
        x, y, yaw = self.x[X], self.x[Y], self.x[YAW]
        c, s = math.cos(yaw), math.sin(yaw)
        dx, dy = mx - x, my - y
        h = np.array([c * dx + s * dy, -s * dx + c * dy])
        H = np.zeros((2, 5))
        H[0, :3] = (-c, -s, h[1])
        H[1, :3] = (s, -c, -h[0])
        return h, H

    def expected_offset(self, landmark_xy_m: tuple[float, float]) -> tuple[float, float]:
        """Where the estimate expects to see a landmark, in the rover's level frame, m."""
        h, _ = self._landmark_model(landmark_xy_m)
        return float(h[0]), float(h[1])

    def turn_slide_var(self, turn_rad: float) -> float:
        """The position variance (m², each axis) a turn in place of ``turn_rad`` from
        here would add: the wheels scrub ``|turn| · track / 2`` each."""
        scrub_m = 0.5 * abs(turn_rad) * self.params.track_m
        return (self._slide_frac() * scrub_m) ** 2

    def position_cov_after(
        self,
        landmark_xy_m: tuple[float, float],
        covariance_m2: Matrix,
        *,
        turn_rad: float = 0.0,
    ) -> Matrix:
        """The position covariance (2 × 2, m²) a sighting of the landmark with this
        covariance (rover's level frame) would leave, were it accepted, after a turn in
        place of ``turn_rad`` to see it (:meth:`turn_slide_var`); the state is not
        touched. For choosing which landmark to look at."""
        _, H = self._landmark_model(landmark_xy_m)
        P = self.P.copy()
        slide_var = self.turn_slide_var(turn_rad)
        P[X, X] += slide_var
        P[Y, Y] += slide_var
        S = H @ P @ H.T + np.asarray(covariance_m2, dtype=np.float64)
        PH = P @ H.T
        after: Matrix = P - PH @ np.linalg.solve(S, PH.T)
        return after[:2, :2]

    def update_landmark(self, fix: LandmarkFix) -> bool:
        """Correct with a landmark sighting; returns False if the gate rejected it."""
        h, H = self._landmark_model(fix.landmark_xy_m)
        z = np.asarray(fix.offset_xy_m, dtype=np.float64)
        R = np.asarray(fix.covariance_m2, dtype=np.float64)
        return self._correct(z - h, H, R, CHI2_GATE_2DOF, fix.label or "landmark", "landmark")

    def update_yaw(self, yaw_rad: float, std_rad: float, label: str = "yaw") -> bool:
        """Correct with a heading fix (site frame); returns False if gated out."""
        H = np.zeros((1, 5))
        H[0, YAW] = 1.0
        innovation = np.array([wrap_angle(yaw_rad - float(self.x[YAW]))])
        return self._correct(innovation, H, np.array([[std_rad**2]]), CHI2_GATE_1DOF, label, "yaw")

    def update_pose(self, pose: Pose2, covariance: Matrix, label: str = "pose") -> bool:
        """Correct with a full pose fix (3×3 covariance of x, y, yaw)."""
        H = np.zeros((3, 5))
        H[0, X] = H[1, Y] = H[2, YAW] = 1.0
        innovation = np.array(
            [
                pose.x_m - self.x[X],
                pose.y_m - self.x[Y],
                wrap_angle(pose.yaw_rad - float(self.x[YAW])),
            ]
        )
        R = np.asarray(covariance, dtype=np.float64)
        return self._correct(innovation, H, R, CHI2_GATE_3DOF, label, "pose")

    def _correct(
        self, innovation: Matrix, H: Matrix, R: Matrix, gate: float, label: str, kind: str
    ) -> bool:
        """Kalman update with a χ² gate; runs of rejections are counted per ``kind``, so
        heading fixes that disagree with a too-sure heading are not outvoted by position
        fixes that agree once the position has absorbed the error."""
        S = H @ self.P @ H.T + R
        d2 = float(innovation @ np.linalg.solve(S, innovation))
        if d2 > gate:
            count = self._rejections.get(kind, 0) + 1
            self._rejections[kind] = count
            self.rejected_fixes += 1
            if count <= self.params.max_rejections:
                log.debug("%s fix rejected (Mahalanobis² %.1f > %.1f)", label, d2, gate)
                return False
            log.warning(
                "%d %s fixes rejected in a row: accepting, covariance inflated", count, label
            )
            scale = max(1.0, d2 / gate)
            if kind != "yaw":  # lost in position (slides, pushes)
                self.P[:2, :2] += np.eye(2) * scale * self.params.lost_position_var_m2
            if kind != "landmark":  # lost in heading: only a heading fix says so
                self.P[YAW, YAW] += scale * self.params.lost_yaw_var_rad2
            S = H @ self.P @ H.T + R
        self._rejections[kind] = 0
        K = np.linalg.solve(S, H @ self.P).T
        step = K @ innovation
        self.x = self.x + step
        self._carry_height(float(step[X]), float(step[Y]))
        self.x[YAW] = wrap_angle(float(self.x[YAW]))
        I_KH = np.eye(5) - K @ H
        self.P = I_KH @ self.P @ I_KH.T + K @ R @ K.T  # Joseph form: stays symmetric
        self.accepted_fixes += 1
        return True
