"""Units a placement rover handles: rigid boxes of a catalog type, free on the ground.

A unit is a dynamic PyBullet body with its catalog mass, resting on the terrain under
lunar (or the scenario's) gravity. Nothing attaches it to a rover: a clamp moves it only
by the friction of its pads (:mod:`lunarsite.sim.clamp`). Its pose is ground truth, for
metrics only (:func:`unit_pose`).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pybullet as pb

from lunarsite.robot.perception.fiducials import DEFAULT_DICTIONARY
from lunarsite.robot.site.modules import ModuleType
from lunarsite.robot.site.unit_markers import FACE_AXES, UnitMarker, marker_centre_m

from .beacons import marker_image

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
    world: LunarWorld,
    uid: str,
    module: ModuleType,
    x_m: float,
    y_m: float,
    yaw_rad: float = 0.0,
    *,
    markers: Sequence[UnitMarker] = (),
) -> SimUnit:
    """Stand a unit of ``module`` on the ground at (``x_m``, ``y_m``) turned by
    ``yaw_rad``: its base on the highest ground under its corners, then let fall. Its
    ``markers`` are printed on its faces (:func:`textured_box`)."""
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
    rgba = KIND_RGBA[module.kind]
    texture = None
    if markers:
        with tempfile.TemporaryDirectory(prefix="lunarsite_unit_") as tmp:
            obj, png = textured_box(Path(tmp), module, markers, rgba)
            vis = c.createVisualShape(pb.GEOM_MESH, fileName=str(obj))
            texture = c.loadTexture(str(png))
    else:
        vis = c.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=list(rgba))
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
    if texture is not None:
        c.changeVisualShape(body, -1, textureUniqueId=texture, rgbaColor=[1, 1, 1, 1])
    unit = SimUnit(uid, module, body)
    world.units[uid] = unit
    return unit


MARKER_LIFT_M = 0.0005
"""A marker's quad stands this far out of its face, so the face does not hide it, in m."""
MARKER_BORDER = 0.25
"""The white quiet zone round a marker, as a share of its side on each edge (narrower
where the face leaves less room)."""
MARKER_TEXTURE_PX = 120
_BOX_FACES: tuple[tuple[tuple[float, float, float], ...], ...] = (
    *FACE_AXES.values(),
    ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),  # bottom
)


def _border(module: ModuleType, marker: UnitMarker) -> float:
    """The quiet zone the face leaves room for, as a share of the marker's side."""
    w, h = module.face_size_m(marker.face)
    return min(MARKER_BORDER, 0.5 * (min(w, h) / marker.size_m - 1.0))


def textured_box(
    folder: Path,
    module: ModuleType,
    markers: Sequence[UnitMarker],
    rgba: tuple[float, float, float, float],
) -> tuple[Path, Path]:
    """Write an OBJ of the unit's box with its markers printed on their faces, and its
    texture: one square per marker and one of the unit's colour, side by side (the box's
    faces take the colour square, each marker a quad just outside its face, laid by
    :data:`~lunarsite.robot.site.unit_markers.FACE_AXES`). Returns (obj, png)."""
    n = len(markers) + 1
    side = 2 * MARKER_TEXTURE_PX
    borders = [_border(module, m) for m in markers]
    squares = []
    for m, border in zip(markers, borders, strict=True):
        image = marker_image(
            m.marker_id, MARKER_TEXTURE_PX, dictionary=DEFAULT_DICTIONARY, border_fraction=border
        )
        squares.append(cv2.resize(image, (side, side), interpolation=cv2.INTER_NEAREST))
    colour = np.empty((side, side, 3), np.uint8)
    colour[:] = [round(255 * v) for v in rgba[2::-1]]  # BGR
    atlas = np.hstack([np.dstack([sq] * 3) for sq in squares] + [colour])
    png = folder / "unit.png"
    cv2.imwrite(str(png), atlas)
    half = [0.5 * v for v in module.size_m]
    lines = ["mtllib unit.mtl", "usemtl unit"]
    verts: list[str] = []
    uvs: list[str] = []
    faces: list[str] = []

    def quad(
        centre: list[float],
        right: tuple[float, ...],
        up: tuple[float, ...],
        size: tuple[float, float],
        square: int,
        whole: bool,
    ) -> None:
        inset = 0.5 / side
        u0, u1 = (square + inset) / n, (square + 1 - inset) / n
        for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            p = [centre[i] + 0.5 * (a * size[0] * right[i] + b * size[1] * up[i]) for i in range(3)]
            verts.append("v {:.6f} {:.6f} {:.6f}".format(*p))
            if whole:
                uvs.append(f"vt {(square + 0.5) / n:.6f} 0.5")
            else:
                uvs.append(f"vt {u0 if a < 0 else u1:.6f} {inset if b < 0 else 1 - inset:.6f}")
        i = len(verts) - 3
        faces.append(f"f {i}/{i} {i + 1}/{i + 1} {i + 2}/{i + 2}")
        faces.append(f"f {i}/{i} {i + 2}/{i + 2} {i + 3}/{i + 3}")

    for right, up, normal in _BOX_FACES:
        centre = [normal[i] * half[i] for i in range(3)]
        size = (
            sum(abs(right[i]) * module.size_m[i] for i in range(3)),
            sum(abs(up[i]) * module.size_m[i] for i in range(3)),
        )
        quad(centre, right, up, size, n - 1, whole=True)
    for k, (m, border) in enumerate(zip(markers, borders, strict=True)):
        right, up, normal = FACE_AXES[m.face]
        q = m.size_m * (1.0 + 2.0 * border)
        c = marker_centre_m(module, m.face)
        centre = [c[i] + MARKER_LIFT_M * normal[i] for i in range(3)]
        quad(centre, right, up, (q, q), k, whole=False)
    (folder / "unit.mtl").write_text("newmtl unit\nKa 1 1 1\nKd 1 1 1\nmap_Kd unit.png\n")
    obj = folder / "unit.obj"
    obj.write_text("\n".join(lines + verts + uvs + faces) + "\n")
    return obj, png


def unit_pose(world: LunarWorld, unit: SimUnit) -> tuple[float, float, float, float]:
    """Ground truth: the unit's centre (x, y, z) and yaw, in m and rad."""
    pos, orn = world.client.getBasePositionAndOrientation(unit.body)
    yaw = pb.getEulerFromQuaternion(orn)[2]
    return (float(pos[0]), float(pos[1]), float(pos[2]), float(yaw))
