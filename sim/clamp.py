"""A clamp on a mast: the placement rover's tool, built from its rover-file entry.

The carriage rides a prismatic joint up the mast (the chassis' z) from ``mount_xyz_m``;
two jaw pads ride prismatic joints across it (the tool's y), each closing from
``width_m / 2`` off the tool's centre line. Both servos drive their joints through racks
and pinions (:class:`~lunarsite.sim.body.ServoJoint` with a scale in m/rad), so a pad
pushes with the squeeze servo's torque over the pinion, and a unit between the pads is
held only by the friction of that push (``pad_friction``): nothing attaches it.
"""

from __future__ import annotations

import pybullet as pb

from lunarsite.robot.config import ToolConfig

from .body import BodyBuilder, ServoJoint

__all__ = ["CARRIAGE_MASS_SHARE", "add_clamp"]

CARRIAGE_MASS_SHARE = 0.5
"""Share of the tool's mass in its carriage; the two jaws carry the rest equally."""


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
    bar = max(0.01, 0.05 * w)
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
