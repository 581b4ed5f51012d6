"""A rover's PyBullet multibody, built from its rover file.

:func:`build_rover_body` makes the chassis box, the four wheels on revolute joints (each
on a sprung strut where the file gives the wheels a suspension) and the tools on their
servo joints, sets their friction and damping, starts the suspension's springs and
returns what :class:`~.rover.SimRover` drives (:class:`RoverBody`). The tools' links come
from :mod:`.rover_tools`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from lunarsite.robot.config import RoverConfig, ToolConfig
from lunarsite.robot.types import Pose2

from .body import BodyBuilder, ServoJoint
from .clamp import set_pad_friction
from .rover_tools import RoverTools, ToolLink

if TYPE_CHECKING:
    from .world import LunarWorld

__all__ = ["RoverBody", "build_rover_body"]

CHASSIS_RGBA = (0.85, 0.78, 0.35, 1.0)
WHEEL_RGBA = (0.15, 0.15, 0.15, 1.0)


SUSPENSION_STRUT_MASS_KG = 0.3
"""Mass of a suspension strut (hub and arm), taken from the wheel's mass, in kg."""


@dataclass(frozen=True, slots=True)
class RoverBody:
    """A built rover: its PyBullet body and the link indices that drive and sense it."""

    body: int
    left_wheels: list[int]
    right_wheels: list[int]
    struts: list[int]
    """Suspension struts' prismatic joints (front-left, front-right, rear-left,
    rear-right), or none."""
    servos: dict[str, ServoJoint]
    clamps: list[tuple[ToolConfig, int, tuple[int, int]]]
    """Clamps: the tool, its carriage link, its two pad links."""
    tool_links: dict[str, ToolLink]
    """Scoops and buckets by tool name."""
    strut_preloads_n: tuple[float, ...]
    """Spring preload of each strut at rest, in N (in :attr:`struts`' order)."""


def build_rover_body(world: LunarWorld, config: RoverConfig, start: Pose2) -> RoverBody:
    """Build the rover of ``config`` standing just above the ground at ``start``.

    Its wheel motors are left free and its servos at home (not yet driven); with a
    suspension, the struts' spring forces are applied now and after every physics step.
    """
    cfg = config
    c = world.client
    ch, wh = cfg.chassis, cfg.wheels
    struts: list[int] = []
    left_wheels: list[int] = []
    right_wheels: list[int] = []
    tools = RoverTools()
    b = BodyBuilder(c)
    chassis = b.boxes(
        [((ch.length_m / 2, ch.width_m / 2, ch.height_m / 2), (0.0, 0.0, 0.0))], CHASSIS_RGBA
    )
    wheel_col = c.createCollisionShape(
        pb.GEOM_CYLINDER,
        radius=wh.radius_m,
        height=wh.width_m,
        collisionFrameOrientation=pb.getQuaternionFromEuler([math.pi / 2, 0.0, 0.0]),
    )
    wheel_vis = c.createVisualShape(
        pb.GEOM_CYLINDER,
        radius=wh.radius_m,
        length=wh.width_m,
        rgbaColor=list(WHEEL_RGBA),
        visualFrameOrientation=pb.getQuaternionFromEuler([math.pi / 2, 0.0, 0.0]),
    )
    for sx in (1.0, -1.0):
        for sy in (1.0, -1.0):
            hub = (sx * wh.wheelbase_m / 2, sy * wh.track_m / 2, -ch.axle_drop_m)
            parent, wheel_mass_kg = 0, wh.mass_kg
            if wh.suspension_stiffness_npm is not None:
                # The strut's mass comes out of the wheel's, so the rover weighs
                # what its file says.
                wheel_mass_kg = max(wh.mass_kg - SUSPENSION_STRUT_MASS_KG, 0.5 * wh.mass_kg)
                strut = b.add(
                    mass=wh.mass_kg - wheel_mass_kg,
                    shapes=(-1, -1),
                    parent=0,
                    position=hub,
                    joint=pb.JOINT_PRISMATIC,
                    axis=(0.0, 0.0, 1.0),
                )
                struts.append(strut)
                parent, hub = strut + 1, (0.0, 0.0, 0.0)  # parents count the base as 0
            idx = b.add(
                mass=wheel_mass_kg,
                shapes=(wheel_col, wheel_vis),
                parent=parent,
                position=hub,
                joint=pb.JOINT_REVOLUTE,
                axis=(0.0, 1.0, 0.0),
            )
            (left_wheels if sy > 0 else right_wheels).append(idx)
    for tool in cfg.tools:
        tools.add(b, tool)

    ground = _ground_under_footprint(world, cfg, start)
    z0 = ground + ch.axle_drop_m + wh.radius_m + 0.01
    body = int(
        c.createMultiBody(
            baseMass=ch.mass_kg,
            baseCollisionShapeIndex=chassis[0],
            baseVisualShapeIndex=chassis[1],
            basePosition=[start.x_m, start.y_m, z0],
            baseOrientation=pb.getQuaternionFromEuler([0.0, 0.0, start.yaw_rad]),
            baseInertialFramePosition=list(ch.com_offset_xyz_m),
            linkMasses=b.masses,
            linkCollisionShapeIndices=b.cols,
            linkVisualShapeIndices=b.viss,
            linkPositions=b.pos,
            linkOrientations=b.orn,
            linkInertialFramePositions=b.inertial_pos,
            linkInertialFrameOrientations=[[0.0, 0.0, 0.0, 1.0]] * len(b.masses),
            linkParentIndices=b.parents,
            linkJointTypes=b.types,
            linkJointAxis=b.axes,
        )
    )
    # Vacuum: no air drag. PyBullet damps every body by default (linear 0.04).
    for link in range(-1, len(b.masses)):
        c.changeDynamics(body, link, linearDamping=0.0, angularDamping=0.0)
    for w in left_wheels + right_wheels:
        c.changeDynamics(
            body,
            w,
            lateralFriction=wh.friction,
            rollingFriction=0.0,
            spinningFriction=0.0,
            # The link frame turns about the axle (link y) as the wheel rolls, so
            # scaling y scales the sideways friction whatever the wheel's angle.
            anisotropicFriction=[1.0, wh.lateral_friction_ratio, 1.0],
        )
        c.setJointMotorControl2(body, w, pb.VELOCITY_CONTROL, targetVelocity=0.0, force=0.0)
    for tool, _, pads in tools.clamps:
        set_pad_friction(c, body, tool, pads)
    for servo in tools.servos.values():
        home = cfg.joint(servo.name).home_rad
        for joint, scale in servo.joints:
            c.resetJointState(body, joint, servo.joint_position(scale, home))
    preloads: tuple[float, ...] = ()
    if struts:
        preloads = _add_suspension(world, cfg, body, struts, left_wheels + right_wheels)
    return RoverBody(
        body=body,
        left_wheels=left_wheels,
        right_wheels=right_wheels,
        struts=struts,
        servos=tools.servos,
        clamps=tools.clamps,
        tool_links=tools.links,
        strut_preloads_n=preloads,
    )


