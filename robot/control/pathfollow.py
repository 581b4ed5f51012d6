"""Following a planned :class:`~lunarsite.robot.planning.planner.Path`: pure pursuit and turns
in place.

:class:`PathFollower` pursues a point ``lookahead_m`` ahead along the path (across gentle
corners; never past a sharp one) with curvature ``κ = 2·sin α / d``. At a corner sharper
than ``turn_in_place_rad`` the rover stops within ``corner_tolerance_m`` and turns in
place, as a skid-steer can (braking straight to a stop first when it was rolling).
Segments the planner marked ``reverse`` are driven backwards (pursuit from the rear).

The speed is the least of:

- the cruise speed, scaled down on slopes: ``1 - 0.5·(tilt / max_slope)²``;
- the yaw-rate limit ``max_yaw_rate / |κ|`` and the wheels' top speed on that curvature;
- the lateral traction limit ``v² |κ| ≤ reserve · μ · g · cos θ`` (lunar g);
- the braking limit to the next stop, ``v ≤ sqrt(2 · a_brake · distance)``, where the
  traction-limited deceleration on a slope pitched θ nose-down is
  ``a_brake = min(max_accel, reserve · g · (μ cos θ − sin θ))``.

A turn in place whose heading (from the gyro) lags far behind the command has stalled
(one side grips while the other slides, and the encoders do not see where the body
went): the rover backs ``recovery_distance_m`` over the ground it came along and turns
again; :attr:`PathFollower.stalls` counts these.

Changes of speed are ramped at the same traction-limited acceleration. With the lunar
g = 1.62 m/s² and μ = 0.8, traction allows only ~1.3 m/s² on level ground and less on
a downhill: a rover that brakes as it would on Earth slides.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, fields

import numpy as np

from ..config import RoverConfig
from ..constants import LUNAR_GRAVITY_MPS2
from ..planning.planner import Path
from ..types import STOP, DriveCommand, Pose2, wrap_angle

__all__ = ["PathFollowParams", "PathFollower", "traction_accel_mps2"]

log = logging.getLogger(__name__)


def traction_accel_mps2(friction: float, pitch_down_rad: float, gravity_mps2: float) -> float:
    """Deceleration traction can give on a slope pitched ``pitch_down_rad`` nose-down
    (negative: uphill), ``g (μ cos θ − sin θ)``, in m/s² (0 when the slope exceeds it)."""
    return max(gravity_mps2 * (friction * math.cos(pitch_down_rad) - math.sin(pitch_down_rad)), 0.0)


@dataclass(frozen=True, slots=True)
class PathFollowParams:
    """Tuning and limits of :class:`PathFollower`; see :meth:`for_rover`."""

    cruise_speed_mps: float
    max_yaw_rate_radps: float
    max_accel_mps2: float
    lookahead_m: float
    arrival_tolerance_m: float
    """The goal is reached within this distance, in m."""
    corner_tolerance_m: float
    """A sharp corner is reached within this distance, in m."""
    turn_in_place_rad: float = math.pi / 4.0
    heading_gain_per_s: float = 2.0
    friction: float = 0.8
    """Wheel–regolith friction coefficient μ."""
    traction_reserve: float = 0.5
    """Share of the traction the profile may use (the rest holds the rover on slopes)."""
    gravity_mps2: float = LUNAR_GRAVITY_MPS2
    max_slope_rad: float = 0.35
    max_wheel_speed_mps: float = math.inf
    half_track_m: float = 0.0
    min_speed_mps: float = 0.02
    """Creep speed the braking profile never goes under before the stop, in m/s."""
    stall_window_s: float = 1.0
    stall_yaw_fraction: float = 0.25
    """A turn in place has stalled when the heading turned less than this share of the
    commanded turn over ``stall_window_s``."""
    recovery_distance_m: float = 0.25
    """After a stall, back this far along the path already driven, in m."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if math.isnan(value) or value < 0.0:
                raise ValueError(f"PathFollowParams.{f.name} must be >= 0, got {value}")
        for name in ("cruise_speed_mps", "lookahead_m", "arrival_tolerance_m", "max_accel_mps2"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"PathFollowParams.{name} must be positive")

    @classmethod
    def for_rover(
        cls,
        config: RoverConfig,
        *,
        cruise_speed_mps: float | None = None,
        arrival_tolerance_m: float = 0.15,
        lookahead_m: float | None = None,
        turn_in_place_rad: float = 0.5,
    ) -> PathFollowParams:
        """Limits from ``config``. Defaults: cruise at ``max_speed_mps``; look ahead
        ``max(2·wheelbase, 3·tolerance)``; turn in place beyond 0.5 rad of heading error
        (a skid-steer on a tight arc skids one side and fools its odometry)."""
        drive = config.drive
        cruise = drive.max_speed_mps if cruise_speed_mps is None else cruise_speed_mps
        if cruise > drive.max_speed_mps:
            raise ValueError(
                f"cruise_speed_mps ({cruise}) exceeds drive.max_speed_mps ({drive.max_speed_mps})"
            )
        if lookahead_m is None:
            lookahead_m = max(2.0 * config.wheels.wheelbase_m, 3.0 * arrival_tolerance_m)
        return cls(
            cruise_speed_mps=cruise,
            max_yaw_rate_radps=drive.max_yaw_rate_radps,
            max_accel_mps2=drive.max_accel_mps2,
            lookahead_m=lookahead_m,
            arrival_tolerance_m=arrival_tolerance_m,
            corner_tolerance_m=max(0.5 * arrival_tolerance_m, 0.05),
            turn_in_place_rad=turn_in_place_rad,
            friction=config.wheels.friction,
            max_slope_rad=config.limits.max_slope_rad,
            max_wheel_speed_mps=drive.max_wheel_speed_radps * config.wheels.radius_m,
            half_track_m=0.5 * config.wheels.track_m * drive.effective_track_factor,
        )


