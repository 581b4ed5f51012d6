"""The dig_and_dump script: where to dig and dump, and closed-loop motions to get there.

Controller side only: everything here works through the rover interface (``read`` /
``write`` / ``clock``), the rover file and, if given, a range scanner's scans, never
through the simulator's truth. The pose the script steers by is
:class:`lunarsite.robot.perception.estimation.DeadReckoning` (wheel odometry for distance, gyro for
heading); the gyro's bias is re-estimated whenever the rover stands still (wheels
commanded to stop and no encoder counts), a zero-velocity update; turns in place with a
full bucket move the estimate round the pivot they are known to swing about; and before
each dig and dump the pilot fixes its pose on the walls of the site with a level range
scan (:func:`fit_walls`), as the arena's walls are surveyed.

:class:`DigDumpPlan` lays the work out from the mission: the dig area is skimmed in
layers, lanes a bucket-width apart across it and strips of ``pass_length_m`` along it (the
far strip first), each layer deeper; loads go to lanes across the dump area. For each dig
the chassis stands ``reach`` behind the strip (``reach`` from the bucket's geometry at the
digging pose), so the wheels stay out of the pit when the dig area is no longer than the
gap between the bucket's edge and the front wheels.

:class:`Pilot` drives in straight legs and quarter turns (:func:`travel`):
:meth:`Pilot.straight` runs straight along a heading forwards or backwards,
:meth:`Pilot.turn_to` turns in place on the estimated heading, :meth:`Pilot.tools_to`
moves the servos and waits until their sensed positions arrive.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from lunarsite.robot.config import RoverConfig, ToolConfig
from lunarsite.robot.hardware import RoverInterface
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.perception.mapping import RangeScan
from lunarsite.robot.types import STOP, DriveCommand, Pose2, RoverCommand, SensedState, wrap_angle

from .schema import AreaBox, DigAndDumpMission, Facing

__all__ = [
    "FACING_YAW_RAD",
    "BucketPoses",
    "DigDumpPlan",
    "DigPass",
    "DumpSpot",
    "Pilot",
    "bucket_edge_m",
    "dig_bucket",
    "fit_walls",
    "max_dig_depth_m",
    "run_script",
]

log = logging.getLogger(__name__)

FACING_YAW_RAD: dict[Facing, float] = {
    "east": 0.0,
    "north": 0.5 * math.pi,
    "west": math.pi,
    "south": -0.5 * math.pi,
}
"""Yaw of each facing in the site frame (x east, y north), in rad."""

_DIG_PITCH_MARGIN_RAD = 0.08
"""Nose-down pitch, beyond the chassis' pitch when the cut began, at which a dig pass
raises its boom (rad, ~3°). The FEE pulls a bucket edge down as well as back: on a light
rover a cut that bites too deep lifts the rear wheels and can tip the rover over its
front axle. Operators and auto-dig controllers shallow the cut on pitch or load."""
_DIG_BOOM_RELIEF_RAD = 0.15
"""How far the boom is raised each time the pitch guard trips, in rad."""
_DIG_RELIEF_INTERVAL_S = 0.5
"""How long a dig pass stands still after each boom raise of the pitch guard, in s (the
chassis settles back once the edge stops cutting)."""
_LIFT_BACK_SPEED_MPS = 0.05
"""Speed at which the rover backs away from a cut face before lifting, in m/s."""
_BACK_OUT_M = 0.15
"""How far the rover backs from a cut face, bucket still down, before lifting, in m."""
_DIG_SETTLE_S = 1.5
"""Standing time after a dig pass that ended pitched nose-down, before the boom lifts, s."""
_ZUPT_SETTLE_S = 1.0
"""Standing time before gyro readings count toward the bias estimate, in s."""
_ZUPT_MAX_RATE_RADPS = 0.01
"""Readings above this (any axis) are motion, not bias, in rad/s (MEMS biases are
~1e-4–1e-3 rad/s)."""
_STALL_WINDOW_S = 1.5
"""A turn in place is judged stalled over this much time, in s."""
_LATERAL_TOLERANCE_M = 0.12
"""Sideways error from a station left uncorrected after a wall fix, in m (a quarter of
a lane)."""
_TURN_DEADBAND_RAD = 0.08
"""A heading error this small is left to the heading hold of the next straight leg."""
_LANE_OVERLAP = 0.9
"""Dig lanes are this share of the bucket width apart (a little overlap)."""


# ----------------------------------------------------------------- bucket geometry
@dataclass(frozen=True, slots=True)
class BucketPoses:
    """Servo poses of a two-joint bucket (boom lift, bucket curl), in rad.

    The bucket's pitch (its floor against horizontal, nose up positive) is boom + curl.
    Defaults suit ``excavator_66kg``: dig with the floor ``dig_pitch_rad`` nose down, carry
    high and tilted back, dump tipped past the soil model's 45° pour angle.
    """

    dig_pitch_rad: float = -0.15
    carry_boom_rad: float = 0.9
    carry_curl_rad: float = 0.5
    dump_boom_rad: float = 0.7
    dump_curl_rad: float = -1.6
    loaded_pivot_ahead_m: float = 0.24
    """Where a turn in place with a full bucket pivots, ahead of the chassis centre, in m:
    a skid-steer pivots about its more heavily loaded axle (Mandow et al. 2007 measure
    such instantaneous centres of rotation on skid-steer robots). Fitted on lunarsite's
    own dig_and_dump runs of ``excavator_66kg``, as a team would calibrate its rover; with
    an empty bucket the pivot wanders about the centre (no systematic offset found)."""


def dig_bucket(config: RoverConfig) -> ToolConfig | None:
    """The rover's first bucket on a boom (kind ``bucket``, two joints), or None."""
    return next((t for t in config.tools if t.kind == "bucket" and len(t.joints) == 2), None)


