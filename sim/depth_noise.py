"""A rendered depth image made into what a stereo camera gives (``camera.stereo``).

The renderer's depth is exact. A stereo camera finds each pixel's disparity d = f·B/z by
matching two images, to within ``disparity_std_px``; the range it reports is f·B/d, so a
disparity error σd becomes a range error σz = z²·σd / (f·B) (the usual first-order
triangulation error): a few millimetres at half a metre, centimetres at 2 m, decimetres
at 8 m for a 5 cm baseline. Here each pixel's disparity is perturbed independently and
the range recomputed from it (so the error is not even symmetric far off: a disparity
pushed to zero or below gives no depth at all).

A pixel gets no depth (0, as RealSense and ROS depth images mark it) where:

- the true range is nearer than ``min_range_m`` or beyond ``max_range_m`` (sky pixels,
  drawn at the renderer's far plane, are beyond it);
- the surface is seen at more than ``max_incidence_rad`` from its normal (ground far
  ahead seen at a grazing angle, a marker post edge-on): the two views no longer match;
- the perturbed disparity is not positive.

Not modelled: errors correlated between neighbouring pixels (a matcher's window), a
per-unit calibration bias, texture-less surfaces, specular glare.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lunarsite.robot.config import StereoDepthConfig
from lunarsite.robot.perception.fiducials import camera_matrix

__all__ = ["incidence_rad", "stereo_depth"]

FloatArray = npt.NDArray[np.float64]


def _points(depth_m: FloatArray, vertical_fov_rad: float) -> FloatArray:
    """Camera-frame points (H, W, 3) of a pinhole depth image (z along the axis), on the
    rover's own intrinsics (:func:`~lunarsite.robot.perception.fiducials.camera_matrix`)."""
    h, w = depth_m.shape
    k = camera_matrix(w, h, vertical_fov_rad)
    v, u = np.mgrid[0:h, 0:w]
    x = (u - k[0, 2]) / k[0, 0] * depth_m
    y = (v - k[1, 2]) / k[1, 1] * depth_m
    return np.stack([x, y, depth_m], axis=-1)


def incidence_rad(depth_m: FloatArray, vertical_fov_rad: float) -> FloatArray:
    """Angle between each pixel's line of sight and the surface normal there, in rad,
    from the depth image's own neighbours (π/2 at a depth edge or a degenerate patch)."""
    pts = _points(depth_m, vertical_fov_rad)
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    normal = np.cross(du, dv)
    n_len = np.linalg.norm(normal, axis=-1)
    p_len = np.linalg.norm(pts, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.abs(np.sum(normal * pts, axis=-1)) / (n_len * p_len)
    cos = np.where(np.isfinite(cos), np.clip(cos, 0.0, 1.0), 0.0)
    out: FloatArray = np.arccos(cos)
    return out


def stereo_depth(
    true_depth_m: FloatArray,
    vertical_fov_rad: float,
    model: StereoDepthConfig,
    rng: np.random.Generator,
) -> FloatArray:
    """The depth image a stereo camera of ``model`` reports for ``true_depth_m``
    (module docstring): metres along the optical axis, 0 where it has none."""
    z = np.asarray(true_depth_m, dtype=np.float64)
    fb = model.focal_px * model.baseline_m
    with np.errstate(divide="ignore"):
        disparity = np.where(z > 0.0, fb / np.where(z > 0.0, z, 1.0), 0.0)
    disparity = disparity + rng.normal(0.0, model.disparity_std_px, z.shape)
    valid = (
        (z >= model.min_range_m)
        & (z <= model.max_range_m)
        & (incidence_rad(z, vertical_fov_rad) <= model.max_incidence_rad)
        & (disparity > 0.0)
    )
    out: FloatArray = np.where(valid, fb / np.where(valid, disparity, 1.0), 0.0)
    return out
