"""What the motions of a scripted task share: the estimate, the tool targets, counters.

:class:`Pilot` is updated once per tick by its task (:meth:`Pilot.sense`) before any
motion skill (:mod:`.motions`) decides: the pose the motions steer by is dead reckoning
whose gyro bias is re-estimated at every standstill
(:class:`~lunarsite.robot.perception.gyro_bias.ZuptDeadReckoning`); turns in place with a
full bucket move the estimate round the pivot they are known to swing about
(:meth:`Pilot.pivot_shift`); a wall fix resets it (:meth:`Pilot.apply_fix`). The servo
targets are held here and sent with every command, so a motion that moves the wheels
keeps the tools where the last tool move put them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from ..config import RoverConfig
from ..executive.skill import Running
from ..perception.estimation import tilt_from_gravity
from ..perception.gyro_bias import ZuptDeadReckoning
from ..types import STOP, DriveCommand, Pose2, RoverCommand, SensedState, wrap_angle

__all__ = ["Pilot", "load_pivot_ahead_m"]

log = logging.getLogger(__name__)

SLIP_MIN_TRAVEL_M = 0.5
"""Dead reckoning must put the rover this far from the last position fix for the next fix
to judge slip, in m (a way out and back again nets nothing, and judges nothing)."""
SLIP_SHARE = 0.2
"""A rover whose fix moved less than this share of what dead reckoning says it moved
since the last fix has slipped (wheels spinning, chassis held: high-centred on a cut
edge, sunk in loose fill)."""
STUCK_FIXES = 3
"""Slipped legs in a row that make a rover stuck (:attr:`Pilot.stuck`)."""
FIX_SLACK_M = 0.5
"""How far from where it was last fixed a rover that has not driven may be, in m (the
fix's own error, a slide at rest; :meth:`Pilot.fix_bound`)."""
TURN_REACH_M_PER_RAD = 0.3
"""How far a turn in place may carry the chassis centre per radian turned, in m: it
swings round a pivot the load moves (a paver held 1 m ahead moved the placer 0.7 m in a
2.3 rad turn), and a turn on a crater's wall slides it downhill."""


class Pilot:
    """The shared state of scripted motions (see the module docstring).

    Args:
        config: the rover file (geometry for odometry, limits for the motions).
        start: the pose the rover starts from, in the site frame.
        control_hz: the loop's rate, in Hz.
    """

    def __init__(self, config: RoverConfig, start: Pose2, *, control_hz: float) -> None:
        self.config = config
        self.dt_s = 1.0 / control_hz
        self.odometry = ZuptDeadReckoning(config, start, dt_s=self.dt_s)
        self.tools: dict[str, float] = {}
        """Servo targets held, by joint name, in rad."""
        self.drive = STOP
        """The last drive command given."""
        self.turn_stalls = 0
        self.timeouts = 0
        self.pitch_reliefs = 0
        """Times a dig pass raised its boom because the chassis pitched nose-down."""
        self.fixes = 0
        self.fix_corrections_m: list[float] = []
        """Distance each position fix moved the estimate, in m (how far it had drifted)."""
        self.pivot_ahead_m = 0.0
        """Where turns in place pivot, ahead of the chassis centre, in m (the task sets it
        from the load it believes the bucket holds). The encoders of a pivot, equal and
        opposite, see nothing of the chassis centre swinging round that point; the
        estimate moves it there."""
        self.keep_out: Callable[[float, float], bool] | None = None
        """Where the chassis centre must not go, if the task knows (a trench, fresh fill);
        the turn in place's moves off a stalled spot ask it."""
        self.accel_bias_mps2: tuple[float, float, float] | None = None
        """The accelerometer's bias once a task has found it
        (:func:`~lunarsite.robot.control.level.level_pilot`); until then None, and
        the tilt at rest is not known well enough to level a wall fix's scan by (at lunar
        gravity a 0.01 m/s² bias is 6 mrad of tilt)."""
        self.slips = 0
        """Fixes that found the rover less than :data:`SLIP_SHARE` of the way dead
        reckoning had it move (at least :data:`SLIP_MIN_TRAVEL_M`) from the last fix."""
        self.slips_in_a_row = 0
        self._last_fix: Pose2 | None = None
        self._anchor = start
        self._reach_m = 0.0

    @property
    def stuck(self) -> bool:
        """Whether the last :data:`STUCK_FIXES` legs all slipped: the wheels turn and the
        rover stays where it is."""
        return self.slips_in_a_row >= STUCK_FIXES

    @property
    def pose(self) -> Pose2:
        """The estimated pose, in the site frame."""
        return self.odometry.pose

    @property
    def sensed(self) -> SensedState:
        """The latest reading."""
        last = self.odometry.last
        assert last is not None, "Pilot.sense has not been called yet"
        return last

    def tilt_at_rest_rad(
        self, accel_mps2: tuple[float, float, float]
    ) -> tuple[float, float] | None:
        """(roll, pitch) of the chassis standing still, from a (mean) accelerometer
        reading less its calibrated bias; None while the bias is unknown."""
        if self.accel_bias_mps2 is None:
            return None
        bx, by, bz = self.accel_bias_mps2
        ax, ay, az = accel_mps2
        return tilt_from_gravity((ax - bx, ay - by, az - bz))

    @property
    def gyro_bias_radps(self) -> tuple[float, float, float]:
        return self.odometry.bias_radps

    def pitch_step_rad(self, sensed: SensedState) -> float:
        """How far the chassis pitched (nose-down positive) over this tick, from the gyro's
        pitch rate less its bias estimated at rest, in rad."""
        return (sensed.gyro_radps[1] - self.gyro_bias_radps[1]) * self.dt_s

    def sense(self, sensed: SensedState) -> None:
        """Fold in this tick's reading (once per tick, before the motions decide)."""
        before = self.odometry.pose
        self.odometry.update(sensed, stopped=self.drive == STOP)
        self._reach(before, self.odometry.pose)

    def fix_bound(self) -> tuple[float, float, float]:
        """Where the rover can be at all: (x, y, radius in m) round where it was last fixed
        (or started). The wheels cannot carry it further than they turned, so the radius
        is the estimate's path since that fix, turns in place counted at
        :data:`TURN_REACH_M_PER_RAD`, plus :data:`FIX_SLACK_M`; slip only shortens the
        true path. A wall search looks for the rover there and nowhere else."""
        return self._anchor.x_m, self._anchor.y_m, FIX_SLACK_M + self._reach_m

    def _reach(self, before: Pose2, after: Pose2) -> None:
        self._reach_m += math.hypot(
            after.x_m - before.x_m, after.y_m - before.y_m
        ) + TURN_REACH_M_PER_RAD * abs(wrap_angle(after.yaw_rad - before.yaw_rad))

    def command(self, drive: DriveCommand) -> Running:
        """This tick's command: ``drive`` with the held tool targets."""
        self.drive = drive
        return Running(RoverCommand(drive, dict(self.tools)))

    def timed_out(self, what: str) -> None:
        self.timeouts += 1
        log.warning("%s timed out (estimate %s)", what, self.pose)

    def apply_fix(self, fixed: Pose2) -> None:
        """Set the estimate to an absolute fix, keeping count of the corrections."""
        p = self.pose
        self.fix_corrections_m.append(math.hypot(fixed.x_m - p.x_m, fixed.y_m - p.y_m))
        self.fixes += 1
        last = self._last_fix
        if last is not None:
            counted = math.hypot(p.x_m - last.x_m, p.y_m - last.y_m)
            if counted >= SLIP_MIN_TRAVEL_M:
                moved = math.hypot(fixed.x_m - last.x_m, fixed.y_m - last.y_m)
                if moved < SLIP_SHARE * counted:
                    self.slips += 1
                    self.slips_in_a_row += 1
                    log.warning(
                        "slip: dead reckoning put the rover %.2f m from the last fix, the "
                        "fixes %.2f m (%d in a row)",
                        counted,
                        moved,
                        self.slips_in_a_row,
                    )
                else:
                    self.slips_in_a_row = 0
        self._last_fix = self._anchor = fixed
        self._reach_m = 0.0
        self.odometry.reset(fixed)

    def pivot_shift(self, start: Pose2) -> None:
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
        shifted = Pose2(p.x_m + dx, p.y_m + dy, p.yaw_rad)
        self._reach(p, shifted)
        self.odometry.reset(shifted)


def load_pivot_ahead_m(empty_m: float, per_kg_m: float, max_m: float, load_kg: float) -> float:
    """Where a skid-steer's turn in place pivots with ``load_kg`` held ahead, in m ahead of
    the chassis centre: ``empty_m`` with nothing held, ``per_kg_m`` further ahead per kg
    (it pivots about its more heavily loaded axle), no farther ahead than ``max_m``."""
    return min(empty_m + per_kg_m * max(load_kg, 0.0), max_m)
