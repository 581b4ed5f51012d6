"""A clamp on a mast: the placement rover's tool, built from its rover-file entry.

The carriage rides a prismatic joint up the mast (the chassis' z) from ``mount_xyz_m``;
two jaw pads ride prismatic joints across it (the tool's y), each closing from
``width_m / 2`` off the tool's centre line. Both servos drive their joints through racks
and pinions (:class:`~lunarsite.sim.body.ServoJoint` with a scale in m/rad), so a pad
pushes with the squeeze servo's torque over the pinion, and a unit between the pads is
held by the friction of that push (``pad_friction``).

PyBullet's friction at a few box-box contact points creeps under a held unit's weight
and lets it twist in a turn (a paver turned in the jaws, a habitat pitched 0.16 rad), so
:class:`GraspLatch` stands in for static friction while, and only while, a real grasp
holds: both jaw motors squeeze and both pads press on the same unit, each with at least
:data:`GRASP_MIN_SHARE` of the squeeze force. It then fixes the unit to the carriage
where it is (no teleport), the fix's force limited to what the pads' friction can hold
(2·μ·N, so a unit too heavy for the squeeze still slips out), and lets go as soon as a
pad stops pressing (the jaws open).

When it lets go, the pads' contacts with the unit are made afresh: PyBullet keeps a
contact point while the two bodies barely move against each other, with the normal it had
when it was made, and a point made with its normal reversed during a long squeeze went on
pushing the unit *towards* its pad as the pad opened. On paver_road a paver set down
within 5 mm of its stand followed the opening pad 3.6 cm sideways (seed 0, its first
set-down; the pad's contact at 8–11 N, normal +y, on the pad on the unit's −y side).
The pads and the unit are kept from colliding for the one physics step after the latch
lets go (the pads are driving open then, away from the unit), which drops the old
points; the next step finds the contacts there really are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import pybullet as pb

from lunarsite.robot.config import ToolConfig

from .body import BodyBuilder, ServoJoint

__all__ = ["CARRIAGE_MASS_SHARE", "GRASP_MIN_SHARE", "GraspLatch", "add_clamp", "set_pad_friction"]

log = logging.getLogger(__name__)

CARRIAGE_MASS_SHARE = 0.5
"""Share of the tool's mass in its carriage; the two jaws carry the rest equally."""
GRASP_MIN_SHARE = 0.5
"""A grasp holds while each pad presses on the unit with at least this share of the
squeeze servo's force."""


def add_clamp(
    b: BodyBuilder, tool: ToolConfig, rgba: tuple[float, ...]
) -> tuple[list[ServoJoint], list[int]]:
    """Add a clamp's carriage and jaws to ``b``; returns its two servos (lift, squeeze)
    and the jaw pads' link indices (their friction is set once the body exists)."""
    assert tool.pinion_radius_m is not None
    r = tool.pinion_radius_m
    mx, my, mz = tool.mount_xyz_m
    yaw = tool.mount_yaw_rad
    L, w, d, h = tool.arm_length_m, tool.width_m, tool.depth_m, tool.height_m
    bar = tool.pad_thickness_m
    # The carriage: a cross-bar just behind the mount, behind whatever the jaws hold (a
    # carton clamp's: a unit's near face must be ahead of the mount).
    carriage = b.add(
        mass=CARRIAGE_MASS_SHARE * tool.mass_kg,
        shapes=b.boxes([((bar / 2, w / 2 + bar, bar / 2), (-bar / 2, 0.0, -bar / 2))], rgba),
        parent=0,
        position=(mx, my, mz),
        yaw=yaw,
        joint=pb.JOINT_PRISMATIC,
        axis=(0.0, 0.0, 1.0),
        com=(-bar / 2, 0.0, -bar / 2),
    )
    lift, squeeze = tool.joints
    jaw_mass = 0.5 * (1.0 - CARRIAGE_MASS_SHARE) * tool.mass_kg
    arm_half = max(0.5 * (L - d / 2), 0.005)
    pads: list[int] = []
    jaws: list[tuple[int, float]] = []
    for side in (1.0, -1.0):
        # Each jaw: an arm forward from the cross-bar along the top, and a pad whose inner
        # face is side·w/2 off the centre line when open; the joint closes it inwards.
        parts = [
            ((d / 2, bar / 2, h / 2), (0.0, side * bar / 2, -h / 2)),
            ((arm_half, bar / 2, bar / 2), (-d / 2 - arm_half, side * bar / 2, -bar / 2)),
        ]
        pad = b.add(
            mass=jaw_mass,
            shapes=b.boxes(parts, rgba),
            parent=carriage + 1,
            position=(L, side * w / 2, 0.0),
            joint=pb.JOINT_PRISMATIC,
            axis=(0.0, -side, 0.0),
            com=(0.0, side * bar / 2, -h / 2),
        )
        pads.append(pad)
        jaws.append((pad, r))
    servos = [
        ServoJoint(
            lift.name,
            ((carriage, r),),
            lift.lower_rad,
            lift.upper_rad,
            lift.max_speed_radps,
            lift.max_torque_nm,
            offset_rad=lift.lower_rad,
        ),
        ServoJoint(
            squeeze.name,
            tuple(jaws),
            squeeze.lower_rad,
            squeeze.upper_rad,
            squeeze.max_speed_radps,
            squeeze.max_torque_nm,
            offset_rad=squeeze.lower_rad,
        ),
    ]
    return servos, pads


