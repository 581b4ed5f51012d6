"""Pictures of the lunar world as the Moon looks: a black sky, a low sun, long shadows.

For videos and reports only; the rover's own camera (:meth:`SimRover.read_camera`) is
not rendered here and sees the world unchanged.

PyBullet's TinyRenderer draws the background light grey, lights a surface with
``ambient + diffuse · max(n·l, 0)`` (Lambert, as on a matte Earth surface) and, with
``shadow=1``, darkens shadowed surfaces by only 20 % from a shadow map centred on the
world origin. So :func:`render_lunar_view`:

- turns the background black through the segmentation mask (no object = sky);
- lights the scene from a sun a few degrees above the horizon (:class:`Sun`) with a low
  ambient term and a high diffuse gain, so level ground is mid grey and slopes facing
  away from the sun go dark, as regolith does at a low sun;
- casts shadows itself: a second, nearly orthographic render from the sun's direction
  gives the distance to the first surface along each sun ray (a shadow map centred on a
  focus point, the rover), every pixel of the picture is carried back to the world by its
  depth and compared with it, and the pixels behind something are given the ambient
  light alone;
- draws the terrain heightfields untextured for the picture (PyBullet paints them with a
  checkerboard), then restores each one's texture.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import cv2
import numpy as np
import numpy.typing as npt

from .quiet import c_stdout_silenced

with c_stdout_silenced():
    import pybullet as pb

if TYPE_CHECKING:
    from .world import LunarWorld

__all__ = ["LOW_SUN", "LunarView", "ShadowFocus", "Sun", "render_lunar_view"]

AMBIENT: Final = 0.08
"""Light on surfaces the sun does not reach (scattered from the lit ground), as a share
of a surface's own colour."""
DIFFUSE_GAIN: Final = 3.5
"""TinyRenderer's diffuse coefficient: with the sun 10° up, level ground gets
0.08 + 3.5 · sin 10° ≈ 0.69 of its colour; faces towards the sun saturate."""
NEAR_M: Final = 0.05
FAR_M: Final = 200.0
SHADOW_STRIDE: Final = 2
"""Shadows are computed on every other pixel of every other row."""
SHADOW_MAP_WIDTH_PX: Final = 384
"""Columns of the sun's shadow map (rows follow from the sun's elevation)."""
SHADOW_MAP_MAX_ROWS: Final = 768
_SUN_DISTANCE_M: Final = 200.0
"""The shadow map is rendered from this far along the sun's direction: nearly parallel
rays."""


@dataclass(frozen=True, slots=True)
class Sun:
    """Where the sun is, seen from the site (site frame: x east, y north, z up)."""

    elevation_rad: float
    """Above the horizon."""
    azimuth_rad: float
    """Direction the light comes from, clockwise from north (as a map's hillshade)."""

    def direction(self) -> npt.NDArray[np.float64]:
        """Unit vector from the site towards the sun."""
        el, az = self.elevation_rad, self.azimuth_rad
        return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


LOW_SUN: Final = Sun(elevation_rad=math.radians(10.0), azimuth_rad=math.radians(315.0))
"""10° above the horizon from the north-west: the azimuth of the maps' hillshade
(:func:`lunarsite.launch.pictures.hillshade_rgb`), lower, as at a lunar polar site."""


@dataclass(frozen=True, slots=True)
class ShadowFocus:
    """The region whose shadows are computed: within ``radius_m`` horizontally of
    ``centre_xyz_m`` and ``height_m`` above or below it (outside it, nothing is shadowed
    but the faces turned from the sun)."""

    centre_xyz_m: tuple[float, float, float]
    radius_m: float
    height_m: float


@dataclass(frozen=True, slots=True)
class LunarView:
    """One picture: colours, what each pixel shows, and how far away it is."""

    rgb: npt.NDArray[np.uint8]
    """(H, W, 3) colours; the sky black."""
    body_ids: npt.NDArray[np.int32]
    """(H, W) PyBullet body id seen at each pixel, -1 for the sky."""
    depth_m: npt.NDArray[np.float32]
    """(H, W) distance along the camera's axis, in m (the far plane for the sky)."""
    shadowed: npt.NDArray[np.bool_]
    """(H, W) pixels in a cast shadow."""

    def mask(self, body: int) -> npt.NDArray[np.bool_]:
        """Pixels that show ``body``."""
        return np.equal(self.body_ids, body)


def _matrix(flat: Sequence[float]) -> npt.NDArray[np.float64]:
    """A PyBullet (OpenGL, column-major) 4 × 4 matrix as a row-major numpy array."""
    return np.asarray(flat, dtype=np.float64).reshape(4, 4).T