class PathFollower:
    """Pure pursuit along a :class:`Path`; see the module docstring."""

    def __init__(
        self, params: PathFollowParams, path: Path, *, initial_speed_mps: float = 0.0
    ) -> None:
        """``initial_speed_mps``: the speed the rover has now (|m/s|), so a replanned path
        is taken up without braking to a stop."""
        self.params = params
        self.path = path
        pts = path.points_xy_m
        self._pts = pts
        d = np.diff(pts, axis=0)
        self._len = np.hypot(d[:, 0], d[:, 1])
        self._dir = np.arctan2(d[:, 1], d[:, 0])
        self._stops = self._find_stops()
        self._seg = 0
        self._speed = min(abs(initial_speed_mps), params.cruise_speed_mps)
        self._turning = False
        self._arrived = False
        self._done = False
        self._turn_log: deque[tuple[float, float]] = deque()
        self._recovery_from: tuple[float, float] | None = None
        self.stalls = 0
        """Turns in place that stalled and were retried after backing up."""

    @property
    def done(self) -> bool:
        """The goal was reached and the rover commanded to a stop."""
        return self._done

    @property
    def segment(self) -> int:
        return self._seg

    def remaining_m(self, pose: Pose2) -> float:
        """Path length left from the rover's projection, in m."""
        along = self._along(pose)
        return float(self._len[self._seg] - along + self._len[self._seg + 1 :].sum())

    def update(
        self, pose: Pose2, dt_s: float, *, pitch_rad: float = 0.0, roll_rad: float = 0.0
    ) -> DriveCommand:
        """The command for this cycle; ``pitch_rad`` (nose-down positive) and ``roll_rad``
        from the IMU set the slope limits."""
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise ValueError(f"dt_s must be positive and finite, got {dt_s}")
        p = self.params
        if self._done:
            return STOP
        self._advance(pose)
        gx, gy = self.path.goal_xy_m
        last = self._seg == len(self._len) - 1
        if not self._arrived and last and pose.distance_to(gx, gy) < p.arrival_tolerance_m:
            self._arrived = True
            log.info("goal (%.2f, %.2f) reached", gx, gy)
        accel = self._accel_limit(pitch_rad)
        if self._arrived:
            return self._stop(dt_s, accel)

        reverse = self.path.reverse[self._seg]
        body_yaw = wrap_angle(pose.yaw_rad + math.pi) if reverse else pose.yaw_rad
        lx, ly = self._lookahead(pose)
        alpha = wrap_angle(math.atan2(ly - pose.y_m, lx - pose.x_m) - body_yaw)
        dist_look = max(math.hypot(lx - pose.x_m, ly - pose.y_m), 1e-6)
        if abs(alpha) > p.turn_in_place_rad:
            if not self._turning:
                self._turn_log.clear()
            self._turning = True
        elif abs(alpha) < 0.5 * p.turn_in_place_rad:
            self._turning = False
        if self._recovery_from is not None:
            return self._recover(pose, dt_s, accel, reverse)
        if self._turning:
            speed = self._ramp(0.0, dt_s, accel)
            sign = -1.0 if reverse else 1.0
            # Brake straight, then turn: turning while still rolling (a replan that
            # starts with a sharp corner) skids the body sideways where the encoders
            # do not see it, 0.3 m in the simulator from 0.3 m/s.
            yaw_rate = 0.0 if speed > 0.0 else self._limit_yaw(p.heading_gain_per_s * alpha, 0.0)
            if speed == 0.0 and self._turn_stalled(pose.yaw_rad, yaw_rate, dt_s):
                self.stalls += 1
                log.info(
                    "turn in place stalled at (%.2f, %.2f): backing %.2f m to retry",
                    pose.x_m,
                    pose.y_m,
                    p.recovery_distance_m,
                )
                self._recovery_from = (pose.x_m, pose.y_m)
                return STOP
            return DriveCommand(sign * speed, yaw_rate)
        self._turn_log.clear()

        kappa = 2.0 * math.sin(alpha) / dist_look
        tilt = math.hypot(pitch_rad, roll_rad)
        cos_t = math.cos(min(tilt, 0.5 * math.pi))
        slope_factor = max(0.3, 1.0 - 0.5 * (tilt / p.max_slope_rad) ** 2)
        lateral = p.traction_reserve * p.friction * p.gravity_mps2 * cos_t
        abs_k = max(abs(kappa), 1e-9)
        target = min(
            p.cruise_speed_mps * slope_factor,
            p.max_yaw_rate_radps / abs_k,
            p.max_wheel_speed_mps / (1.0 + abs_k * p.half_track_m),
            math.sqrt(lateral / abs_k),
            self._braking_speed(pose, accel),
        )
        speed = self._ramp(target, dt_s, accel)
        yaw_rate = self._limit_yaw(speed * kappa, speed)
        return DriveCommand(-speed if reverse else speed, yaw_rate)

    # ------------------------------------------------------------------ internals
    def _turn_stalled(self, yaw_rad: float, yaw_rate_radps: float, dt_s: float) -> bool:
        """Whether the heading turned less than ``stall_yaw_fraction`` of the commanded
        turn over the last ``stall_window_s`` (the gyro sees a stalled turn; the
        encoders, equal and opposite, do not see where the body slid)."""
        p = self.params
        log_ = self._turn_log
        log_.append((yaw_rad, yaw_rate_radps * dt_s))
        window = max(2, round(p.stall_window_s / dt_s))
        while len(log_) > window:
            log_.popleft()
        if len(log_) < window:
            return False
        commanded = sum(step for _, step in log_)
        turned = wrap_angle(yaw_rad - log_[0][0])
        if abs(commanded) < 1e-6:
            return False
        return math.copysign(1.0, commanded) * turned < p.stall_yaw_fraction * abs(commanded)

    def _recover(self, pose: Pose2, dt_s: float, accel: float, reverse: bool) -> DriveCommand:
        """Back straight (away from the travel direction) ``recovery_distance_m`` over the
        ground just driven, stop, and hand back to the turn."""
        assert self._recovery_from is not None
        p = self.params
        moved = pose.distance_to(*self._recovery_from)
        if moved < p.recovery_distance_m:
            crawl = max(0.5 * p.cruise_speed_mps, p.min_speed_mps)
            speed = self._ramp(crawl, dt_s, accel)
            return DriveCommand(speed if reverse else -speed, 0.0)
        speed = self._ramp(0.0, dt_s, accel)
        if speed == 0.0:
            self._recovery_from = None
            self._turn_log.clear()
        return DriveCommand(-speed if not reverse else speed, 0.0)

    def _find_stops(self) -> list[bool]:
        """Stop at each point after segment k: sharp corners, direction changes, the goal."""
        stops = []
        for k in range(len(self._len) - 1):
            turn = wrap_angle(float(self._dir[k + 1] - self._dir[k]))
            flip = self.path.reverse[k] != self.path.reverse[k + 1]
            stops.append(flip or abs(turn) > self.params.turn_in_place_rad)
        stops.append(True)
        return stops

    def _along(self, pose: Pose2) -> float:
        a = self._pts[self._seg]
        th = self._dir[self._seg]
        return float((pose.x_m - a[0]) * math.cos(th) + (pose.y_m - a[1]) * math.sin(th))

    def _advance(self, pose: Pose2) -> None:
        p = self.params
        while self._seg < len(self._len) - 1:
            end = self._pts[self._seg + 1]
            dist_end = pose.distance_to(float(end[0]), float(end[1]))
            along = self._along(pose)
            if self._stops[self._seg]:
                passed = dist_end < p.corner_tolerance_m or along > self._len[self._seg]
            else:
                passed = along > self._len[self._seg] - 0.5 * p.lookahead_m
            if not passed:
                return
            self._seg += 1
            log.debug("path segment %d of %d", self._seg, len(self._len))

    def _lookahead(self, pose: Pose2) -> tuple[float, float]:
        """The point ``lookahead_m`` beyond the projection, not past the next stop."""
        s = max(self._along(pose), 0.0) + self.params.lookahead_m
        k = self._seg
        while True:
            if s <= self._len[k] or self._stops[k]:
                s = min(s, float(self._len[k]))
                a = self._pts[k]
                return (
                    float(a[0] + s * math.cos(self._dir[k])),
                    float(a[1] + s * math.sin(self._dir[k])),
                )
            s -= float(self._len[k])
            k += 1

    def _braking_speed(self, pose: Pose2, accel: float) -> float:
        k = self._seg
        dist = float(self._len[k]) - self._along(pose)
        while not self._stops[k]:
            k += 1
            dist += float(self._len[k])
        dist = max(dist - 0.5 * self.params.corner_tolerance_m, 0.0)
        return max(math.sqrt(2.0 * accel * dist), self.params.min_speed_mps)

    def _accel_limit(self, pitch_rad: float) -> float:
        p = self.params
        # Braking is the binding case: downhill when moving forward (either sign is safe).
        traction = traction_accel_mps2(p.friction, abs(pitch_rad), p.gravity_mps2)
        return max(min(p.max_accel_mps2, p.traction_reserve * traction), 0.05)

    def _ramp(self, target: float, dt_s: float, accel: float) -> float:
        step = accel * dt_s
        self._speed = min(max(target, self._speed - step), self._speed + step)
        return self._speed

    def _limit_yaw(self, yaw_rate: float, speed: float) -> float:
        p = self.params
        limit = p.max_yaw_rate_radps
        if p.half_track_m > 0.0 and math.isfinite(p.max_wheel_speed_mps):
            limit = min(limit, max(p.max_wheel_speed_mps - abs(speed), 0.0) / p.half_track_m)
        return min(max(yaw_rate, -limit), limit)

    def _stop(self, dt_s: float, accel: float) -> DriveCommand:
        speed = self._ramp(0.0, dt_s, accel)
        if speed == 0.0:
            self._done = True
            return STOP
        sign = -1.0 if self.path.reverse[self._seg] else 1.0
        return DriveCommand(sign * speed, 0.0)
