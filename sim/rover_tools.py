"""A rover's tools in its multibody: scoops, buckets and grippers on servo joints.

:class:`RoverTools` adds each tool of the rover file to a :class:`~.body.BodyBuilder`
(a clamp through :func:`~.clamp.add_clamp`) and collects the servos that drive them, the
clamps, and each scoop or bucket's cutting edge as a :class:`ToolLink` for the soil model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pybullet as pb

from lunarsite.robot.config import ToolConfig

from .body import BodyBuilder, ServoJoint
from .clamp import add_clamp

__all__ = ["RoverTools", "ToolLink"]

TOOL_RGBA = (0.7, 0.7, 0.75, 1.0)


@dataclass(frozen=True, slots=True)
class ToolLink:
    """Where a scoop or bucket is in the multibody, for the soil model.

    ``link`` carries the open box; ``edge_local_m`` holds the two ends of its cutting edge
    (the front of the floor) and ``forward_local`` the direction its opening faces, both in
    that link's frame (PyBullet's link frame, ``getLinkState(...)[4:6]``).
    """

    name: str
    kind: str
    link: int
    edge_local_m: tuple[tuple[float, float, float], tuple[float, float, float]]
    forward_local: tuple[float, float, float]
    link_mass_kg: float
    capacity_m3: float


@dataclass(slots=True)
class RoverTools:
    """A rover's tools: their servos, clamps and scoops, collected as their links are added."""

    servos: dict[str, ServoJoint] = field(default_factory=dict)
    clamps: list[tuple[ToolConfig, int, tuple[int, int]]] = field(default_factory=list)
    """Clamps: the tool, its carriage link, its two pad links."""
    links: dict[str, ToolLink] = field(default_factory=dict)
    """Scoops and buckets by tool name."""

    def add(self, b: BodyBuilder, tool: ToolConfig) -> None:
        """Add ``tool``'s links to ``b`` and record its servos, and its clamp or cutting edge."""
        mx, my, mz = tool.mount_xyz_m
        yaw = tool.mount_yaw_rad
        L, w, d, h = tool.arm_length_m, tool.width_m, tool.depth_m, tool.height_m
        bar = max(0.01, 0.12 * w)
        if tool.kind == "clamp":
            servos, pads = add_clamp(b, tool, TOOL_RGBA)
            self.servos.update((sv.name, sv) for sv in servos)
            self.clamps.append((tool, servos[0].joints[0][0], (pads[0], pads[1])))
            return
        if tool.kind == "gripper":
            jaw = tool.joints[0]
            finger = b.boxes([((L / 2, bar / 2, h / 2), (L / 2, 0.0, 0.0))], TOOL_RGBA)
            joints = []
            for side in (1.0, -1.0):
                off_x, off_y = -math.sin(yaw) * side * w / 2, math.cos(yaw) * side * w / 2
                idx = b.add(
                    mass=tool.mass_kg / 2,
                    shapes=finger,
                    parent=0,
                    position=(mx + off_x, my + off_y, mz),
                    yaw=yaw,
                    joint=pb.JOINT_REVOLUTE,
                    axis=(0.0, 0.0, 1.0),
                    com=(L / 2, 0.0, 0.0),
                )
                joints.append((idx, side))
            self.servos[jaw.name] = ServoJoint(
                jaw.name,
                tuple(joints),
                jaw.lower_rad,
                jaw.upper_rad,
                jaw.max_speed_radps,
                jaw.max_torque_nm,
            )
            return
        # Scoop or bucket: an open box (floor, back wall, two sides) at the end of an arm.
        t = max(0.004, 0.05 * d)
        box = [
            ((d / 2, w / 2, t / 2), (d / 2, 0.0, -h / 2 + t / 2)),  # floor, cutting edge at +x
            ((t / 2, w / 2, h / 2), (t / 2, 0.0, 0.0)),  # back wall
            ((d / 2, t / 2, h / 2), (d / 2, w / 2 - t / 2, 0.0)),  # sides
            ((d / 2, t / 2, h / 2), (d / 2, -w / 2 + t / 2, 0.0)),
        ]
        lift = tool.joints[0]
        arm_mass = tool.mass_kg * (0.6 if len(tool.joints) == 2 else 1.0)
        if len(tool.joints) == 1:
            # A scoop fixed at the end of its arm: one link carries both.
            parts = [((L / 2, bar / 2, bar / 2), (L / 2, 0.0, 0.0))]
            parts += [(he, (cx + L, cy, cz)) for he, (cx, cy, cz) in box]
            arm = b.add(
                mass=arm_mass,
                shapes=b.boxes(parts, TOOL_RGBA),
                parent=0,
                position=(mx, my, mz),
                yaw=yaw,
                joint=pb.JOINT_REVOLUTE,
                axis=(0.0, -1.0, 0.0),
                com=(L + d / 2, 0.0, -h / 4),
            )
            self.servos[lift.name] = ServoJoint(
                lift.name,
                ((arm, 1.0),),
                lift.lower_rad,
                lift.upper_rad,
                lift.max_speed_radps,
                lift.max_torque_nm,
            )
            self._add_link(tool, arm, L + d, arm_mass)
            return
        curl = tool.joints[1]
        arm = b.add(
            mass=arm_mass,
            shapes=b.boxes([((L / 2, bar / 2, bar / 2), (L / 2, 0.0, 0.0))], TOOL_RGBA),
            parent=0,
            position=(mx, my, mz),
            yaw=yaw,
            joint=pb.JOINT_REVOLUTE,
            axis=(0.0, -1.0, 0.0),
            com=(L / 2, 0.0, 0.0),
        )
        bucket = b.add(
            mass=tool.mass_kg - arm_mass,
            shapes=b.boxes(box, TOOL_RGBA),
            parent=arm + 1,
            position=(L, 0.0, 0.0),
            joint=pb.JOINT_REVOLUTE,
            axis=(0.0, -1.0, 0.0),
            com=(d / 2, 0.0, -h / 4),
        )
        self._add_link(tool, bucket, d, tool.mass_kg - arm_mass)
        for joint_cfg, idx in ((lift, arm), (curl, bucket)):
            self.servos[joint_cfg.name] = ServoJoint(
                joint_cfg.name,
                ((idx, 1.0),),
                joint_cfg.lower_rad,
                joint_cfg.upper_rad,
                joint_cfg.max_speed_radps,
                joint_cfg.max_torque_nm,
            )

    def _add_link(self, tool: ToolConfig, link: int, edge_x_m: float, mass_kg: float) -> None:
        """Record a scoop or bucket's cutting edge: the front of its floor, ``edge_x_m``
        ahead of the link origin, ``height_m / 2`` below it."""
        z = -tool.height_m / 2
        half = tool.width_m / 2
        self.links[tool.name] = ToolLink(
            name=tool.name,
            kind=tool.kind,
            link=link,
            edge_local_m=((edge_x_m, half, z), (edge_x_m, -half, z)),
            forward_local=(1.0, 0.0, 0.0),
            link_mass_kg=mass_kg,
            capacity_m3=tool.capacity_m3,
        )