def _linear_depth(
    zbuf: npt.NDArray[np.float64], near: float, far: float
) -> npt.NDArray[np.float64]:
    """Distance along the camera's axis, in m, from OpenGL depth-buffer values."""
    return far * near / (far - (far - near) * zbuf)


@contextmanager
def plain_terrain(world: LunarWorld) -> Iterator[None]:
    """Draw the terrain heightfields without PyBullet's checkerboard; restore it after."""
    c = world.client
    bodies = tuple(world.terrain_bodies)
    textures = []
    for body in bodies:
        shapes = c.getVisualShapeData(body, flags=pb.VISUAL_SHAPE_DATA_TEXTURE_UNIQUE_IDS)
        textures.append(int(shapes[0][-1]) if shapes else -1)
        c.changeVisualShape(body, -1, textureUniqueId=-1)
    try:
        yield
    finally:
        for body, texture in zip(bodies, textures, strict=True):
            if texture >= 0:
                c.changeVisualShape(body, -1, textureUniqueId=texture)


def render_lunar_view(
    world: LunarWorld,
    eye_xyz_m: Sequence[float],
    target_xyz_m: Sequence[float],
    *,
    width_px: int,
    height_px: int,
    vertical_fov_rad: float = math.radians(50.0),
    sun: Sun = LOW_SUN,
    shadows: ShadowFocus | None = None,
) -> LunarView:
    """The world seen from ``eye_xyz_m`` looking at ``target_xyz_m`` (z up), lit by
    ``sun``, with shadows cast within ``shadows`` (see the module docstring)."""
    c = world.client
    sun_dir = sun.direction()
    view = c.computeViewMatrix(list(eye_xyz_m), list(target_xyz_m), [0.0, 0.0, 1.0])
    proj = c.computeProjectionMatrixFOV(
        fov=math.degrees(vertical_fov_rad),
        aspect=width_px / height_px,
        nearVal=NEAR_M,
        farVal=FAR_M,
    )
    with plain_terrain(world):
        _, _, rgba, zbuf, seg = c.getCameraImage(
            width_px,
            height_px,
            viewMatrix=view,
            projectionMatrix=proj,
            renderer=pb.ER_TINY_RENDERER,
            shadow=0,
            lightDirection=sun_dir.tolist(),
            lightAmbientCoeff=AMBIENT,
            lightDiffuseCoeff=DIFFUSE_GAIN,
            lightSpecularCoeff=0.0,
        )
        rgb = np.reshape(np.asarray(rgba, dtype=np.uint8), (height_px, width_px, 4))[:, :, :3]
        rgb = np.array(rgb)  # writable copy
        ids = np.reshape(np.asarray(seg, dtype=np.int32), (height_px, width_px))
        depth = _linear_depth(
            np.reshape(np.asarray(zbuf, dtype=np.float64), (height_px, width_px)), NEAR_M, FAR_M
        )
        shade = np.zeros(ids.shape, dtype=np.float32)
        if shadows is not None and sun.elevation_rad > 0.0:
            # on every other pixel of every other row (a quarter of the cost), then
            # spread back over the picture bilinearly: shadow edges are soft anyway
            coarse = _cast_shadows(
                world,
                _matrix(view),
                _matrix(proj),
                depth[::SHADOW_STRIDE, ::SHADOW_STRIDE],
                ids[::SHADOW_STRIDE, ::SHADOW_STRIDE] >= 0,
                (height_px, width_px),
                sun,
                shadows,
            )
            shade = np.asarray(
                cv2.resize(coarse, (width_px, height_px), interpolation=cv2.INTER_LINEAR),
                dtype=np.float32,
            )
    # A shadowed surface keeps the ambient light alone: on level ground that is this
    # share of what the sun gives it.
    ambient_share = AMBIENT / (AMBIENT + DIFFUSE_GAIN * math.sin(max(sun.elevation_rad, 0.0)))
    dim = shade > 0.0
    keep = 1.0 - shade[dim] * np.float32(1.0 - ambient_share)
    rgb[dim] = (rgb[dim] * keep[:, None]).astype(np.uint8)
    rgb[ids < 0] = 0
    return LunarView(rgb, ids, depth.astype(np.float32), shade > 0.5)