def _axle_height_m(config: RoverConfig) -> float:
    """Height of the chassis frame above level ground (wheels not sunk), in m."""
    return config.chassis.axle_drop_m + config.wheels.radius_m


def bucket_edge_m(
    config: RoverConfig, tool: ToolConfig, boom_rad: float, curl_rad: float
) -> tuple[float, float]:
    """Where a bucket's cutting edge is on a level chassis on level ground: (distance ahead
    of the chassis centre, height above the ground), in m.

    The arm pitches up by ``boom_rad`` about its mount; the bucket by ``boom + curl``; its
    edge is the front of its floor, ``depth_m`` ahead of and ``height_m / 2`` below the
    bucket's pivot (the geometry :class:`lunarsite.sim.rover.SimRover` builds).
    """
    pitch = boom_rad + curl_rad
    mx, _, mz = tool.mount_xyz_m
    ahead = (
        mx
        + tool.arm_length_m * math.cos(boom_rad)
        + tool.depth_m * math.cos(pitch)
        + 0.5 * tool.height_m * math.sin(pitch)
    )
    up = (
        _axle_height_m(config)
        + mz
        + tool.arm_length_m * math.sin(boom_rad)
        + tool.depth_m * math.sin(pitch)
        - 0.5 * tool.height_m * math.cos(pitch)
    )
    return ahead, up


def dig_angles_rad(
    config: RoverConfig, tool: ToolConfig, depth_m: float, poses: BucketPoses
) -> tuple[float, float] | None:
    """Boom and curl that put the edge ``depth_m`` below the ground with the floor at
    ``poses.dig_pitch_rad``; None when the joints cannot reach it."""
    p = poses.dig_pitch_rad
    _, mz = tool.mount_xyz_m[0], tool.mount_xyz_m[2]
    s = (
        -depth_m
        - _axle_height_m(config)
        - mz
        - tool.depth_m * math.sin(p)
        + 0.5 * tool.height_m * math.cos(p)
    ) / tool.arm_length_m
    if not -1.0 <= s <= 1.0:
        return None
    boom = math.asin(s)
    curl = p - boom
    lift, twist = tool.joints[0], tool.joints[1]
    if not (
        lift.lower_rad <= boom <= lift.upper_rad and twist.lower_rad <= curl <= twist.upper_rad
    ):
        return None
    return boom, curl


def max_dig_depth_m(config: RoverConfig, tool: ToolConfig, poses: BucketPoses) -> float:
    """Deepest cut below level ground with the floor at ``poses.dig_pitch_rad`` (boom at
    its lower limit), in m (≤ 0 when the edge cannot reach the ground)."""
    boom = tool.joints[0].lower_rad
    _, up = bucket_edge_m(config, tool, boom, poses.dig_pitch_rad - boom)
    return -up


# ------------------------------------------------------------------------ the plan
@dataclass(frozen=True, slots=True)
class DigPass:
    """One dig: approach point, chassis start and end, bucket angles, planned depth (m,
    rad)."""

    layer: int
    lane: int
    approach_xy_m: tuple[float, float]
    start_xy_m: tuple[float, float]
    length_m: float
    heading_rad: float
    depth_m: float
    boom_rad: float
    curl_rad: float


@dataclass(frozen=True, slots=True)
class DumpSpot:
    """One dump: approach point and where the chassis stands to pour (m, rad)."""

    lane: int
    approach_xy_m: tuple[float, float]
    stand_xy_m: tuple[float, float]
    heading_rad: float


