"""Procedural lunar terrain from published statistics: :func:`generate_terrain`.

Procedural terrain superposes three layers on a flat plane:

- craters drawn from the NASA VIPER environmental specification's size-frequency
  distribution, each with the Fassett & Thomson (2014) profile scaled to a depth/diameter
  ratio between degraded (0.04) and fresh (Stopar et al. 2017);
- rocks drawn from the VIPER rock size-frequency distribution: rocks of at least
  ``rigid_min_diameter_m`` become rigid bodies (:class:`~.terrain.Rock`, with a convex
  mesh from :mod:`.rock_shapes`), smaller ones are stamped into the heights as
  half-ellipsoid bumps;
- fractal roughness by spectral synthesis (a von Kármán spectrum: power law with a Hurst
  exponent, flattened at wavelengths beyond a correlation length).

All randomness comes from the :class:`numpy.random.Generator` passed in: the same seed gives
the same arrays, bit for bit.

The statistics and their sources are in :mod:`.terrain_statistics`; the configuration in
:mod:`.terrain_config`.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from .rock_shapes import rock_vertices
from .terrain import MAX_HEIGHTFIELD_SAMPLES, Crater, Rock, Terrain, TerrainError
from .terrain_config import (
    ClearPath,
    ClearZone,
    CraterConfig,
    ProceduralTerrainConfig,
    RockConfig,
    RoughnessConfig,
)
from .terrain_statistics import (
    DEGRADED_DEPTH_RATIO,
    PROFILE_OUTER_R,
    PROFILE_RIM_TO_FLOOR,
    ROCK_SFD,
    crater_cumulative_density_per_m2,
    crater_diameter_for_density,
    crater_profile,
    fresh_depth_ratio,
    rock_cumulative_density_per_m2,
)

__all__ = ["generate_terrain"]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

# Rocks. Embedding: a rock's lowest point lies 0.2-0.5 of its height below the surface
# (design choice for lunarsite; partly buried rocks as seen in Apollo and Chang'e imagery).
_ROCK_EMBED_FRACTION_RANGE = (0.2, 0.5)
# Stamped (small) rocks: half-ellipsoid of radius D/2 and height 0.5·D·(1 - embed fraction)
# (lunarsite design choice: an exposed, flattened pebble).
_SMALL_ROCK_HEIGHT_PER_DIAMETER = 0.5

# Tolerance for "the site is a whole number of cells", in cells.
_WHOLE_CELLS_TOLERANCE = 1e-6


def _grid_samples(size_xy_m: tuple[float, float], cell_size_m: float) -> tuple[int, int]:
    """(nx, ny) for a site; raises TerrainError unless the site is whole cells."""
    if not (math.isfinite(cell_size_m) and cell_size_m > 0.0):
        raise TerrainError(f"cell_size_m must be positive and finite, got {cell_size_m}")
    counts = []
    for axis, size in zip("xy", size_xy_m, strict=True):
        if not (math.isfinite(size) and size > 0.0):
            raise TerrainError(f"site size along {axis} must be positive and finite, got {size} m")
        cells = size / cell_size_m
        if abs(cells - round(cells)) > _WHOLE_CELLS_TOLERANCE:
            raise TerrainError(
                f"site size along {axis} ({size} m) is not a whole number of cells of "
                f"{cell_size_m} m ({cells:.6f} cells)"
            )
        counts.append(round(cells) + 1)
    nx, ny = counts
    if nx * ny > MAX_HEIGHTFIELD_SAMPLES:
        raise TerrainError(
            f"terrain of {nx} x {ny} = {nx * ny} samples exceeds the PyBullet heightfield "
            f"limit of {MAX_HEIGHTFIELD_SAMPLES} samples; use larger cells or a smaller site"
        )
    return nx, ny


def _touches_clear_zone(
    x: FloatArray, y: FloatArray, reach_m: FloatArray, zones: tuple[ClearZone | ClearPath, ...]
) -> NDArray[np.bool_]:
    hit = np.zeros(x.shape, dtype=bool)
    for z in zones:
        hit |= z.distance_m(x, y) <= reach_m
    return hit


def _draw_craters(
    cfg: CraterConfig,
    size_xy_m: tuple[float, float],
    zones: tuple[ClearZone | ClearPath, ...],
    rng: np.random.Generator,
) -> list[Crater]:
    """Craters whose footprint (1.5 radii) overlaps the site and no clear zone.

    Centres are uniform over the site grown by the largest footprint, so the count whose
    centres lie in the site is Poisson with mean area × scale × (N(>Dmin) - N(>Dmax)) and
    craters centred outside cut into the edges at the right rate.
    """
    w, h = size_xy_m
    margin = PROFILE_OUTER_R * cfg.max_diameter_m / 2.0
    n_lo = crater_cumulative_density_per_m2(cfg.min_diameter_m)
    n_hi = crater_cumulative_density_per_m2(cfg.max_diameter_m)
    mean = (w + 2 * margin) * (h + 2 * margin) * cfg.density_scale * (n_lo - n_hi)
    count = int(rng.poisson(mean))
    u = rng.random(count)
    d = np.clip(
        crater_diameter_for_density(n_lo - u * (n_lo - n_hi)),
        cfg.min_diameter_m,
        cfg.max_diameter_m,
    )
    x = rng.uniform(-margin, w + margin, count)
    y = rng.uniform(-margin, h + margin, count)
    fresh = fresh_depth_ratio(d)
    ratio = DEGRADED_DEPTH_RATIO + (fresh - DEGRADED_DEPTH_RATIO) * rng.random(count)

    reach = PROFILE_OUTER_R * d / 2.0
    dx = np.maximum(np.maximum(-x, x - w), 0.0)
    dy = np.maximum(np.maximum(-y, y - h), 0.0)
    keep = (np.hypot(dx, dy) < reach) & ~_touches_clear_zone(x, y, reach, zones)
    return [
        Crater(float(xi), float(yi), float(di), float(ri * di))
        for xi, yi, di, ri in zip(x[keep], y[keep], d[keep], ratio[keep], strict=True)
    ]


def _stamp_crater(heights: FloatArray, crater: Crater, cell_m: float) -> None:
    """Add one crater to ``heights`` (origin (0, 0)) over its bounding window."""
    ny, nx = heights.shape
    radius = crater.diameter_m / 2.0
    reach = PROFILE_OUTER_R * radius
    i0 = max(0, math.ceil((crater.x_m - reach) / cell_m))
    i1 = min(nx - 1, math.floor((crater.x_m + reach) / cell_m))
    j0 = max(0, math.ceil((crater.y_m - reach) / cell_m))
    j1 = min(ny - 1, math.floor((crater.y_m + reach) / cell_m))
    if i0 > i1 or j0 > j1:
        return
    xs = np.arange(i0, i1 + 1) * cell_m - crater.x_m
    ys = np.arange(j0, j1 + 1) * cell_m - crater.y_m
    r = np.hypot(xs[None, :], ys[:, None]) / radius
    # The profile is in units of D with rim - floor = 0.2178; scale it so rim - floor = depth.
    heights[j0 : j1 + 1, i0 : i1 + 1] += crater_profile(r) * (crater.depth_m / PROFILE_RIM_TO_FLOOR)


def _stamp_small_rocks(
    heights: FloatArray,
    x: FloatArray,
    y: FloatArray,
    d: FloatArray,
    embed_fraction: FloatArray,
    cell_m: float,
) -> None:
    """Add half-ellipsoid bumps for rocks too small to be rigid bodies.

    Overlapping bumps take the higher of the two (pebbles do not stack).
    """
    ny, nx = heights.shape
    wide = d >= cell_m
    x, y, d, embed_fraction = x[wide], y[wide], d[wide], embed_fraction[wide]
    if d.size == 0:
        return
    layer = np.zeros_like(heights)
    radius = d / 2.0
    bump_h = _SMALL_ROCK_HEIGHT_PER_DIAMETER * d * (1.0 - embed_fraction)
    half = np.ceil(radius / cell_m + 0.5).astype(np.int64)
    ci = np.rint(x / cell_m).astype(np.int64)
    cj = np.rint(y / cell_m).astype(np.int64)
    for k in np.unique(half):
        sel = half == k
        offs = np.arange(-k, k + 1)
        n = int(sel.sum())
        ii = np.broadcast_to(
            ci[sel][:, None, None] + offs[None, None, :], (n, offs.size, offs.size)
        )
        jj = np.broadcast_to(
            cj[sel][:, None, None] + offs[None, :, None], (n, offs.size, offs.size)
        )
        ddx = ii * cell_m - x[sel][:, None, None]
        ddy = jj * cell_m - y[sel][:, None, None]
        q = 1.0 - (ddx**2 + ddy**2) / radius[sel][:, None, None] ** 2
        valid = (q > 0.0) & (ii >= 0) & (ii < nx) & (jj >= 0) & (jj < ny)
        bump = bump_h[sel][:, None, None] * np.sqrt(np.maximum(q, 0.0))
        np.maximum.at(layer, (jj[valid], ii[valid]), bump[valid])
    heights += layer


def _draw_rocks(
    cfg: RockConfig,
    size_xy_m: tuple[float, float],
    zones: tuple[ClearZone | ClearPath, ...],
    heights: FloatArray,
    cell_m: float,
    rng: np.random.Generator,
) -> list[Rock]:
    """Draw rocks; stamp the small ones into ``heights``, return the rigid ones."""
    w, h = size_xy_m
    n_lo = rock_cumulative_density_per_m2(cfg.min_diameter_m, cfg.distribution)
    n_hi = rock_cumulative_density_per_m2(cfg.max_diameter_m, cfg.distribution)
    coeff, exponent = ROCK_SFD[cfg.distribution]
    count = int(rng.poisson(w * h * cfg.density_scale * (n_lo - n_hi)))
    u = rng.random(count)
    d = np.clip(
        ((n_lo - u * (n_lo - n_hi)) / coeff) ** (1.0 / exponent),
        cfg.min_diameter_m,
        cfg.max_diameter_m,
    )
    x = rng.uniform(0.0, w, count)
    y = rng.uniform(0.0, h, count)
    embed = rng.uniform(*_ROCK_EMBED_FRACTION_RANGE, count)
    keep = ~_touches_clear_zone(x, y, d / 2.0, zones)
    x, y, d, embed = x[keep], y[keep], d[keep], embed[keep]

    rigid = d >= cfg.rigid_min_diameter_m
    small = ~rigid
    _stamp_small_rocks(heights, x[small], y[small], d[small], embed[small], cell_m)
    rocks = []
    for xi, yi, di, fi in zip(x[rigid], y[rigid], d[rigid], embed[rigid], strict=True):
        verts = rock_vertices(float(di), rng)
        height = float(verts[:, 2].max() - verts[:, 2].min())
        rocks.append(Rock(float(xi), float(yi), float(di), float(fi) * height, verts))
    return rocks


def _roughness(
    cfg: RoughnessConfig, shape: tuple[int, int], cell_m: float, rng: np.random.Generator
) -> FloatArray:
    """Zero-mean fractal roughness with the configured RMS, by spectral synthesis.

    Power spectral density ∝ (1 + (k·L)²)^-(H+1) (von Kármán): a 2-D fractional Brownian
    surface, P ∝ k^-(2H+2), at wavelengths shorter than L, flat beyond. Rosenburg et al.
    (2011, JGR 116, E02001) map the lunar Hurst exponent from LOLA deviograms at baselines
    of 57 m to 2.7 km, with most of the surface between about 0.7 and 0.95; using those
    values at metre scales is an extrapolation (no orbital data resolve them).
    """
    ny, nx = shape
    noise = rng.standard_normal((ny, nx))
    ky = 2.0 * np.pi * np.fft.fftfreq(ny, d=cell_m)
    kx = 2.0 * np.pi * np.fft.rfftfreq(nx, d=cell_m)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2
    amplitude = (1.0 + k2 * cfg.correlation_length_m**2) ** (-(cfg.hurst + 1.0) / 2.0)
    amplitude[0, 0] = 0.0
    field_m = np.fft.irfft2(np.fft.rfft2(noise) * amplitude, s=(ny, nx))
    field_m -= field_m.mean()
    std = float(field_m.std())
    if std == 0.0:
        return np.zeros(shape)
    out: FloatArray = field_m * (cfg.rms_m / std)
    return out


def generate_terrain(
    config: ProceduralTerrainConfig,
    size_xy_m: tuple[float, float],
    cell_size_m: float,
    rng: np.random.Generator,
) -> Terrain:
    """Generate a lunar site of ``size_xy_m`` (x, y extent, in m) at ``cell_size_m`` cells.

    The origin is the site's south-west corner. Craters (count Poisson, diameters from the
    VIPER size-frequency distribution truncated to the configured range, depth/diameter
    uniform between 0.04 and fresh) are superposed on fractal roughness; centres range over
    the site grown by 1.5 radii so edge craters cut in. Rocks (count Poisson, VIPER
    distribution, uniform positions) below ``rigid_min_diameter_m`` are stamped as bumps when
    at least one cell wide; larger ones are returned in ``Terrain.rocks``, not stamped.

    Craters whose footprint (1.5 radii) touches a clear zone, and rocks touching one, are
    discarded, not redrawn: clear zones thin the distributions locally.

    Raises:
        TerrainError: the site is not a whole number of cells, or has more than
            :data:`MAX_HEIGHTFIELD_SAMPLES` samples.
    """
    nx, ny = _grid_samples(size_xy_m, cell_size_m)
    # The site as a whole number of cells (drops floating error in the given size).
    site = ((nx - 1) * cell_size_m, (ny - 1) * cell_size_m)
    heights = np.zeros((ny, nx), dtype=np.float64)
    zones: tuple[ClearZone | ClearPath, ...] = (*config.clear_zones, *config.clear_paths)

    craters: list[Crater] = []
    if config.craters.enabled and config.craters.density_scale > 0.0:
        craters = _draw_craters(config.craters, site, zones, rng)
        for crater in craters:
            _stamp_crater(heights, crater, cell_size_m)

    rocks: list[Rock] = []
    if config.rocks.enabled and config.rocks.density_scale > 0.0:
        rocks = _draw_rocks(config.rocks, site, zones, heights, cell_size_m, rng)

    if config.roughness.rms_m > 0.0:
        heights += _roughness(config.roughness, (ny, nx), cell_size_m, rng)

    logger.debug(
        "generated terrain %d x %d samples at %.3f m: %d craters, %d rigid rocks",
        nx,
        ny,
        cell_size_m,
        len(craters),
        len(rocks),
    )
    return Terrain(heights, float(cell_size_m), (0.0, 0.0), tuple(craters), tuple(rocks))