def _cast_shadows(
    world: LunarWorld,
    view: npt.NDArray[np.float64],
    proj: npt.NDArray[np.float64],
    depth_m: npt.NDArray[np.float64],
    solid: npt.NDArray[np.bool_],
    full_shape: tuple[int, int],
    sun: Sun,
    focus: ShadowFocus,
) -> npt.NDArray[np.float32]:
    """How much of each pixel's surface point is hidden from the sun (0 to 1) by
    something nearer to it. ``depth_m`` and ``solid`` are the picture's (of
    ``full_shape``) subsampled by :data:`SHADOW_STRIDE`; so is the answer."""
    c = world.client
    el = sun.elevation_rad
    centre = np.asarray(focus.centre_xyz_m, dtype=np.float64)
    r, h = focus.radius_m, focus.height_m
    # The sun's camera: far away along its direction, a frustum just wide enough for a
    # disc of radius r (across) and its slant seen from the sun plus h (up).
    half_w = r
    half_h = r * math.sin(el) + h * math.cos(el)
    cols = SHADOW_MAP_WIDTH_PX
    # rows so that a row spans at most twice a column's width of level ground
    rows = math.ceil(cols * half_h / (2.0 * r * math.sin(el)))
    rows = min(SHADOW_MAP_MAX_ROWS, max(64, rows))
    near = _SUN_DISTANCE_M - 2.0 * (r + h)
    far = _SUN_DISTANCE_M + 2.0 * (r + h)
    k = near / _SUN_DISTANCE_M
    sun_eye = centre + _SUN_DISTANCE_M * sun.direction()
    sun_view_flat = c.computeViewMatrix(sun_eye.tolist(), centre.tolist(), [0.0, 0.0, 1.0])
    sun_proj_flat = c.computeProjectionMatrix(
        -half_w * k, half_w * k, -half_h * k, half_h * k, near, far
    )
    _, _, _, sun_zbuf, _ = c.getCameraImage(
        cols,
        rows,
        viewMatrix=sun_view_flat,
        projectionMatrix=sun_proj_flat,
        renderer=pb.ER_TINY_RENDERER,
        shadow=0,
        flags=pb.ER_NO_SEGMENTATION_MASK,
    )
    sun_depth = _linear_depth(
        np.reshape(np.asarray(sun_zbuf, dtype=np.float64), (rows, cols)), near, far
    ).astype(np.float32)

    # Each solid pixel's point in the camera frame is d · (x_n / P00, y_n / P11, -1): the
    # sun camera's clip coordinates are then d · A + B with A per pixel and B constant.
    height, width = full_shape
    jj, ii = np.nonzero(solid)
    d = depth_m[jj, ii].astype(np.float32)
    step = SHADOW_STRIDE
    xr = ((2.0 * (step * ii + 0.5) / width - 1.0) / proj[0, 0]).astype(np.float32)
    yr = ((1.0 - 2.0 * (step * jj + 0.5) / height) / proj[1, 1]).astype(np.float32)
    to_sun_eye = _matrix(sun_view_flat) @ np.linalg.inv(view)
    to_sun_clip = _matrix(sun_proj_flat) @ to_sun_eye

    def along(m: npt.NDArray[np.float64], row: int) -> npt.NDArray[np.float32]:
        a = m[row, 0] * xr + m[row, 1] * yr - np.float32(m[row, 2])
        out: npt.NDArray[np.float32] = (d * a + np.float32(m[row, 3])).astype(np.float32)
        return out

    w = along(to_sun_clip, 3)
    # texel coordinates (continuous, texel centres at k + 0.5)
    u = (along(to_sun_clip, 0) / w + 1.0) * np.float32(0.5 * cols) - np.float32(0.5)
    v = (1.0 - along(to_sun_clip, 1) / w) * np.float32(0.5 * rows) - np.float32(0.5)
    dist_from_sun = -along(to_sun_eye, 2)
    inside = (u >= 0.0) & (u < cols - 1) & (v >= 0.0) & (v < rows - 1)
    u, v, dist = u[inside], v[inside], dist_from_sun[inside]
    # A texel spans 2r/cols of level ground across the sun's azimuth and row_m along it;
    # over that the distance from the sun changes by up to row_m · cos(el).
    row_m = 2.0 * half_h / rows / math.sin(el)
    bias = np.float32(1.5 * max(row_m, 2.0 * r / cols) * math.cos(el) + 0.005)
    # percentage-closer filtering: the four nearest texels' verdicts, weighted
    # bilinearly, so that a shadow's edge is not a staircase of texels
    u0, v0 = u.astype(np.int32), v.astype(np.int32)
    fu, fv = u - u0, v - v0
    behind = dist - bias
    share = np.zeros(u.shape, dtype=np.float32)
    for du, dv, weight in (
        (0, 0, (1.0 - fu) * (1.0 - fv)),
        (1, 0, fu * (1.0 - fv)),
        (0, 1, (1.0 - fu) * fv),
        (1, 1, fu * fv),
    ):
        share += weight * (behind > sun_depth[v0 + dv, u0 + du])
    out = np.zeros(solid.shape, dtype=np.float32)
    out[jj[inside], ii[inside]] = share
    return out
