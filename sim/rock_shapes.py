"""The shape of a rigid rock: an irregular convex mesh for PyBullet.

An icosphere with radial noise, a second horizontal axis and a vertical axis shortened at
random, turned about z and scaled to the rock's diameter, given as the points of its
convex hull centred on the solid's centroid. :mod:`.terrain_generation` draws the rocks;
all randomness comes from the :class:`numpy.random.Generator` passed in.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["rock_vertices"]

FloatArray = NDArray[np.float64]

# Rigid rock shape (lunarsite design choice): an icosphere with radial noise, a second
# horizontal axis and a vertical axis shortened by the factors below.
_ROCK_ICOSPHERE_SUBDIVISIONS = 1  # 42 vertices
_ROCK_RADIAL_NOISE = 0.2  # vertex radius times U(1 - 0.2, 1 + 0.2)
_ROCK_HORIZONTAL_ASPECT_RANGE = (0.7, 1.0)  # second horizontal axis / first
_ROCK_FLATTENING_RANGE = (0.6, 0.9)  # vertical axis / first horizontal axis


def _midpoint(
    points: list[FloatArray], cache: dict[tuple[int, int], int], edge: tuple[int, int]
) -> int:
    """Index of the unit-sphere point above the middle of ``edge``, added once."""
    key = (min(edge), max(edge))
    if key not in cache:
        m = (points[edge[0]] + points[edge[1]]) / 2.0
        points.append(m / np.linalg.norm(m))
        cache[key] = len(points) - 1
    return cache[key]


@functools.cache
def _unit_icosphere() -> FloatArray:
    """Vertices of a unit icosphere (12 vertices, subdivided)."""
    t = (1.0 + math.sqrt(5.0)) / 2.0
    verts = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    points = [np.asarray(v, dtype=np.float64) / np.linalg.norm(v) for v in verts]
    for _ in range(_ROCK_ICOSPHERE_SUBDIVISIONS):
        midpoint: dict[tuple[int, int], int] = {}

        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = (_midpoint(points, midpoint, e) for e in ((a, b), (b, c), (c, a)))
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    out = np.stack(points)
    out.flags.writeable = False
    return out


def _hull_centroid(points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vertices of the convex hull of ``points`` and the centroid of the solid it bounds."""
    from scipy.spatial import ConvexHull  # local: keeps module import light

    hull = ConvexHull(points)
    apex = points[hull.vertices].mean(axis=0)
    tris = points[hull.simplices]  # (F, 3, 3)
    vol = np.abs(
        np.einsum("ij,ij->i", tris[:, 0] - apex, np.cross(tris[:, 1] - apex, tris[:, 2] - apex))
    )
    centres = (tris.sum(axis=1) + apex) / 4.0
    centroid = (centres * vol[:, None]).sum(axis=0) / vol.sum()
    return points[np.sort(hull.vertices)], centroid


def rock_vertices(diameter_m: float, rng: np.random.Generator) -> FloatArray:
    """Points of an irregular convex rock of largest horizontal extent ``diameter_m``,
    centred on its centroid."""
    unit = _unit_icosphere()
    radial: FloatArray = 1.0 + _ROCK_RADIAL_NOISE * (2.0 * rng.random(int(unit.shape[0])) - 1.0)
    aspect = rng.uniform(*_ROCK_HORIZONTAL_ASPECT_RANGE)
    flattening = rng.uniform(*_ROCK_FLATTENING_RANGE)
    yaw = rng.uniform(0.0, 2.0 * math.pi)
    pts = unit * radial[:, None] * np.array([1.0, aspect, flattening])
    c, s = math.cos(yaw), math.sin(yaw)
    pts = pts @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    hull_pts, centroid = _hull_centroid(pts)
    hull_pts = hull_pts - centroid
    xy = hull_pts[:, :2]
    extent = float(np.max(np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)))
    out: FloatArray = hull_pts * (diameter_m / extent)
    return out