def set_pad_friction(client: Any, body: int, tool: ToolConfig, pads: tuple[int, int]) -> None:
    """The pads' friction on what they grip (``pad_friction``), and their resistance to
    twisting over their area: for pressure spread evenly over a disc of radius a the
    moment is (2/3)·μ·N·a (PyBullet's spinning friction is that moment per newton
    pressed), a half the pad's smaller side."""
    friction = tool.pad_friction or 0.0
    spin = 2.0 / 3.0 * friction * 0.5 * min(tool.depth_m, tool.height_m)
    for pad in pads:
        client.changeDynamics(body, pad, lateralFriction=friction, spinningFriction=spin)


class GraspLatch:
    """Static friction for one clamp's grasp (see the module docstring); call
    :meth:`update` after physics steps."""

    def __init__(
        self,
        client: Any,
        body: int,
        carriage: int,
        pads: tuple[int, int],
        squeeze_n: float,
        friction: float,
        units: Callable[[], Iterable[int]],
    ) -> None:
        self.c, self.body, self.carriage, self.pads = client, body, carriage, pads
        self.min_n = GRASP_MIN_SHARE * squeeze_n
        self.friction = friction
        self.units = units
        self.held: int | None = None
        """The unit body held now, or None."""
        self._constraint: int | None = None
        self._fresh_contacts: int | None = None
        """A unit just let go, whose contacts with the pads are made afresh next step."""

    def _pressing(self) -> dict[int, tuple[float, float]]:
        """Normal force of each pad on each unit body it touches: body → (pad 0, pad 1)."""
        bodies = set(self.units())
        out: dict[int, list[float]] = {}
        for k, pad in enumerate(self.pads):
            for cp in self.c.getContactPoints(bodyA=self.body, linkIndexA=pad):
                other = int(cp[2])
                if other in bodies:
                    out.setdefault(other, [0.0, 0.0])[k] += float(cp[9])
        return {b: (f[0], f[1]) for b, f in out.items()}

    @classmethod
    def of_clamp(
        cls,
        client: Any,
        body: int,
        tool: ToolConfig,
        carriage: int,
        pads: tuple[int, int],
        units: Callable[[], Iterable[int]],
    ) -> GraspLatch:
        """The latch of a clamp built from ``tool`` (its squeeze servo's force over the
        pinion, its pads' friction)."""
        squeeze_n = tool.joints[1].max_torque_nm / (tool.pinion_radius_m or 1.0)
        return cls(client, body, carriage, pads, squeeze_n, tool.pad_friction or 0.0, units)

    def _squeeze_n(self) -> float:
        """The weaker jaw motor's inward force now, in N (negative: driving open)."""
        states = self.c.getJointStates(self.body, list(self.pads))
        return min(float(st[3]) for st in states)

    def update(self) -> None:
        if self._fresh_contacts is not None:
            self._pads_collide(self._fresh_contacts, True)
            self._fresh_contacts = None
        squeeze = self._squeeze_n()
        # A motor driving its jaw open ends the grasp whatever the contacts say.
        pressing = self._pressing() if squeeze >= self.min_n else {}
        if self.held is not None:
            f = pressing.get(self.held, (0.0, 0.0))
            if min(f) >= self.min_n:
                # What the pads' friction holds now: 2·μ·N, N the motors' steady
                # squeeze (the contacts' normal force jumps as the jaws strike).
                self.c.changeConstraint(self._constraint, maxForce=2.0 * self.friction * squeeze)
                return
            log.debug("grasp of body %d let go (pads pressing %.0f, %.0f N)", self.held, *f)
            self.c.removeConstraint(self._constraint)
            self._pads_collide(self.held, False)
            self._fresh_contacts = self.held
            self.held, self._constraint = None, None
            return
        for unit, f in pressing.items():
            if min(f) >= self.min_n:
                self._latch(unit, squeeze)
                return

    def _pads_collide(self, unit: int, enable: bool) -> None:
        for pad in self.pads:
            self.c.setCollisionFilterPair(self.body, unit, pad, -1, int(enable))

    def _latch(self, unit: int, squeeze_n: float) -> None:
        c = self.c
        # PyBullet places a constraint's frames in each body's centre-of-mass frame.
        link = c.getLinkState(self.body, self.carriage, computeForwardKinematics=True)
        lpos, lorn = link[0], link[1]
        upos, uorn = c.getBasePositionAndOrientation(unit)
        inv_pos, inv_orn = c.invertTransform(lpos, lorn)
        rel_pos, rel_orn = c.multiplyTransforms(inv_pos, inv_orn, upos, uorn)
        self._constraint = int(
            c.createConstraint(
                self.body,
                self.carriage,
                unit,
                -1,
                pb.JOINT_FIXED,
                [0.0, 0.0, 0.0],
                rel_pos,
                [0.0, 0.0, 0.0],
                rel_orn,
                [0.0, 0.0, 0.0, 1.0],
            )
        )
        c.changeConstraint(self._constraint, maxForce=2.0 * self.friction * squeeze_n)
        self.held = unit
        log.debug("grasp of body %d holds (jaws squeezing %.0f N)", unit, squeeze_n)
