"""Fiducial beacons: ArUco markers on posts at surveyed poses in a :class:`LunarWorld`.

Each beacon is a textured quad (an OBJ written to a temporary folder with the marker
image, reference/SIM.md "ArUco": ``createVisualShape`` + ``loadTexture`` +
``changeVisualShape``) in front of a thin plate that collides, on a post down to the
ground. The marker's pose follows :class:`lunarsite.robot.perception.fiducials.SurveyedMarker`: its
centre at (x, y, z) in the site frame, its face looking along ``yaw_rad``, standing
vertically; the white quiet zone around the black square is ``border_fraction`` of the
marker's side on each edge. The texture is laid so the marker reads unmirrored from in
front (a mirrored marker does not decode).
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pybullet as pb

from lunarsite.robot.perception.fiducials import DEFAULT_DICTIONARY, SurveyedMarker

from .world import LunarWorld, SimError

__all__ = ["Beacon", "add_beacons", "marker_image"]

log = logging.getLogger(__name__)

POST_RGBA = (0.8, 0.8, 0.8, 1.0)
PLATE_THICKNESS_M = 0.02
POST_WIDTH_M = 0.05


@dataclass(frozen=True, slots=True)
class Beacon:
    """A beacon in the world: its marker and its PyBullet bodies."""

    marker: SurveyedMarker
    marker_body: int
    post_body: int | None


def marker_image(
    marker_id: int, pixels: int, *, dictionary: str = DEFAULT_DICTIONARY, border_fraction: float
) -> np.ndarray:
    """The marker as a grey image (uint8) with a white quiet zone, ``pixels`` for the
    black square (a whole number of pixels per module)."""
    aruco_dict = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary))
    img = cv2.aruco.generateImageMarker(aruco_dict, marker_id, pixels)
    pad = round(border_fraction * pixels)
    return np.pad(img, pad, constant_values=255)


_OBJ = """# marker quad facing +x: image right is +y, image up is +z
mtllib marker.mtl
v 0 -{h} -{h}
v 0 {h} -{h}
v 0 {h} {h}
v 0 -{h} {h}
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vn 1 0 0
usemtl marker
f 1/1/1 2/2/1 3/3/1
f 1/1/1 3/3/1 4/4/1
"""
_MTL = """newmtl marker
Ka 1 1 1
Kd 1 1 1
map_Kd marker.png
"""


def add_beacons(
    world: LunarWorld,
    markers: Sequence[SurveyedMarker],
    *,
    dictionary: str = DEFAULT_DICTIONARY,
    border_fraction: float = 0.25,
    texture_px: int = 240,
    posts: bool = True,
) -> list[Beacon]:
    """Build a beacon for each surveyed marker; returns them in order.

    Raises:
        SimError: a marker lies outside the terrain, below the ground, or has an id the
            dictionary lacks.
    """
    c = world.client
    beacons: list[Beacon] = []
    with tempfile.TemporaryDirectory(prefix="lunarsite_beacons_") as tmp:
        for k, m in enumerate(markers):
            if not world.terrain.contains(m.x_m, m.y_m):
                raise SimError(f"beacon marker {m.marker_id} at ({m.x_m}, {m.y_m}) is off site")
            ground = world.terrain.height_at(m.x_m, m.y_m)
            side = m.size_m * (1.0 + 2.0 * border_fraction)
            if m.z_m - 0.5 * side < ground - 1e-6:
                raise SimError(
                    f"beacon marker {m.marker_id}: its bottom edge ({m.z_m - 0.5 * side:.3f} m) "
                    f"is below the ground ({ground:.3f} m)"
                )
            folder = Path(tmp) / f"m{k}"
            folder.mkdir()
            try:
                image = marker_image(
                    m.marker_id, texture_px, dictionary=dictionary, border_fraction=border_fraction
                )
            except cv2.error as exc:
                raise SimError(f"marker id {m.marker_id} is not in {dictionary}: {exc}") from exc
            cv2.imwrite(str(folder / "marker.png"), image)
            (folder / "marker.mtl").write_text(_MTL)
            (folder / "marker.obj").write_text(_OBJ.format(h=f"{0.5 * side:.6f}"))
            vis = c.createVisualShape(pb.GEOM_MESH, fileName=str(folder / "marker.obj"))
            col = c.createCollisionShape(
                pb.GEOM_BOX,
                halfExtents=[0.5 * PLATE_THICKNESS_M, 0.5 * side, 0.5 * side],
                collisionFramePosition=[-0.5 * PLATE_THICKNESS_M - 0.001, 0.0, 0.0],
            )
            orn = pb.getQuaternionFromEuler([0.0, 0.0, m.yaw_rad])
            body = int(
                c.createMultiBody(
                    baseMass=0.0,
                    baseCollisionShapeIndex=col,
                    baseVisualShapeIndex=vis,
                    basePosition=[m.x_m, m.y_m, m.z_m],
                    baseOrientation=orn,
                )
            )
            texture = c.loadTexture(str(folder / "marker.png"))
            c.changeVisualShape(body, -1, textureUniqueId=texture, rgbaColor=[1, 1, 1, 1])
            post = None
            height = m.z_m - 0.5 * side - ground
            if posts and height > 0.01:
                half = [0.5 * POST_WIDTH_M, 0.5 * POST_WIDTH_M, 0.5 * height]
                back = -PLATE_THICKNESS_M - 0.5 * POST_WIDTH_M
                pos = [
                    m.x_m + back * math.cos(m.yaw_rad),
                    m.y_m + back * math.sin(m.yaw_rad),
                    ground + 0.5 * height,
                ]
                post = int(
                    c.createMultiBody(
                        baseMass=0.0,
                        baseCollisionShapeIndex=c.createCollisionShape(
                            pb.GEOM_BOX, halfExtents=half
                        ),
                        baseVisualShapeIndex=c.createVisualShape(
                            pb.GEOM_BOX, halfExtents=half, rgbaColor=list(POST_RGBA)
                        ),
                        basePosition=pos,
                        baseOrientation=orn,
                    )
                )
            beacons.append(Beacon(m, body, post))
            log.info(
                "beacon: marker %d (%.2f m) at (%.2f, %.2f, %.2f) facing %.2f rad",
                m.marker_id,
                m.size_m,
                m.x_m,
                m.y_m,
                m.z_m,
                m.yaw_rad,
            )
    return beacons