def _add_suspension(
    world: LunarWorld, config: RoverConfig, body: int, struts: list[int], wheels: list[int]
) -> tuple[float, ...]:
    """Spring-damper struts: free prismatic joints pushed by F = -(F₀ + k·q + c·q̇).

    q is the wheel's rise against the chassis (the joint axis is the chassis z), so the
    strut pushes the wheel down and the chassis up by F₀ at q = 0. PyBullet has no joint
    springs; the force is applied after every physics step for the next one. The
    travel limits stop a strut at ±``suspension_travel_m``. Each strut's preload F₀ is
    its share of the sprung weight with the tools at home (the statics of a level body
    on four equal springs), so the chassis rides level at its design height
    (``axle_drop_m``) at rest instead of pitching towards a heavy boom. Returns the
    preloads, in N.
    """
    wh = config.wheels
    assert wh.suspension_stiffness_npm is not None
    c = world.client
    k, damping = wh.suspension_stiffness_npm, wh.suspension_damping_nspm
    struts = list(struts)
    for strut in struts:
        c.setJointMotorControl2(body, strut, pb.VELOCITY_CONTROL, force=0.0)
        c.changeDynamics(
            body,
            strut,
            jointLowerLimit=-wh.suspension_travel_m,
            jointUpperLimit=wh.suspension_travel_m,
            linearDamping=0.0,
            angularDamping=0.0,
        )
    preloads = _strut_preloads_n(world, body, struts, wheels)

    def push() -> None:
        states = c.getJointStates(body, struts)
        forces = [-(f0 + k * s[0] + damping * s[1]) for f0, s in zip(preloads, states, strict=True)]
        c.setJointMotorControlArray(body, struts, pb.TORQUE_CONTROL, forces=forces)

    push()
    world.add_step_hook(push)
    return tuple(preloads)


def _strut_preloads_n(
    world: LunarWorld, body: int, struts: list[int], wheels: list[int]
) -> list[float]:
    """Each strut's share of the weight above the struts, from the body's pose now.

    Forces F on four equal springs under a level body carry the weight W and its
    moments: ΣF = W, ΣF·x = W·x_cm, ΣF·y = W·y_cm (chassis frame). The level
    (plane-compatible) solution of these three equations in four unknowns is the
    minimum-norm one, since the fourth mode, a twist, is orthogonal to every plane.
    """
    c = world.client
    unsprung = set(struts) | set(wheels)
    base_pos, base_orn = c.getBasePositionAndOrientation(body)
    rot = np.asarray(c.getMatrixFromQuaternion(base_orn), dtype=np.float64).reshape(3, 3)
    origin = np.asarray(base_pos, dtype=np.float64)

    def local(p: Any) -> NDArray[np.float64]:
        return rot.T @ (np.asarray(p, dtype=np.float64) - origin)

    mass = float(c.getDynamicsInfo(body, -1)[0])
    moment = mass * local(base_pos)
    for link in range(c.getNumJoints(body)):
        if link in unsprung:
            continue
        m = float(c.getDynamicsInfo(body, link)[0])
        mass += m
        moment += m * local(c.getLinkState(body, link, computeForwardKinematics=1)[0])
    com = moment / mass
    hubs = np.array([local(c.getLinkState(body, s, computeForwardKinematics=1)[4]) for s in struts])
    a = np.vstack([np.ones(len(hubs)), hubs[:, 0], hubs[:, 1]])
    weight = mass * world.config.gravity_mps2
    forces = np.linalg.lstsq(a, weight * np.array([1.0, com[0], com[1]]), rcond=None)[0]
    return [max(0.0, float(f)) for f in forces]


def _ground_under_footprint(world: LunarWorld, config: RoverConfig, start: Pose2) -> float:
    """The highest ground under the four wheels of a rover at ``start``, in m (the
    ground under the rover's centre for a wheel off the terrain)."""
    t = world.terrain
    wh = config.wheels
    cy, sy = math.cos(start.yaw_rad), math.sin(start.yaw_rad)
    heights = []
    for fx in (wh.wheelbase_m / 2, -wh.wheelbase_m / 2):
        for fy in (wh.track_m / 2, -wh.track_m / 2):
            x = start.x_m + cy * fx - sy * fy
            y = start.y_m + sy * fx + cy * fy
            heights.append(
                t.height_at(x, y) if t.contains(x, y) else t.height_at(start.x_m, start.y_m)
            )
    return max(heights)
