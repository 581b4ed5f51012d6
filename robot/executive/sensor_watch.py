"""Noticing a sensor that has stopped, so the loop can stop the rover with the reason.

A field rover's sensors fail quietly more often than loudly: a camera driver keeps
handing out its last frame, a scanner's stream goes silent, an IMU read over a hung bus
returns the same registers again. The controller would carry on, steering by a picture
of the past. :class:`SensorWatch` is one rover's watch over them:

- **camera and scanner**: the sources the controller reads are wrapped
  (:meth:`SensorWatch.camera`, :meth:`SensorWatch.scanner`); each sample handed out is
  judged by its capture stamp against the time of the rover's latest reading. A camera
  frame older than ``max_frame_age_s`` when it is read, or a scanner that has given
  nothing new for ``max_scan_silence_s`` while it was asked, has stopped.
- **IMU**: every reading goes through :meth:`SensorWatch.reading`. A real MEMS IMU's
  noise never repeats all six channels bit for bit, so readings frozen for
  ``max_frozen_imu_s`` mean the IMU has stopped. (A board that can tell, such as the
  reference firmware on an I2C timeout, reports ``imu_fault`` itself, which the loop
  already treats as fatal; this catches the one that cannot.) Only sensible for an IMU
  with noise: ``None`` turns it off.

The watch only notices; the :class:`~.loop.ControlLoop` asks it every tick
(:meth:`SensorWatch.fault`) and, on a reason, fails the skill and stops the rover.
A sample within its age is handed on unchanged: a frame carries its capture time
(:attr:`~lunarsite.robot.types.CameraFrame.stamp_s`), and whoever uses it places it in
time by that stamp.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..types import CameraFrame, SensedState

__all__ = ["SensorLimits", "SensorWatch", "Stamped"]

log = logging.getLogger(__name__)


class Stamped(Protocol):
    """A sensor sample with its capture time."""

    @property
    def stamp_s(self) -> float: ...


S = TypeVar("S", bound=Stamped)


@dataclass(frozen=True, slots=True)
class SensorLimits:
    """How long each sensor may lag before it counts as stopped, in s."""

    max_frame_age_s: float = 1.0
    """Oldest camera frame a read may return (capture stamp to the latest reading)."""
    max_scan_silence_s: float = 1.0
    """Longest a scanner may give nothing new while it is being asked."""
    max_frozen_imu_s: float | None = None
    """Longest the six IMU channels may repeat exactly; None: not checked."""

    def __post_init__(self) -> None:
        for name in ("max_frame_age_s", "max_scan_silence_s", "max_frozen_imu_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"SensorLimits.{name} must be positive, got {value}")

    @classmethod
    def for_camera_rate(
        cls, rate_hz: float, *, imu_noisy: bool, latency_s: float = 0.0
    ) -> SensorLimits:
        """Limits for a camera streaming at ``rate_hz`` whose frames arrive ``latency_s``
        after their capture: five frame periods, at least 1 s, plus the latency; the
        scanner alike without it; the IMU watched only when it is noisy (0.5 s)."""
        lag_s = max(1.0, 5.0 / rate_hz)
        return cls(lag_s + latency_s, lag_s, 0.5 if imu_noisy else None)


class SensorWatch:
    """One rover's watch over its camera, scanner and IMU (see the module docstring)."""

    def __init__(self, limits: SensorLimits | None = None) -> None:
        self.limits = limits or SensorLimits()
        self._now_s = -math.inf
        self._imu: tuple[float, ...] | None = None
        self._imu_since_s = -math.inf
        self._scan_last_new_s: float | None = None
        self._scan_last_stamp_s = -math.inf
        self._fault: str | None = None

    # ------------------------------------------------------------------ readings
    def reading(self, sensed: SensedState) -> None:
        """Take the rover's latest reading: its stamp is the watch's "now". A reading
        whose stamp has not advanced (a link that repeats itself) is the link's business."""
        if sensed.stamp_s <= self._now_s:
            return
        self._now_s = sensed.stamp_s
        frozen_limit = self.limits.max_frozen_imu_s
        if frozen_limit is None:
            return
        imu = (*sensed.gyro_radps, *sensed.accel_mps2)
        if imu != self._imu:
            self._imu, self._imu_since_s = imu, sensed.stamp_s
        elif sensed.stamp_s - self._imu_since_s > frozen_limit:
            self._set_fault(
                f"IMU stopped: its six channels have read the same values since "
                f"{self._imu_since_s:.2f} s ({sensed.stamp_s - self._imu_since_s:.2f} s)"
            )

    def fault(self) -> str | None:
        """Why a sensor counts as stopped, or None while all are live."""
        return self._fault

    # ------------------------------------------------------------------- sources
    def camera(self, source: Callable[[], CameraFrame]) -> Callable[[], CameraFrame]:
        """``source``, each frame it returns judged by its age."""
        limit = self.limits.max_frame_age_s

        def read() -> CameraFrame:
            frame = source()
            age_s = self._now_s - frame.stamp_s
            if age_s > limit:
                self._set_fault(
                    f"camera stopped: the newest frame was captured at {frame.stamp_s:.2f} s, "
                    f"{age_s:.2f} s before the latest reading (limit {limit:g} s)"
                )
            return frame

        return read

    def scanner(self, source: Callable[[], S | None]) -> Callable[[], S | None]:
        """``source``, its silences timed while it is being asked."""
        limit = self.limits.max_scan_silence_s

        def read() -> S | None:
            scan = source()
            now = self._now_s
            if self._scan_last_new_s is None:
                self._scan_last_new_s = now  # silence is timed from the first ask
            if scan is not None and scan.stamp_s > self._scan_last_stamp_s:
                self._scan_last_stamp_s = scan.stamp_s
                self._scan_last_new_s = now
            elif now - self._scan_last_new_s > limit:
                self._set_fault(
                    f"scanner stopped: nothing new since {self._scan_last_new_s:.2f} s "
                    f"({now - self._scan_last_new_s:.2f} s, limit {limit:g} s)"
                )
            return scan

        return read

    def _set_fault(self, reason: str) -> None:
        if self._fault is None:
            log.error("%s", reason)
            self._fault = reason
