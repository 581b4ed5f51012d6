"""Building a rover's multibody: links collected for one ``createMultiBody`` call, and the
servos that drive its tool joints.

A :class:`ServoJoint` maps a servo's angle (rad, what the controller commands and reads)
onto one or more PyBullet joints: a revolute joint turns with it (scale ±1), a prismatic
joint driven through a rack and pinion moves ``scale`` metres per rad above
``offset_rad``, and takes the servo's torque over the pinion as its force.
"""

from __future__ import annotations

from dataclasses import dataclass

import pybullet as pb

__all__ = ["BodyBuilder", "ServoJoint"]


@dataclass(frozen=True, slots=True)
class ServoJoint:
    """One commanded servo and the PyBullet joints it drives, each with its scale: ±1
    for a revolute joint (the sign mirrors a jaw), ± m/rad for a prismatic one."""

    name: str
    joints: tuple[tuple[int, float], ...]
    lower_rad: float
    upper_rad: float
    max_speed_radps: float
    max_torque_nm: float
    offset_rad: float = 0.0
    """The servo angle at which its joints stand at 0."""

    def joint_position(self, scale: float, angle_rad: float) -> float:
        """A driven joint's position at a servo angle (rad, or m for a prismatic one)."""
        return scale * (angle_rad - self.offset_rad)

    def angle_rad(self, position: float) -> float:
        """The servo angle that puts its first joint at ``position``."""
        return position / self.joints[0][1] + self.offset_rad

    def force(self, scale: float) -> float:
        """The joint's motor limit: the servo's torque, over the pinion where prismatic."""
        return self.max_torque_nm / abs(scale)

    def speed(self, scale: float) -> float:
        return self.max_speed_radps * abs(scale)


class BodyBuilder:
    """Collects links for one ``createMultiBody`` call."""

    def __init__(self, client: object) -> None:
        self.c = client
        self.masses: list[float] = []
        self.cols: list[int] = []
        self.viss: list[int] = []
        self.pos: list[list[float]] = []
        self.orn: list[list[float]] = []
        self.inertial_pos: list[list[float]] = []
        self.parents: list[int] = []
        self.types: list[int] = []
        self.axes: list[list[float]] = []

    def boxes(
        self,
        parts: list[tuple[tuple[float, float, float], tuple[float, float, float]]],
        rgba: tuple[float, ...],
    ) -> tuple[int, int]:
        """A compound of boxes given as (half extents, centre) pairs."""
        c = self.c
        half = [list(h) for h, _ in parts]
        centres = [list(p) for _, p in parts]
        col = c.createCollisionShapeArray(  # type: ignore[attr-defined]
            shapeTypes=[pb.GEOM_BOX] * len(parts), halfExtents=half, collisionFramePositions=centres
        )
        vis = c.createVisualShapeArray(  # type: ignore[attr-defined]
            shapeTypes=[pb.GEOM_BOX] * len(parts),
            halfExtents=half,
            visualFramePositions=centres,
            rgbaColors=[list(rgba)] * len(parts),
        )
        return int(col), int(vis)

    def add(
        self,
        *,
        mass: float,
        shapes: tuple[int, int],
        parent: int,
        position: tuple[float, float, float],
        yaw: float = 0.0,
        joint: int,
        axis: tuple[float, float, float] = (0.0, 0.0, 0.0),
        com: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> int:
        """Add a link; returns its link index (PyBullet joint index)."""
        self.masses.append(mass)
        self.cols.append(shapes[0])
        self.viss.append(shapes[1])
        self.pos.append(list(position))
        self.orn.append(list(pb.getQuaternionFromEuler([0.0, 0.0, yaw])))
        self.inertial_pos.append(list(com))
        self.parents.append(parent)
        self.types.append(joint)
        self.axes.append(list(axis))
        return len(self.masses) - 1
