"""Units a placement rover handles: rigid boxes of a catalog type, free on the ground.

A unit is a dynamic PyBullet body with its catalog mass, resting on the terrain under
lunar (or the scenario's) gravity. Nothing attaches it to a rover: a clamp moves it only
by the friction of its pads (:mod:`lunarsite.sim.clamp`). Its pose is ground truth, for
metrics only (:func:`unit_pose`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pybullet as pb

from lunarsite.robot.site.modules import ModuleType

if TYPE_CHECKING:
    from .world import LunarWorld

__all__ = ["UNIT_FRICTION", "SimUnit", "add_unit", "unit_pose"]

UNIT_FRICTION = 0.6
"""Friction of a unit on the ground and on other units (a sintered block on regolith,
below BP-1's ~0.8 internal friction; assumed)."""
UNIT_SPIN_FRICTION_M = 0.05
"""A unit's base resists twisting on the ground over its area: (2/3)·μ·a for pressure
spread over a disc of radius a (0.6 × 0.15 m for a paver's 0.3 m base), in m. Without
it, units standing on the heightfield crept and turned by themselves (a depot paver
turned 0.02 rad, then 0.9 rad, in ten minutes)."""
KIND_RGBA = {
    "paver": (0.55, 0.5, 0.45, 1.0),
    "habitat": (0.9, 0.9, 0.92, 1.0),
    "solar_panel": (0.15, 0.2, 0.45, 1.0),
    "beacon": (0.95, 0.45, 0.1, 1.0),
}


@dataclass(frozen=True, slots=True)
class SimUnit:
    id: str
    module: ModuleType
    body: int


def add_unit(
    world: LunarWorld, uid: str, module: ModuleType, x_m: float, y_m: float, yaw_rad: float = 0.0
) -> SimUnit:
    """Stand a unit of ``module`` on the ground at (``x_m``, ``y_m``) turned by
    ``yaw_rad``: its base on the highest ground under its corners, then let fall."""
    if uid in world.units:
        raise ValueError(f"a unit {uid!r} is already in the world")
    c = world.client
    length, width, height = module.size_m
    cy, sy = math.cos(yaw_rad), math.sin(yaw_rad)
    ground = max(
        world.terrain.height_at(x_m + u * cy - v * sy, y_m + u * sy + v * cy)
        for u in (-0.5 * length, 0.0, 0.5 * length)
        for v in (-0.5 * width, 0.0, 0.5 * width)
    )
    half = [0.5 * length, 0.5 * width, 0.5 * height]
    col = c.createCollisionShape(pb.GEOM_BOX, halfExtents=half)
    vis = c.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=list(KIND_RGBA[module.kind]))
    body = int(
        c.createMultiBody(
            baseMass=module.mass_kg,
            baseCollisionShapeIndex=col,
            baseVisualShapeIndex=vis,
            basePosition=[x_m, y_m, ground + 0.5 * height + 0.002],
            baseOrientation=pb.getQuaternionFromEuler([0.0, 0.0, yaw_rad]),
        )
    )
    c.changeDynamics(
        body,
        -1,
        lateralFriction=UNIT_FRICTION,
        spinningFriction=UNIT_SPIN_FRICTION_M,
        restitution=0.0,
        linearDamping=0.0,
        angularDamping=0.0,
        activationState=pb.ACTIVATION_STATE_ENABLE_SLEEPING,
    )
    unit = SimUnit(uid, module, body)
    world.units[uid] = unit
    return unit


def unit_pose(world: LunarWorld, unit: SimUnit) -> tuple[float, float, float, float]:
    """Ground truth: the unit's centre (x, y, z) and yaw, in m and rad."""
    pos, orn = world.client.getBasePositionAndOrientation(unit.body)
    yaw = pb.getEulerFromQuaternion(orn)[2]
    return (float(pos[0]), float(pos[1]), float(pos[2]), float(yaw))