def _ranges(box: AreaBox, yaw: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Extent of a box along the heading and across it (to the left), in m."""
    ux, uy = math.cos(yaw), math.sin(yaw)
    x0, x1, y0, y1 = box.bounds_m
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    along = [x * ux + y * uy for x, y in corners]
    across = [-x * uy + y * ux for x, y in corners]
    return (min(along), max(along)), (min(across), max(across))


def _lanes(lo: float, hi: float, width: float, spacing: float) -> list[float]:
    """Lane centres across [lo, hi] for a tool ``width`` wide, at most ``spacing`` apart."""
    span = hi - lo
    if span <= width:
        return [0.5 * (lo + hi)]
    n = math.ceil((span - width) / spacing - 1e-9) + 1
    return [lo + 0.5 * width + k * (span - width) / (n - 1) for k in range(n)]


def _site_xy(along: float, across: float, yaw: float) -> tuple[float, float]:
    ux, uy = math.cos(yaw), math.sin(yaw)
    return (along * ux - across * uy, along * uy + across * ux)


class DigDumpPlan:
    """Where each dig and each dump happens (see the module docstring).

    Raises:
        ValueError: the rover has no two-joint bucket, or cannot cut the first layer.
    """

    def __init__(
        self,
        mission: DigAndDumpMission,
        rover: RoverConfig,
        poses: BucketPoses | None = None,
    ) -> None:
        tool = dig_bucket(rover)
        if tool is None:
            raise ValueError(f"rover {rover.name!r} has no bucket on a boom (two joints)")
        self.mission = mission
        self.rover = rover
        self.tool = tool
        self.poses = poses or BucketPoses()
        self.dig_yaw_rad = FACING_YAW_RAD[mission.dig_facing]
        self.dump_yaw_rad = FACING_YAW_RAD[mission.dump_facing]
        depths: list[float] = []
        d = mission.layer_depth_m
        while True:
            depths.append(min(d, mission.max_depth_m))
            if d >= mission.max_depth_m - 1e-9:
                break
            d += mission.layer_depth_m
        self.layer_depths_m = tuple(depths)
        self._angles = {}
        for depth in depths:
            angles = dig_angles_rad(rover, tool, depth, self.poses)
            if angles is None:
                break
            self._angles[depth] = angles
        if not self._angles:
            raise ValueError(
                f"rover {rover.name!r}'s bucket cannot reach {depths[0]:g} m below the ground"
            )
        self.reachable_depth_m = max(self._angles)
        (a0, a1), (c0, c1) = _ranges(mission.dig_area, self.dig_yaw_rad)
        self.dig_lanes_m = _lanes(c0, c1, tool.width_m, _LANE_OVERLAP * tool.width_m)
        n_strips = max(1, math.ceil((a1 - a0) / mission.pass_length_m - 1e-9))
        step = (a1 - a0) / n_strips
        self.dig_strips_m = [(a0 + k * step, step) for k in reversed(range(n_strips))]
        (b0, b1), (e0, e1) = _ranges(mission.dump_area, self.dump_yaw_rad)
        n_dump = max(1, math.floor((e1 - e0) / tool.width_m + 1e-9))
        self.dump_lanes_m = [e0 + (k + 0.5) * (e1 - e0) / n_dump for k in range(n_dump)]
        self.dump_lip_along_m = 0.5 * (b0 + b1)

    @property
    def passes_per_layer(self) -> int:
        return len(self.dig_lanes_m) * len(self.dig_strips_m)

    def dig_pass(self, index: int) -> DigPass:
        """The ``index``-th dig (0-based): layer by layer, snaking over the lanes, far strip
        first; past the deepest reachable layer the last layer repeats."""
        per = self.passes_per_layer
        layer = min(index // per, len(self.layer_depths_m) - 1)
        depth = min(self.layer_depths_m[layer], self.reachable_depth_m)
        boom, curl = self._angles[depth]
        k = index % per
        n_strips = len(self.dig_strips_m)
        lane = k // n_strips
        if (index // per) % 2 == 1:
            lane = len(self.dig_lanes_m) - 1 - lane
        start_along, length = self.dig_strips_m[k % n_strips]
        reach, _ = bucket_edge_m(self.rover, self.tool, boom, curl)
        yaw = self.dig_yaw_rad
        across = self.dig_lanes_m[lane]
        return DigPass(
            layer=index // per,
            lane=lane,
            approach_xy_m=_site_xy(start_along - reach - self.mission.approach_m, across, yaw),
            start_xy_m=_site_xy(start_along - reach, across, yaw),
            length_m=length,
            heading_rad=yaw,
            depth_m=depth,
            boom_rad=boom,
            curl_rad=curl,
        )

    def dump_spot(self, index: int) -> DumpSpot:
        """The ``index``-th dump (0-based), cycling over the dump lanes from the middle out."""
        n = len(self.dump_lanes_m)
        order = sorted(range(n), key=lambda k: (abs(k - 0.5 * (n - 1)), k))
        lane = order[index % n]
        p = self.poses
        reach, _ = bucket_edge_m(self.rover, self.tool, p.dump_boom_rad, p.dump_curl_rad)
        yaw = self.dump_yaw_rad
        across = self.dump_lanes_m[lane]
        stand = self.dump_lip_along_m - reach
        return DumpSpot(
            lane=lane,
            approach_xy_m=_site_xy(stand - self.mission.approach_m, across, yaw),
            stand_xy_m=_site_xy(stand, across, yaw),
            heading_rad=yaw,
        )

    def stations(self) -> Iterator[tuple[str, tuple[float, float]]]:
        """Every point the chassis centre is planned to stand on, with what it is for."""
        for i in range(self.passes_per_layer):
            p = self.dig_pass(i)
            end = (
                p.start_xy_m[0] + p.length_m * math.cos(p.heading_rad),
                p.start_xy_m[1] + p.length_m * math.sin(p.heading_rad),
            )
            yield "dig approach", p.approach_xy_m
            yield "dig start", p.start_xy_m
            yield "dig end", end
        for i in range(len(self.dump_lanes_m)):
            s = self.dump_spot(i)
            yield "dump approach", s.approach_xy_m
            yield "dump stand", s.stand_xy_m


# ------------------------------------------------------------------ wall fixes
def fit_walls(
    pose: Pose2,
    scan: RangeScan,
    size_xy_m: tuple[float, float],
    *,
    min_points: int = 15,
) -> Pose2 | None:
    """The pose that puts a level range scan's returns on the walls of a rectangular site
    ``[0, size_x] × [0, size_y]``, starting from ``pose``; None without enough returns on
    at least one wall of each direction.

    Each return is assigned to the wall nearest to where ``pose`` puts it, and returns far
    from every wall (the rover's own bucket, a pile) are dropped; the position and heading
    correction then solve a linear least-squares problem (three passes, tightening the
    gate from 0.6 m to 0.15 m).
    """
    d = np.asarray(scan.directions, dtype=np.float64)
    r = np.asarray(scan.ranges_m, dtype=np.float64)
    ok = np.isfinite(r) & (np.abs(d[:, 2]) < 0.2)
    if np.count_nonzero(ok) < 2 * min_points:
        return None
    ox, oy, _ = scan.origin_xyz_m
    local = np.column_stack([ox + r[ok] * d[ok, 0], oy + r[ok] * d[ok, 1]])
    sx, sy = size_xy_m
    x, y, yaw = pose.x_m, pose.y_m, pose.yaw_rad
    for gate in (0.6, 0.3, 0.15):
        c, s = math.cos(yaw), math.sin(yaw)
        px = x + c * local[:, 0] - s * local[:, 1]
        py = y + s * local[:, 0] + c * local[:, 1]
        walls = np.column_stack([px, sx - px, py, sy - py])
        near = np.argmin(np.abs(walls), axis=1)
        resid = walls[np.arange(len(near)), near]
        keep = np.abs(resid) < gate
        on_x = keep & (near < 2)
        on_y = keep & (near >= 2)
        if np.count_nonzero(on_x) < min_points or np.count_nonzero(on_y) < min_points:
            return None
        # Residuals: x-walls px - wall_x, y-walls py - wall_y; unknowns dx, dy, dyaw.
        rows = []
        rhs = []
        for i in np.flatnonzero(keep):
            wall = near[i]
            if wall < 2:
                target = 0.0 if wall == 0 else sx
                rows.append((1.0, 0.0, -(py[i] - y)))
                rhs.append(target - px[i])
            else:
                target = 0.0 if wall == 2 else sy
                rows.append((0.0, 1.0, px[i] - x))
                rhs.append(target - py[i])
        sol, *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(rhs), rcond=None)
        x, y, yaw = x + float(sol[0]), y + float(sol[1]), yaw + float(sol[2])
    return Pose2(x, y, wrap_angle(yaw))


# ----------------------------------------------------------------------- the pilot
class _GyroBias:
    """Running mean of the gyro while the rover stands still (a zero-velocity update)."""

    def __init__(self, window: int = 4000) -> None:
        self.window = window
        self.n = 0
        self.bias = (0.0, 0.0, 0.0)

    def add(self, gyro: tuple[float, float, float]) -> None:
        self.n += 1
        w = 1.0 / min(self.n, self.window)
        bx, by, bz = self.bias
        self.bias = (bx + w * (gyro[0] - bx), by + w * (gyro[1] - by), bz + w * (gyro[2] - bz))


class Pilot:
    """Closed-loop motions on the rover's own estimate (see the module docstring).

    Args:
        rover: the rover interface (simulated or real); must be active.
        config: its rover file (geometry for odometry, limits for the follower).
        start: the pose the rover starts from, in the site frame.
        control_hz: control rate, in Hz.
        deadline_s: clock time at which every motion stops.
        observer: called after every control tick (for recording); sees the pilot.
    """

    def __init__(
        self,
        rover: RoverInterface,
        config: RoverConfig,
        start: Pose2,
        *,
        control_hz: float,
        deadline_s: float,
        observer: Callable[[Pilot], None] | None = None,
        scanner: Callable[[], RangeScan] | None = None,
        site_size_m: tuple[float, float] | None = None,
    ) -> None:
        self.rover = rover
        self.config = config
        self.dt_s = 1.0 / control_hz
        self.deadline_s = deadline_s
        self.observer = observer
        self.dr = DeadReckoning(config, start)
        self.scanner = scanner
        self.site_size_m = site_size_m
        self.fixes = 0
        self.fix_corrections_m: list[float] = []
        """Distance each wall fix moved the estimate, in m (how far dead reckoning drifted)."""
        self.tools: dict[str, float] = {}
        self.command = STOP
        self._gyro = _GyroBias()
        self._last: SensedState = rover.read()
        self._still_ticks = 0
        self.dr.update(self._last)
        self.turn_stalls = 0
        self.timeouts = 0
        self.pitch_reliefs = 0
        """Times a dig pass raised its boom because the chassis pitched nose-down."""
        self.pivot_ahead_m = 0.0
        """Where turns in place pivot, ahead of the chassis centre, in m (the script sets
        it from the load it believes the bucket holds). The encoders of a pivot, equal and
        opposite, see nothing of the chassis centre swinging round that point; the
        estimate moves it there."""

    # ------------------------------------------------------------------- basics
    @property
    def pose(self) -> Pose2:
        """The estimated pose (dead reckoning), in the site frame."""
        return self.dr.pose

    @property
    def now_s(self) -> float:
        return self.rover.clock.now_s()

    @property
    def gyro_bias_radps(self) -> tuple[float, float, float]:
        return self._gyro.bias

    @property
    def sensed(self) -> SensedState:
        """The latest reading."""
        return self._last

    def out_of_time(self) -> bool:
        return self.now_s >= self.deadline_s - 1e-9

    def tick(self, drive: DriveCommand) -> None:
        """One control cycle: command, wait a period, read, update the estimate."""
        self.command = drive
        self.rover.write(RoverCommand(drive, dict(self.tools)))
        self.rover.clock.sleep_s(self.dt_s)
        s = self.rover.read()
        last = self._last
        still = (
            drive == STOP and s.left_ticks == last.left_ticks and s.right_ticks == last.right_ticks
        )
        self._still_ticks = self._still_ticks + 1 if still else 0
        # A chassis that has just stopped can still rock or slide: wait a second, and take
        # only readings within the gyro's bias range of zero.
        if self._still_ticks * self.dt_s >= _ZUPT_SETTLE_S and all(
            abs(g) < _ZUPT_MAX_RATE_RADPS for g in s.gyro_radps
        ):
            self._gyro.add(s.gyro_radps)
        b = self._gyro.bias
        g = s.gyro_radps
        self.dr.update(dataclasses.replace(s, gyro_radps=(g[0] - b[0], g[1] - b[1], g[2] - b[2])))
        self._last = s
        if self.observer is not None:
            self.observer(self)

    def hold(self, seconds: float) -> None:
        """Stand still for ``seconds`` (tools keep their targets)."""
        for _ in range(max(0, round(seconds / self.dt_s))):
            if self.out_of_time():
                return
            self.tick(STOP)

    def _timed_out(self, what: str, t_end: float) -> bool:
        if self.now_s < t_end:
            return False
        self.timeouts += 1
        log.warning("%s timed out at %.1f s (estimate %s)", what, self.now_s, self.pose)
        return True

    # ------------------------------------------------------------------- motions
    def tools_to(
        self, targets: dict[str, float], *, tolerance_rad: float = 0.03, timeout_s: float = 6.0
    ) -> None:
        """Set servo targets and wait, standing still, until the sensed positions arrive."""
        self.tools.update(targets)
        t_end = self.now_s + timeout_s
        while not self.out_of_time():
            pos = self._last.tool_positions_rad
            if all(abs(pos.get(k, math.inf) - v) <= tolerance_rad for k, v in targets.items()):
                return
            if self._timed_out(f"tools to {targets}", t_end):
                return
            self.tick(STOP)

    def dig(
        self, distance_m: float, speed_mps: float, yaw_rad: float, *, boom: str, carry_rad: float
    ) -> None:
        """A dig pass: :meth:`straight` with a pitch guard that raises ``boom`` (towards
        ``carry_rad``) when the chassis noses down by the margin, and again for every
        further half margin: the cut shallows before it can tip the rover. Each relief
        stands still a moment; a pass that ended pitched waits for the chassis to settle.

        The pitch is the gyro's pitch rate (body y: positive noses down) integrated over
        the pass, less the bias estimated at rest; over a pass of seconds that drifts by
        well under a milliradian, where the accelerometer's tilt shakes by a tenth of a
        radian on a chassis that is digging.
        """
        pitch = 0.0
        trip = _DIG_PITCH_MARGIN_RAD

        def guard() -> None:
            nonlocal pitch, trip
            pitch += (self._last.gyro_radps[1] - self._gyro.bias[1]) * self.dt_s
            if pitch <= trip:
                return
            # The next relief needs half a margin more: a chassis that settles pitched
            # (its front wheels in a dug lane) is not shallowed twice for the same pitch.
            trip = pitch + 0.5 * _DIG_PITCH_MARGIN_RAD
            now = self.tools[boom]
            up = math.copysign(_DIG_BOOM_RELIEF_RAD, carry_rad - now)
            raised = min(now + up, carry_rad) if up > 0 else max(now + up, carry_rad)
            if raised == now:
                return  # the boom is up already: nothing more to shallow
            self.tools[boom] = raised
            self.pitch_reliefs += 1
            log.info("dig pitched %.3f rad nose-down: boom up to %.2f rad", pitch, raised)
            self._settle(_DIG_RELIEF_INTERVAL_S)

        self.straight(distance_m, speed_mps, yaw_rad, guard=guard)
        if pitch > _DIG_PITCH_MARGIN_RAD:
            # Lifting a full bucket pitches the chassis further nose-down (the boom's
            # reaction): let it settle back on its rear wheels first.
            self._settle(_DIG_SETTLE_S)

    def _settle(self, seconds: float) -> None:
        for _ in range(round(seconds / self.dt_s)):
            if self.out_of_time():
                return
            self.tick(STOP)

    def straight(
        self,
        distance_m: float,
        speed_mps: float,
        yaw_rad: float,
        *,
        timeout_s: float = 30.0,
        guard: Callable[[], None] | None = None,
    ) -> None:
        """Drive ``distance_m`` along ``yaw_rad`` (negative: backwards), holding the
        heading; the distance is the estimated progress along the heading. ``guard`` is
        called after every control tick (it may change tool targets)."""
        start = self.pose
        ux, uy = math.cos(yaw_rad), math.sin(yaw_rad)
        sign = 1.0 if distance_m >= 0.0 else -1.0
        goal = abs(distance_m)
        drive = self.config.drive
        t_end = self.now_s + timeout_s
        v = 0.0
        while not self.out_of_time() and not self._timed_out("straight", t_end):
            p = self.pose
            done = sign * ((p.x_m - start.x_m) * ux + (p.y_m - start.y_m) * uy)
            left = goal - done
            if left <= 0.0:
                break
            target = min(speed_mps, max(0.02, math.sqrt(2.0 * drive.max_accel_mps2 * left)))
            step = drive.max_accel_mps2 * self.dt_s
            v = min(max(target, v - step), v + step)
            err = wrap_angle(yaw_rad - p.yaw_rad)
            w = max(-drive.max_yaw_rate_radps, min(drive.max_yaw_rate_radps, 2.0 * err))
            self.tick(DriveCommand(sign * v, w))
            if guard is not None:
                guard()
        self.hold(0.25)

    def turn_to(
        self,
        yaw_rad: float,
        *,
        tolerance_rad: float = 0.015,
        min_rate_radps: float = 0.2,
        timeout_s: float = 30.0,
    ) -> None:
        """Turn in place to ``yaw_rad`` on the estimated heading.

        The rate falls with the remaining angle down to ``min_rate_radps`` (a skid-steer
        barely turns when asked for less). A turn that stalls far from its goal (the
        heading turned less than a quarter of the command over 1.5 s, as when the
        wheels sit in their own ruts) stops, backs up 0.15 m along its heading, the ground
        it came over, and tries again, as :class:`~lunarsite.robot.control.waypoints.
        WaypointFollower`
        does.
        """
        if abs(wrap_angle(yaw_rad - self.pose.yaw_rad)) < _TURN_DEADBAND_RAD:
            return
        max_rate = self.config.drive.max_yaw_rate_radps
        t_end = self.now_s + timeout_s
        n = max(2, round(_STALL_WINDOW_S / self.dt_s))
        window: list[tuple[float, float]] = []
        pivot_from = self.pose
        while not self.out_of_time() and not self._timed_out("turn", t_end):
            err = wrap_angle(yaw_rad - self.pose.yaw_rad)
            if abs(err) < tolerance_rad:
                break
            w = math.copysign(min(max_rate, max(min_rate_radps, 1.5 * abs(err))), err)
            before = self.pose.yaw_rad
            self.tick(DriveCommand(0.0, w))
            window.append((w * self.dt_s, wrap_angle(self.pose.yaw_rad - before)))
            if len(window) < n:
                continue
            asked = sum(a for a, _ in window[-n:])
            turned = sum(t for _, t in window[-n:])
            if abs(err) > 0.3 and turned * math.copysign(1.0, asked) < 0.25 * abs(asked):
                self.turn_stalls += 1
                log.info("turn stalled at %s: backing up 0.15 m", self.pose)
                window.clear()
                self.hold(0.25)
                self._pivot_shift(pivot_from)
                self.straight(-0.15, 0.1, self.pose.yaw_rad, timeout_s=5.0)
                pivot_from = self.pose
        self.hold(0.25)
        self._pivot_shift(pivot_from)

    def fix_on_walls(self) -> bool:
        """Stand still, scan the walls and correct the estimate; False when there is no
        scanner or the scan does not pin the pose."""
        if self.scanner is None or self.site_size_m is None:
            return False
        self.hold(0.2)
        fixed = fit_walls(self.pose, self.scanner(), self.site_size_m)
        if fixed is None:
            log.info("wall fix failed at %s", self.pose)
            return False
        p = self.pose
        self.fix_corrections_m.append(math.hypot(fixed.x_m - p.x_m, fixed.y_m - p.y_m))
        self.fixes += 1
        self.dr.reset(fixed)
        return True

    def _pivot_shift(self, start: Pose2) -> None:
        """Move the estimate as a turn in place from ``start`` about a point
        :attr:`pivot_ahead_m` ahead of the chassis centre moves the chassis centre."""
        d = self.pivot_ahead_m
        if d == 0.0:
            return
        p = self.pose
        turned = wrap_angle(p.yaw_rad - start.yaw_rad)
        hx, hy = -d * math.cos(start.yaw_rad), -d * math.sin(start.yaw_rad)
        c, s = math.cos(turned), math.sin(turned)
        dx, dy = c * hx - s * hy - hx, s * hx + c * hy - hy
        self.dr.reset(Pose2(p.x_m + dx, p.y_m + dy, p.yaw_rad))


# ---------------------------------------------------------------------- the script
@dataclass
class ScriptState:
    """Progress of a run: what is being done, how many digs and dumps are finished."""

    phase: str = "start"
    digs: int = 0
    dumps: int = 0


def travel(
    pilot: Pilot,
    target_xy_m: tuple[float, float],
    heading_rad: float,
    *,
    speed_mps: float,
    back_speed_mps: float,
    tolerance_m: float = 0.03,
) -> None:
    """Go to ``target_xy_m`` and face ``heading_rad`` in straight legs on the estimate:
    face the heading, move sideways (a quarter turn, a straight run, a quarter turn back),
    then forwards or backwards along the heading.

    The two quarter turns of a sideways move are equal and opposite, made with the same
    load in the bucket: whatever the chassis slides unseen while pivoting (a skid-steer
    pivots about its more heavily loaded axle) the second turn mostly undoes. With a
    scanner, the pilot fixes its position on the walls before the last straight leg, and
    goes again if the fix moved it.
    """
    lateral = math.inf
    for _ in range(2):
        _travel_once(
            pilot, target_xy_m, heading_rad, speed_mps, back_speed_mps, tolerance_m, lateral
        )
        if not pilot.fix_on_walls():
            return
        # After a fix, a small sideways error is left alone (another pair of quarter turns
        # would slide as much); the error along the heading is driven out straight.
        lateral = _LATERAL_TOLERANCE_M
        p = pilot.pose
        across = -(target_xy_m[0] - p.x_m) * math.sin(heading_rad) + (
            target_xy_m[1] - p.y_m
        ) * math.cos(heading_rad)
        if abs(across) <= lateral:
            _travel_once(
                pilot, target_xy_m, heading_rad, speed_mps, back_speed_mps, tolerance_m, lateral
            )
            return


def _travel_once(
    pilot: Pilot,
    target_xy_m: tuple[float, float],
    heading_rad: float,
    speed_mps: float,
    back_speed_mps: float,
    tolerance_m: float,
    lateral_tolerance_m: float,
) -> None:
    pilot.turn_to(heading_rad)
    ux, uy = math.cos(heading_rad), math.sin(heading_rad)
    p = pilot.pose
    dx, dy = target_xy_m[0] - p.x_m, target_xy_m[1] - p.y_m
    across = -dx * uy + dy * ux
    if abs(across) > max(
        tolerance_m, lateral_tolerance_m if math.isfinite(lateral_tolerance_m) else 0.0
    ):
        side = wrap_angle(heading_rad + math.copysign(0.5 * math.pi, across))
        pilot.turn_to(side)
        pilot.straight(abs(across), speed_mps, side)
        pilot.turn_to(heading_rad)
    p = pilot.pose
    along = (target_xy_m[0] - p.x_m) * ux + (target_xy_m[1] - p.y_m) * uy
    if abs(along) > tolerance_m:
        pilot.straight(along, speed_mps if along > 0.0 else back_speed_mps, heading_rad)


def run_script(
    pilot: Pilot,
    plan: DigDumpPlan,
    *,
    cycles: int | None,
    state: ScriptState | None = None,
    on_cycle: Callable[[ScriptState], None] | None = None,
) -> ScriptState:
    """Dig, carry and dump until ``cycles`` are done or the pilot's deadline passes."""
    st = state or ScriptState()
    m = plan.mission
    tool = plan.tool
    boom, curl = tool.joints[0].name, tool.joints[1].name
    p = plan.poses
    carry = {boom: p.carry_boom_rad, curl: p.carry_curl_rad}
    cruise = m.cruise_speed_mps or plan.rover.drive.max_speed_mps
    back = min(0.15, cruise)
    st.phase = "calibrating"
    pilot.tools_to(carry)
    pilot.hold(2.0)  # stand still a moment: the gyro bias estimate starts here
    while not pilot.out_of_time() and (cycles is None or st.dumps < cycles):
        dig = plan.dig_pass(st.digs)
        st.phase = f"dig {st.digs + 1} (layer {dig.layer + 1}, lane {dig.lane + 1})"
        pilot.tools_to(carry)
        travel(pilot, dig.approach_xy_m, dig.heading_rad, speed_mps=cruise, back_speed_mps=back)
        pilot.straight(m.approach_m, back, dig.heading_rad)
        pilot.tools_to({boom: dig.boom_rad, curl: dig.curl_rad})
        pilot.dig(dig.length_m, m.dig_speed_mps, dig.heading_rad, boom=boom, carry_rad=carry[boom])
        # Back away from the cut face before the bucket moves: curling or lifting at the
        # face swings the edge forward through the soil, pulled down by the cut just as
        # the full bucket rises, which tipped the rover over its front axle. Drawn back
        # along its own trench the edge cuts nothing; then curl, then lift.
        pilot.straight(-_BACK_OUT_M, _LIFT_BACK_SPEED_MPS, dig.heading_rad)
        pilot.tools_to({curl: carry[curl]})
        pilot.tools_to(carry)
        pilot.pivot_ahead_m = p.loaded_pivot_ahead_m
        pilot.straight(-(dig.length_m + m.approach_m), back, dig.heading_rad)
        if pilot.out_of_time():
            break
        st.digs += 1
        spot = plan.dump_spot(st.dumps)
        st.phase = f"dump {st.dumps + 1} (lane {spot.lane + 1})"
        travel(pilot, spot.approach_xy_m, spot.heading_rad, speed_mps=cruise, back_speed_mps=back)
        pilot.straight(m.approach_m, back, spot.heading_rad)
        pilot.tools_to({boom: p.dump_boom_rad, curl: p.dump_curl_rad})
        pilot.hold(2.0)  # the load pours out
        pilot.tools_to(carry)
        pilot.pivot_ahead_m = 0.0
        pilot.straight(-m.approach_m, back, spot.heading_rad)
        if pilot.out_of_time():
            break
        st.dumps += 1
        if on_cycle is not None:
            on_cycle(st)
    st.phase = "done"
    return st
