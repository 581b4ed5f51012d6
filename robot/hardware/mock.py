"""An in-memory rover and a manual clock, for unit tests of the controller.

:class:`MockRover` mirrors commands into state the way ros2_control's mock hardware does:
an ideal skid-steer body on flat ground, integrated exactly whenever its
:class:`ManualClock` advances. It senses what a real board would (encoder counts, IMU,
servo positions, battery); its :attr:`MockRover.true_pose` is ground truth, for tests only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from ..config import RoverConfig
from ..constants import LUNAR_GRAVITY_MPS2
from ..types import DriveCommand, Pose2, RoverCommand, SensedState, Twist2, wrap_angle
from .interface import RoverInterface
from .skid_steer import mix_skid_steer

__all__ = ["ManualClock", "MockRover", "StepCallback"]

log = logging.getLogger(__name__)

StepCallback = Callable[[float], None]
"""Called with the step length in s each time a :class:`ManualClock` advances."""

_ORIGIN = Pose2(0.0, 0.0, 0.0)


class ManualClock:
    """A :class:`~lunarsite.robot.hardware.Clock` whose time moves only in :meth:`sleep_s`.

    Each sleep first advances the time, then calls the registered step callbacks, in
    registration order, with the step length; a mock rover integrates its motion there.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        if not math.isfinite(start_s):
            raise ValueError(f"start_s must be finite, got {start_s}")
        self._now_s = float(start_s)
        self._callbacks: list[StepCallback] = []

    def now_s(self) -> float:
        return self._now_s

    def sleep_s(self, duration_s: float) -> None:
        """Advance the time by ``duration_s`` (s, finite, >= 0) and run the callbacks."""
        if not (math.isfinite(duration_s) and duration_s >= 0.0):
            raise ValueError(f"duration_s must be finite and non-negative, got {duration_s}")
        if duration_s == 0.0:
            return
        self._now_s += duration_s
        for callback in self._callbacks:
            callback(duration_s)

    def check_period(self, period_s: float) -> None:
        if not (math.isfinite(period_s) and period_s > 0.0):
            raise ValueError(f"a loop period must be positive and finite, got {period_s}")

    def add_step_callback(self, callback: StepCallback) -> None:
        """Call ``callback(step_s)`` after every advance of the clock."""
        self._callbacks.append(callback)


