"""Path following: pure pursuit along straight segments between waypoints.

:class:`WaypointFollower` takes the estimated pose each cycle and returns a
:class:`~lunarsite.robot.types.DriveCommand` within the rover's drive limits. The path is
the polyline from the pose at the first update through the waypoints; each waypoint
counts as reached when the rover comes within ``arrival_tolerance_m`` of it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields

from ..config import RoverConfig
from ..types import STOP, DriveCommand, Pose2, wrap_angle

__all__ = ["FollowerParams", "WaypointFollower"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FollowerParams:
    """Tuning and limits of a :class:`WaypointFollower`."""

    lookahead_m: float
    """Distance along the segment from the rover's projection to the pursued point, in m."""
    arrival_tolerance_m: float
    """A waypoint is reached within this distance, in m."""
    cruise_speed_mps: float
    """Forward speed on straight stretches, in m/s."""
    max_yaw_rate_radps: float
    """Highest commanded yaw rate, in rad/s; also caps speed on curves (v ≤ this / |κ|)."""
    max_accel_mps2: float
    """Highest change of commanded forward speed, in m/s²."""
    turn_in_place_rad: float
    """Above this |heading error| the rover stops and turns in place (until under half)."""
    slow_down_radius_m: float
    """Within this path distance of a stop (the goal, or a corner sharper than
    ``turn_in_place_rad``) the speed falls in proportion to the distance, in m."""
    max_wheel_speed_mps: float = math.inf
    """Top ground speed of either side, in m/s: ``|v| + |ω|·half_track_m`` stays below it."""
    half_track_m: float = 0.0
    """Half the effective track (``track_m · effective_track_factor / 2``), in m."""
    heading_gain_per_s: float = 2.0
    """Yaw rate per rad of heading error when turning in place, in 1/s."""
    stall_window_s: float = 0.75
    """A turn in place is judged stalled over this much time, in s."""
    stall_yaw_fraction: float = 0.3
    """A turn in place has stalled when the heading turned less than this share of the
    commanded yaw rate over ``stall_window_s``."""
    recovery_distance_m: float = 0.25
    """After a stalled turn, back up this far along the heading before trying again, in m."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if math.isnan(value) or value < 0.0 or (value == 0.0 and f.name != "half_track_m"):
                raise ValueError(f"FollowerParams.{f.name} must be positive, got {value}")
            if math.isinf(value) and f.name != "max_wheel_speed_mps":
                raise ValueError(f"FollowerParams.{f.name} must be finite, got {value}")
        if self.turn_in_place_rad > math.pi:
            raise ValueError(
                f"FollowerParams.turn_in_place_rad must be at most π, got {self.turn_in_place_rad}"
            )

    @classmethod
    def for_rover(
        cls,
        config: RoverConfig,
        *,
        cruise_speed_mps: float | None = None,
        arrival_tolerance_m: float = 0.1,
        lookahead_m: float | None = None,
        turn_in_place_rad: float = math.pi / 4.0,
        slow_down_radius_m: float | None = None,
    ) -> FollowerParams:
        """Parameters within ``config.drive``'s limits and the wheels' top speed.

        Defaults: cruise at ``max_speed_mps``; look ahead ``max(2·wheelbase, 3·tolerance)``;
        slow down within ``max(lookahead, cruise² / max_accel)`` (twice the stopping
        distance). A cruise speed above ``max_speed_mps`` is refused.
        """
        drive = config.drive
        cruise = drive.max_speed_mps if cruise_speed_mps is None else cruise_speed_mps
        if not cruise <= drive.max_speed_mps:
            raise ValueError(
                f"cruise_speed_mps ({cruise}) exceeds rover {config.name!r}'s "
                f"drive.max_speed_mps ({drive.max_speed_mps})"
            )
        if lookahead_m is None:
            lookahead_m = max(2.0 * config.wheels.wheelbase_m, 3.0 * arrival_tolerance_m)
        if slow_down_radius_m is None:
            slow_down_radius_m = max(lookahead_m, cruise * cruise / drive.max_accel_mps2)
        return cls(
            lookahead_m=lookahead_m,
            arrival_tolerance_m=arrival_tolerance_m,
            cruise_speed_mps=cruise,
            max_yaw_rate_radps=drive.max_yaw_rate_radps,
            max_accel_mps2=drive.max_accel_mps2,
            turn_in_place_rad=turn_in_place_rad,
            slow_down_radius_m=slow_down_radius_m,
            max_wheel_speed_mps=drive.max_wheel_speed_radps * config.wheels.radius_m,
            half_track_m=0.5 * config.wheels.track_m * drive.effective_track_factor,
        )


class _TurnWatch:
    """Watches a turn in place for a stall: the heading lags far behind the command.

    A four-wheel skid-steer turning in place on uneven ground can have one side grip
    while the other spins: the body then backs or creeps instead of turning. The
    encoders (equal and opposite) do not see that motion, so dead reckoning loses it;
    the heading from the gyro does see that the turn is not happening. The sooner the
    wheels stop, the less unseen motion there is.
    """

    def __init__(self, window_s: float, fraction: float) -> None:
        self.window_s = window_s
        self.fraction = fraction
        self._samples: deque[tuple[float, float, float]] = deque()
        self._elapsed_s = 0.0

    def reset(self) -> None:
        self._samples.clear()
        self._elapsed_s = 0.0

    def stalled(self, yaw_rad: float, commanded_radps: float, dt_s: float) -> bool:
        """Record one cycle; true when the last ``window_s`` turned too little."""
        self._samples.append((self._elapsed_s, yaw_rad, commanded_radps * dt_s))
        self._elapsed_s += dt_s
        while self._samples and self._samples[0][0] < self._elapsed_s - self.window_s - 1e-9:
            self._samples.popleft()
        if self._elapsed_s < self.window_s or len(self._samples) < 2:
            return False
        commanded = sum(step for _, _, step in self._samples)
        turned = wrap_angle(yaw_rad - self._samples[0][1])
        expected = abs(commanded)
        return expected > 0.0 and math.copysign(1.0, commanded) * turned < self.fraction * expected


class WaypointFollower:
    """Pure pursuit through ``waypoints`` ((x_m, y_m) in the site frame), forward only.

    The first segment starts at ``start`` (by default the pose of the first update).

    Each :meth:`update` pursues the point ``lookahead_m`` beyond the rover's projection on
    the current segment (clamped to the segment's end) with curvature
    ``κ = 2·sin(α) / distance``, α the bearing to that point. The forward speed is the
    least of the cruise speed, ``max_yaw_rate / |κ|``, the wheels' top speed on that
    curvature, and a profile that slows toward the next stop, then ramps at
    ``max_accel_mps2`` from the last command. With ``|α| > turn_in_place_rad`` the rover
    ramps to a stop and turns in place. When the heading lags far behind a turn in
    place (see ``stall_*`` in :class:`FollowerParams`), the wheels stop, the rover backs
    ``recovery_distance_m`` along its heading (the ground it just drove over) and tries
    again; :attr:`stalls` counts these. After the last waypoint it ramps to a stop;
    :attr:`done` turns true with the first :data:`STOP` returned.
    """

    def __init__(
        self,
        params: FollowerParams,
        waypoints: Sequence[tuple[float, float]],
        start: Pose2 | None = None,
    ) -> None:
        if not waypoints:
            raise ValueError("WaypointFollower needs at least one waypoint")
        for i, (x_m, y_m) in enumerate(waypoints):
            if not (math.isfinite(x_m) and math.isfinite(y_m)):
                raise ValueError(f"waypoint {i} is not finite: ({x_m}, {y_m})")
        self.waypoints = tuple((float(x), float(y)) for x, y in waypoints)
        self.params = params
        self._index = 0
        self._arrivals: list[int] = []
        self._start: tuple[float, float] | None = None
        self._stops: tuple[bool, ...] = ()
        if start is not None:
            self._set_start(start)
        self._speed_mps = 0.0
        self._turning = False
        self._done = False
        self._watch = _TurnWatch(params.stall_window_s, params.stall_yaw_fraction)
        self._recovery_from: tuple[float, float] | None = None
        self.stalls = 0
        """Turns in place that stalled and were retried after backing up."""

    @property
    def current_index(self) -> int:
        """Index of the waypoint being approached; ``len(waypoints)`` once all are reached."""
        return self._index

    @property
    def done(self) -> bool:
        """All waypoints reached and the rover commanded to a stop."""
        return self._done

    def pop_arrivals(self) -> list[int]:
        """Indices of the waypoints reached since the last call, in order."""
        arrivals, self._arrivals = self._arrivals, []
        return arrivals

    def update(self, pose: Pose2, dt_s: float) -> DriveCommand:
        """The drive command for this cycle, from the estimated pose and the cycle length."""
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise ValueError(f"dt_s must be positive and finite, got {dt_s}")
        if not all(math.isfinite(v) for v in (pose.x_m, pose.y_m, pose.yaw_rad)):
            raise ValueError(f"pose is not finite: {pose}")
        if self._start is None:
            self._set_start(pose)
        self._check_arrivals(pose)
        if self._index == len(self.waypoints):
            return self._finish(dt_s)
        p = self.params
        if self._recovery_from is not None:
            return self._recover(pose, dt_s)
        look_x, look_y = self._lookahead_point(pose)
        alpha = pose.bearing_to(look_x, look_y)
        if abs(alpha) > p.turn_in_place_rad:
            if not self._turning:
                log.debug("heading error %.2f rad: turning in place", alpha)
                self._watch.reset()
            self._turning = True
        elif abs(alpha) < 0.5 * p.turn_in_place_rad:
            self._turning = False
        if self._turning:
            speed = self._ramp(0.0, dt_s)
            yaw_rate = self._limit_yaw_rate(p.heading_gain_per_s * alpha, speed)
            if speed == 0.0 and self._watch.stalled(pose.yaw_rad, yaw_rate, dt_s):
                self.stalls += 1
                log.info(
                    "turn in place stalled at (%.2f, %.2f): backing %.2f m to try again",
                    pose.x_m,
                    pose.y_m,
                    p.recovery_distance_m,
                )
                self._recovery_from = (pose.x_m, pose.y_m)
                self._watch.reset()
                return STOP
            return DriveCommand(speed, yaw_rate)
        curvature = 2.0 * math.sin(alpha) / pose.distance_to(look_x, look_y)
        target = min(
            p.cruise_speed_mps,
            p.max_yaw_rate_radps / max(abs(curvature), 1e-12),
            p.max_wheel_speed_mps / (1.0 + abs(curvature) * p.half_track_m),
            self._profile_speed(pose),
        )
        speed = self._ramp(target, dt_s)
        return DriveCommand(speed, self._limit_yaw_rate(speed * curvature, speed))

    # ------------------------------------------------------------------ internals
    def _set_start(self, pose: Pose2) -> None:
        if not (math.isfinite(pose.x_m) and math.isfinite(pose.y_m)):
            raise ValueError(f"start pose is not finite: {pose}")
        self._start = (pose.x_m, pose.y_m)
        self._stops = self._find_stops()

    def _segment_start(self, index: int) -> tuple[float, float]:
        assert self._start is not None
        return self._start if index == 0 else self.waypoints[index - 1]

    def _find_stops(self) -> tuple[bool, ...]:
        """Whether the rover must stop at each waypoint: the last, and sharp corners."""
        stops = []
        for i, (bx, by) in enumerate(self.waypoints[:-1]):
            ax, ay = self._segment_start(i)
            cx, cy = self.waypoints[i + 1]
            turn = wrap_angle(math.atan2(cy - by, cx - bx) - math.atan2(by - ay, bx - ax))
            stops.append(abs(turn) > self.params.turn_in_place_rad)
        return (*stops, True)

    def _check_arrivals(self, pose: Pose2) -> None:
        while self._index < len(self.waypoints):
            x_m, y_m = self.waypoints[self._index]
            if pose.distance_to(x_m, y_m) >= self.params.arrival_tolerance_m:
                return
            log.info("reached waypoint %d at (%.3f, %.3f)", self._index, x_m, y_m)
            self._arrivals.append(self._index)
            self._index += 1

    def _lookahead_point(self, pose: Pose2) -> tuple[float, float]:
        ax, ay = self._segment_start(self._index)
        bx, by = self.waypoints[self._index]
        length_m = math.hypot(bx - ax, by - ay)
        if length_m < 1e-9:
            return (bx, by)
        ux, uy = (bx - ax) / length_m, (by - ay) / length_m
        along_m = (pose.x_m - ax) * ux + (pose.y_m - ay) * uy
        s_m = min(max(along_m + self.params.lookahead_m, 0.0), length_m)
        return (ax + s_m * ux, ay + s_m * uy)

    def _profile_speed(self, pose: Pose2) -> float:
        """Speed allowed by the path distance to the next stop."""
        p = self.params
        x_m, y_m = self.waypoints[self._index]
        distance_m = pose.distance_to(x_m, y_m)
        i = self._index
        while not self._stops[i]:
            (ax, ay), (bx, by) = self.waypoints[i], self.waypoints[i + 1]
            distance_m += math.hypot(bx - ax, by - ay)
            i += 1
        tolerance_m = p.arrival_tolerance_m
        braking = math.sqrt(2.0 * p.max_accel_mps2 * max(distance_m - 0.5 * tolerance_m, 0.0))
        creep = 0.5 * math.sqrt(p.max_accel_mps2 * tolerance_m)
        slowing = p.cruise_speed_mps * distance_m / p.slow_down_radius_m
        return min(p.cruise_speed_mps, max(creep, min(braking, slowing)))

    def _ramp(self, target_mps: float, dt_s: float) -> float:
        step = self.params.max_accel_mps2 * dt_s
        self._speed_mps = min(max(target_mps, self._speed_mps - step), self._speed_mps + step)
        return self._speed_mps

    def _limit_yaw_rate(self, yaw_rate_radps: float, speed_mps: float) -> float:
        p = self.params
        limit = p.max_yaw_rate_radps
        if p.half_track_m > 0.0:
            limit = min(limit, max(p.max_wheel_speed_mps - abs(speed_mps), 0.0) / p.half_track_m)
        return min(max(yaw_rate_radps, -limit), limit)

    def _recover(self, pose: Pose2, dt_s: float) -> DriveCommand:
        """Back straight up ``recovery_distance_m`` at a crawl, then stop and hand back."""
        assert self._recovery_from is not None
        p = self.params
        backed_m = pose.distance_to(*self._recovery_from)
        crawl = 0.5 * math.sqrt(p.max_accel_mps2 * p.recovery_distance_m)
        braking = math.sqrt(2.0 * p.max_accel_mps2 * max(p.recovery_distance_m - backed_m, 0.0))
        if backed_m < p.recovery_distance_m:
            target = -max(min(crawl, braking, p.cruise_speed_mps), 0.5 * crawl)
            return DriveCommand(self._ramp(target, dt_s), 0.0)
        speed = self._ramp(0.0, dt_s)
        if speed == 0.0:
            self._recovery_from = None
            return STOP
        return DriveCommand(speed, 0.0)

    def _finish(self, dt_s: float) -> DriveCommand:
        speed = self._ramp(0.0, dt_s)
        if speed == 0.0:
            self._done = True
            return STOP
        return DriveCommand(speed, 0.0)