class MockRover(RoverInterface):
    """An ideal skid-steer rover in memory, built from a :class:`RoverConfig`.

    Drive commands are mixed to side speeds by :func:`~.skid_steer.mix_skid_steer`, the
    mixer of the simulated rover and the firmware: ``v ∓ ω·track·effective_track_factor/2``,
    both sides scaled down together when one would pass ``max_wheel_speed_radps`` (the
    controller's own limits, ``max_speed_mps`` and ``max_yaw_rate_radps``, are not enforced
    here, as a motor board would not). The wheels reach their setpoints at once, so the
    accelerometer reads only gravity. Tool joints slew toward their targets at
    ``max_speed_radps``, their targets clamped to the joint limits.

    Sensor noise is drawn from ``rng`` with the standard deviations of ``config.encoders``
    and ``config.imu`` (per-run IMU biases drawn once here); without ``rng`` every
    reading is exact.
    """

    def __init__(
        self,
        config: RoverConfig,
        clock: ManualClock,
        start: Pose2 = _ORIGIN,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(config.joint_names)
        self.config = config
        self._clock = clock
        self._rng = rng
        self._x_m = float(start.x_m)
        self._y_m = float(start.y_m)
        self._yaw_rad = float(start.yaw_rad)
        self._left_angle_rad = 0.0
        self._right_angle_rad = 0.0
        self._left_mps = 0.0
        self._right_mps = 0.0
        self._joint_rad = {j.name: j.home_rad for t in config.tools for j in t.joints}
        self._target_rad = dict(self._joint_rad)
        imu = config.imu
        if rng is None:
            self._gyro_bias = np.zeros(3)
            self._accel_bias = np.zeros(3)
        else:
            self._gyro_bias = rng.normal(0.0, imu.gyro_bias_std_radps, 3)
            self._accel_bias = rng.normal(0.0, imu.accel_bias_std_mps2, 3)
        clock.add_step_callback(self._step)

    # ------------------------------------------------------------------ ground truth
    @property
    def clock(self) -> ManualClock:
        return self._clock

    @property
    def true_pose(self) -> Pose2:
        """Ground-truth pose, for tests only: a controller must never read it."""
        return Pose2(self._x_m, self._y_m, wrap_angle(self._yaw_rad))

    @property
    def true_twist(self) -> Twist2:
        """Ground-truth body velocity after wheel saturation, for tests only."""
        return Twist2(0.5 * (self._left_mps + self._right_mps), self._yaw_rate_radps())

    @property
    def wheel_speeds_mps(self) -> tuple[float, float]:
        """Left and right side ground speeds after saturation, in m/s."""
        return (self._left_mps, self._right_mps)

    # -------------------------------------------------------------------- lifecycle
    def _on_configure(self) -> None:
        log.debug("mock rover %r configured", self.config.name)

    def _on_activate(self) -> None:
        self._stop()

    def _on_deactivate(self) -> None:
        self._stop()

    def _stop(self) -> None:
        self._left_mps = 0.0
        self._right_mps = 0.0
        self._target_rad = dict(self._joint_rad)

    # ------------------------------------------------------------------------ cycle
    def _on_write(self, command: RoverCommand) -> None:
        self._left_mps, self._right_mps = self._mix(command.drive)
        for name, target in command.tool_targets_rad.items():
            joint = self.config.joint(name)
            self._target_rad[name] = min(max(target, joint.lower_rad), joint.upper_rad)

    def _on_read(self) -> SensedState:
        rate = 2.0 * math.pi / self.config.encoders.ticks_per_rev
        gyro = np.array([0.0, 0.0, self._yaw_rate_radps()]) + self._gyro_bias
        accel = np.array([0.0, 0.0, LUNAR_GRAVITY_MPS2]) + self._accel_bias
        left = self._left_angle_rad / rate
        right = self._right_angle_rad / rate
        if self._rng is not None:
            imu = self.config.imu
            gyro = gyro + self._rng.normal(0.0, imu.gyro_noise_std_radps, 3)
            accel = accel + self._rng.normal(0.0, imu.accel_noise_std_mps2, 3)
            tick_noise = self._rng.normal(0.0, self.config.encoders.noise_std_ticks, 2)
            left += float(tick_noise[0])
            right += float(tick_noise[1])
        return SensedState(
            stamp_s=self._clock.now_s(),
            left_ticks=math.floor(left),
            right_ticks=math.floor(right),
            gyro_radps=(float(gyro[0]), float(gyro[1]), float(gyro[2])),
            accel_mps2=(float(accel[0]), float(accel[1]), float(accel[2])),
            tool_positions_rad=dict(self._joint_rad),
            battery_v=self.config.battery.nominal_v,
        )

    # ---------------------------------------------------------------------- physics
    def _mix(self, drive: DriveCommand) -> tuple[float, float]:
        """Left and right ground speeds, in m/s."""
        left_radps, right_radps = mix_skid_steer(drive, self.config)
        radius_m = self.config.wheels.radius_m
        return left_radps * radius_m, right_radps * radius_m

    def _yaw_rate_radps(self) -> float:
        track_m = self.config.wheels.track_m * self.config.drive.effective_track_factor
        return (self._right_mps - self._left_mps) / track_m

    def _step(self, dt_s: float) -> None:
        """Integrate ``dt_s`` of constant side speeds exactly (an arc or a line)."""
        v = 0.5 * (self._left_mps + self._right_mps)
        w = self._yaw_rate_radps()
        yaw0 = self._yaw_rad
        yaw1 = yaw0 + w * dt_s
        if abs(w * dt_s) > 1e-6:
            self._x_m += v / w * (math.sin(yaw1) - math.sin(yaw0))
            self._y_m += -v / w * (math.cos(yaw1) - math.cos(yaw0))
        else:  # midpoint rule: error O(v·dt·(w·dt)²), below 1e-12 of the step
            self._x_m += v * dt_s * math.cos(0.5 * (yaw0 + yaw1))
            self._y_m += v * dt_s * math.sin(0.5 * (yaw0 + yaw1))
        self._yaw_rad = yaw1
        radius_m = self.config.wheels.radius_m
        self._left_angle_rad += self._left_mps / radius_m * dt_s
        self._right_angle_rad += self._right_mps / radius_m * dt_s
        for name, position in self._joint_rad.items():
            joint = self.config.joint(name)
            max_step = joint.max_speed_radps * dt_s
            error = self._target_rad[name] - position
            self._joint_rad[name] = position + min(max(error, -max_step), max_step)
