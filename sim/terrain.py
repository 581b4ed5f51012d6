"""Ground truth terrain: procedural lunar terrain from published statistics, or a DEM file.

Site frame: x east, y north, z up, in m. The origin is the south-west corner of the site,
so a :class:`Terrain` made here has ``origin_xy_m == (0.0, 0.0)``. Heights are stored as an
array of shape ``(ny, nx)``: ``heights_m[j, i]`` is the height at
``x = origin_x + i * cell``, ``y = origin_y + j * cell``; row ``j = 0`` is the south edge.
This is also the layout PyBullet's heightfield wants (see reference/SIM.md).

Procedural terrain superposes three layers on a flat plane:

- craters drawn from the NASA VIPER environmental specification's size-frequency
  distribution, each with the Fassett & Thomson (2014) profile scaled to a depth/diameter
  ratio between degraded (0.04) and fresh (Stopar et al. 2017);
- rocks drawn from the VIPER rock size-frequency distribution: rocks of at least
  ``rigid_min_diameter_m`` become rigid bodies (:class:`Rock`, with a convex mesh), smaller
  ones are stamped into the heights as half-ellipsoid bumps;
- fractal roughness by spectral synthesis (a von Kármán spectrum: power law with a Hurst
  exponent, flattened at wavelengths beyond a correlation length).

All randomness comes from the :class:`numpy.random.Generator` passed in: the same seed gives
the same arrays, bit for bit.

The numbers come from /work/shared/reference/LUNAR.md ("Terrain statistics"), which takes
them from the VIPER specification as coded in NASA's synthterrain.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, overload

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from lunarsite.robot.config import NonNegative, Positive, StrictModel

__all__ = [
    "MAX_HEIGHTFIELD_SAMPLES",
    "ClearZone",
    "Crater",
    "CraterConfig",
    "DemTerrainConfig",
    "ProceduralTerrainConfig",
    "Rock",
    "RockConfig",
    "RoughnessConfig",
    "Terrain",
    "TerrainConfig",
    "TerrainError",
    "crater_cumulative_density_per_m2",
    "crater_profile",
    "fresh_depth_ratio",
    "generate_terrain",
    "load_dem",
    "rock_cumulative_density_per_m2",
]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
_Finite = Annotated[float, Field(allow_inf_nan=False)]

# --------------------------------------------------------------------------------------
# Constants, each with its source
# --------------------------------------------------------------------------------------

MAX_HEIGHTFIELD_SAMPLES = 2**21
"""Largest heightfield PyBullet handles on Linux (an 8 MiB shared-memory chunk); larger
fields are created without an error but rays and contacts find nothing (reference/SIM.md)."""

# Crater cumulative size-frequency distribution, N(>D) per km² with D in m: NASA VIPER
# environmental specification, as coded in NASA's synthterrain (reference/LUNAR.md).
_CRATER_SFD_SMALL_COEFF_PER_KM2 = 29174.0  # VIPER spec, D <= 80 m
_CRATER_SFD_SMALL_EXPONENT = -1.92  # VIPER spec, D <= 80 m
_CRATER_SFD_LARGE_COEFF_PER_KM2 = 156228.0  # VIPER spec, D > 80 m
_CRATER_SFD_LARGE_EXPONENT = -2.389  # VIPER spec, D > 80 m
_CRATER_SFD_BREAK_DIAMETER_M = 80.0  # VIPER spec branch point
_M2_PER_KM2 = 1.0e6

# Rock cumulative size-frequency distribution, N(>D) per m² with D in m: VIPER
# environmental specification (reference/LUNAR.md). "blocky" is the field near fresh craters.
_ROCK_SFD: dict[str, tuple[float, float]] = {
    "typical": (0.0003, -2.482),  # VIPER spec, typical rock field
    "blocky": (0.002, -2.6607),  # VIPER spec, blocky field near fresh craters
}

# Fresh crater depth/diameter by diameter class: Stopar et al. (2017), via synthterrain's
# stopar_fresh_dd (reference/LUNAR.md). Upper class edges in m; above the last, clip.
_FRESH_DD_UPPER_EDGES_M = (10.0, 40.0)  # Stopar et al. 2017 classes: <10, 10-40, 40-100 m
_FRESH_DD_RATIOS = (0.10, 0.11, 0.13)  # Stopar et al. 2017
# Depth/diameter below which a crater has degraded away (reference/LUNAR.md).
_DEGRADED_DEPTH_RATIO = 0.04

# Crater profile, Fassett & Thomson (2014, doi:10.1002/2014JE004698) eq. 4 with the flat
# rim of Fassett's 2022 revision as coded in synthterrain (FTmod_Crater). Heights in units
# of D against r = distance / crater radius; polynomial coefficients in ascending powers.
_PROFILE_FLOOR_R = 0.2  # Fassett & Thomson 2014: flat floor for r <= 0.2
_PROFILE_FLOOR_H = -0.181  # Fassett & Thomson 2014: floor height / D
_PROFILE_INTERIOR_POLY = (-0.2288, 0.2275, 0.0831, -0.0395)  # Fassett & Thomson 2014
_PROFILE_RIM_INNER_R = 0.98  # Fassett 2022 (synthterrain FTmod_Crater): flat rim from here
_PROFILE_RIM_OUTER_R = 1.02  # ... to here
_PROFILE_RIM_H = 0.0368  # Fassett 2022 (synthterrain FTmod_Crater): rim height / D
_PROFILE_EXTERIOR_POLY = (0.1883, -0.1871, 0.0184, 0.0151)  # Fassett & Thomson 2014
_PROFILE_OUTER_R = 1.5  # Fassett & Thomson 2014: ejecta profile ends at 1.5 radii
_PROFILE_RIM_TO_FLOOR = _PROFILE_RIM_H - _PROFILE_FLOOR_H  # 0.2178 D

# Rocks. Embedding: a rock's lowest point lies 0.2-0.5 of its height below the surface
# (design choice for lunarsite; partly buried rocks as seen in Apollo and Chang'e imagery).
_ROCK_EMBED_FRACTION_RANGE = (0.2, 0.5)
# Stamped (small) rocks: half-ellipsoid of radius D/2 and height 0.5·D·(1 - embed fraction)
# (lunarsite design choice: an exposed, flattened pebble).
_SMALL_ROCK_HEIGHT_PER_DIAMETER = 0.5
# Rigid rock shape (lunarsite design choice): an icosphere with radial noise, a second
# horizontal axis and a vertical axis shortened by the factors below.
_ROCK_ICOSPHERE_SUBDIVISIONS = 1  # 42 vertices
_ROCK_RADIAL_NOISE = 0.2  # vertex radius times U(1 - 0.2, 1 + 0.2)
_ROCK_HORIZONTAL_ASPECT_RANGE = (0.7, 1.0)  # second horizontal axis / first
_ROCK_FLATTENING_RANGE = (0.6, 0.9)  # vertical axis / first horizontal axis

# Tolerance for "the site is a whole number of cells", in cells.
_WHOLE_CELLS_TOLERANCE = 1e-6


class TerrainError(ValueError):
    """A terrain could not be built: bad DEM file, bad grid, too many samples.

    The message names the file or field and the reason.
    """


# --------------------------------------------------------------------------------------
# Configuration (scenario file schema)
# --------------------------------------------------------------------------------------


class ClearZone(StrictModel):  # type: ignore[misc, unused-ignore]
    """A disc kept free of rocks and craters (a landing pad, the rover's start).

    No rock and no crater footprint (1.5 crater radii, where the ejecta profile ends) may
    touch it.
    """

    x_m: _Finite
    y_m: _Finite
    radius_m: Positive

    def distance_m(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Distance from each point to the zone's edge (negative inside), in m."""
        return np.asarray(np.hypot(x - self.x_m, y - self.y_m) - self.radius_m)


class ClearPath(StrictModel):  # type: ignore[misc, unused-ignore]
    """A corridor kept free of rocks and craters: a route surveyed and cleared.

    ``points_xy_m`` is a polyline of (x, y) points in m; the corridor reaches
    ``half_width_m`` to each side of it (and around its ends).
    """

    points_xy_m: Annotated[tuple[tuple[_Finite, _Finite], ...], Field(min_length=2)]
    half_width_m: Positive

    def distance_m(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Distance from each point to the corridor's edge (negative inside), in m."""
        pts = np.asarray(self.points_xy_m, dtype=np.float64)
        best = np.full(np.shape(x), np.inf)
        for (ax, ay), (bx, by) in itertools.pairwise(pts):
            vx, vy = bx - ax, by - ay
            seg2 = vx * vx + vy * vy
            t = np.clip(((x - ax) * vx + (y - ay) * vy) / seg2, 0.0, 1.0) if seg2 > 0 else 0.0
            best = np.minimum(best, np.hypot(x - (ax + t * vx), y - (ay + t * vy)))
        return np.asarray(best - self.half_width_m)


class CraterConfig(StrictModel):  # type: ignore[misc, unused-ignore]
    """Craters with diameters in ``[min_diameter_m, max_diameter_m]``, VIPER statistics."""

    enabled: bool = True
    min_diameter_m: Positive = 0.5
    max_diameter_m: Positive = 10.0
    density_scale: NonNegative = 1.0
    """Multiplies the VIPER crater density (1 = the specification)."""

    @model_validator(mode="after")
    def _range(self) -> CraterConfig:
        if self.max_diameter_m <= self.min_diameter_m:
            raise ValueError(
                f"max_diameter_m ({self.max_diameter_m}) must be greater than "
                f"min_diameter_m ({self.min_diameter_m})"
            )
        return self


class RockConfig(StrictModel):  # type: ignore[misc, unused-ignore]
    """Rocks with diameters in ``[min_diameter_m, max_diameter_m]``, VIPER statistics.

    Rocks of at least ``rigid_min_diameter_m`` become rigid bodies; smaller ones are stamped
    into the height grid (only those at least about one cell wide).
    """

    enabled: bool = True
    distribution: Literal["typical", "blocky"] = "typical"
    min_diameter_m: Positive = 0.05
    rigid_min_diameter_m: Positive = 0.2
    max_diameter_m: Positive = 1.0
    density_scale: NonNegative = 1.0
    """Multiplies the VIPER rock density (1 = the specification)."""

    @model_validator(mode="after")
    def _range(self) -> RockConfig:
        if self.max_diameter_m <= self.min_diameter_m:
            raise ValueError(
                f"max_diameter_m ({self.max_diameter_m}) must be greater than "
                f"min_diameter_m ({self.min_diameter_m})"
            )
        if not self.min_diameter_m <= self.rigid_min_diameter_m <= self.max_diameter_m:
            raise ValueError(
                f"rigid_min_diameter_m ({self.rigid_min_diameter_m}) must lie within "
                f"[min_diameter_m, max_diameter_m] = "
                f"[{self.min_diameter_m}, {self.max_diameter_m}]"
            )
        return self


class RoughnessConfig(StrictModel):  # type: ignore[misc, unused-ignore]
    """Fractal surface roughness (von Kármán spectrum)."""

    rms_m: NonNegative = 0.01
    """Root-mean-square height of the roughness layer, in m (0 turns it off)."""
    hurst: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8
    """Hurst exponent (dimensionless); higher is smoother at short wavelengths."""
    correlation_length_m: Positive = 2.0
    """Wavelength scale beyond which the spectrum flattens, in m."""


class ProceduralTerrainConfig(StrictModel):  # type: ignore[misc, unused-ignore]
    """Terrain generated from lunar statistics (see :func:`generate_terrain`)."""

    kind: Literal["procedural"] = "procedural"
    craters: CraterConfig = CraterConfig()
    rocks: RockConfig = RockConfig()
    roughness: RoughnessConfig = RoughnessConfig()
    clear_zones: tuple[ClearZone, ...] = ()
    clear_paths: tuple[ClearPath, ...] = ()


class DemTerrainConfig(StrictModel):  # type: ignore[misc, unused-ignore]
    """Terrain read from a file (see :func:`load_dem`).

    ``.npy``: a 2-D floating-point array, row 0 the south edge; height = offset + scale ×
    value (values in m when ``height_scale_m`` is 1). ``.png``: 16-bit single channel, row 0
    the north edge (image convention); height = offset + scale × pixel value.
    """

    kind: Literal["dem"]
    path: str
    """Relative paths resolve against the scenario file's folder."""
    cell_size_m: Positive
    height_scale_m: Positive = 1.0
    height_offset_m: _Finite = 0.0


TerrainConfig = Annotated[ProceduralTerrainConfig | DemTerrainConfig, Field(discriminator="kind")]


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Crater:
    """A crater stamped into the terrain; centre in the site frame, sizes in m."""

    x_m: float
    y_m: float
    diameter_m: float
    depth_m: float
    """Rim crest to floor, in m."""


def _readonly(array: FloatArray) -> FloatArray:
    out = np.array(array, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Rock:
    """A rigid rock: an irregular convex body resting partly buried in the surface.

    ``vertices_m`` (shape (N, 3), read-only) are the points of a convex hull centred on the
    solid's centroid, in the rock's own frame (z up), for a PyBullet convex mesh. Its
    largest horizontal extent is ``diameter_m``. The lowest vertex lies ``embed_depth_m``
    below the local surface, so the centroid sits at
    ``surface_z - embed_depth_m - vertices_m[:, 2].min()``.
    """

    x_m: float
    y_m: float
    diameter_m: float
    embed_depth_m: float
    vertices_m: FloatArray

    def __post_init__(self) -> None:
        v = np.asarray(self.vertices_m, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 4:
            raise ValueError(f"vertices_m must have shape (N >= 4, 3), got {v.shape}")
        object.__setattr__(self, "vertices_m", _readonly(v))

    @property
    def height_m(self) -> float:
        """Vertical extent of the rock, in m."""
        z = self.vertices_m[:, 2]
        return float(z.max() - z.min())


@dataclass(frozen=True, eq=False)
class Terrain:
    """A height grid with the craters and rigid rocks it was made with.

    ``heights_m`` (read-only, float64, shape (ny, nx)): ``heights_m[j, i]`` is the height
    at ``x = origin_x + i * cell_size_m``, ``y = origin_y + j * cell_size_m``; row 0 is the
    south edge. ``rocks`` holds only the rigid rocks; smaller ones are part of the heights.
    """

    heights_m: FloatArray
    cell_size_m: float
    origin_xy_m: tuple[float, float] = (0.0, 0.0)
    craters: tuple[Crater, ...] = ()
    rocks: tuple[Rock, ...] = ()

    def __post_init__(self) -> None:
        h = np.asarray(self.heights_m)
        if h.ndim != 2 or h.shape[0] < 2 or h.shape[1] < 2:
            raise ValueError(f"heights_m must be 2-D with at least 2x2 samples, got {h.shape}")
        if not np.all(np.isfinite(h)):
            raise ValueError("heights_m contains non-finite values")
        if not (math.isfinite(self.cell_size_m) and self.cell_size_m > 0.0):
            raise ValueError(f"cell_size_m must be positive and finite, got {self.cell_size_m}")
        object.__setattr__(self, "heights_m", _readonly(h))
        object.__setattr__(
            self, "origin_xy_m", (float(self.origin_xy_m[0]), float(self.origin_xy_m[1]))
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``, the number of samples along y and x."""
        ny, nx = self.heights_m.shape
        return (int(ny), int(nx))

    @property
    def size_xy_m(self) -> tuple[float, float]:
        """Extent of the grid from the first to the last sample, ``((nx-1)·cell, (ny-1)·cell)``."""
        ny, nx = self.shape
        return ((nx - 1) * self.cell_size_m, (ny - 1) * self.cell_size_m)

    @property
    def x_coords_m(self) -> FloatArray:
        """x of each column, in m."""
        return self.origin_xy_m[0] + np.arange(self.shape[1], dtype=np.float64) * self.cell_size_m

    @property
    def y_coords_m(self) -> FloatArray:
        """y of each row, in m (row 0 is the south edge)."""
        return self.origin_xy_m[1] + np.arange(self.shape[0], dtype=np.float64) * self.cell_size_m

    def contains(self, x_m: float, y_m: float) -> bool:
        """Whether (x, y) lies on the grid (edges included)."""
        sx, sy = self.size_xy_m
        ox, oy = self.origin_xy_m
        eps = 1e-9 * max(1.0, sx, sy)
        return bool(ox - eps <= x_m <= ox + sx + eps and oy - eps <= y_m <= oy + sy + eps)

    def height_at(self, x_m: float, y_m: float) -> float:
        """Bilinearly interpolated height at (x, y), in m.

        Raises:
            ValueError: (x, y) is outside the grid.
        """
        if not self.contains(x_m, y_m):
            sx, sy = self.size_xy_m
            ox, oy = self.origin_xy_m
            raise ValueError(
                f"point ({x_m}, {y_m}) m is outside the terrain "
                f"[{ox}, {ox + sx}] x [{oy}, {oy + sy}] m"
            )
        ny, nx = self.shape
        fx = (x_m - self.origin_xy_m[0]) / self.cell_size_m
        fy = (y_m - self.origin_xy_m[1]) / self.cell_size_m
        i = min(max(math.floor(fx), 0), nx - 2)
        j = min(max(math.floor(fy), 0), ny - 2)
        tx = min(max(fx - i, 0.0), 1.0)
        ty = min(max(fy - j, 0.0), 1.0)
        h = self.heights_m
        south = (1.0 - tx) * h[j, i] + tx * h[j, i + 1]
        north = (1.0 - tx) * h[j + 1, i] + tx * h[j + 1, i + 1]
        return float((1.0 - ty) * south + ty * north)


# --------------------------------------------------------------------------------------
# Statistics and shapes (plain functions)
# --------------------------------------------------------------------------------------


def _positive_diameters(diameter_m: float | FloatArray, name: str = "diameter_m") -> FloatArray:
    d = np.asarray(diameter_m, dtype=np.float64)
    if not np.all(d > 0.0):
        raise ValueError(f"{name} must be positive, got {diameter_m!r}")
    return d


def _like_input(value: FloatArray, template: float | FloatArray) -> float | FloatArray:
    if np.ndim(template) == 0:
        return float(value)
    return value


@overload
def crater_cumulative_density_per_m2(diameter_m: float) -> float: ...
@overload
def crater_cumulative_density_per_m2(diameter_m: FloatArray) -> FloatArray: ...
def crater_cumulative_density_per_m2(diameter_m: float | FloatArray) -> float | FloatArray:
    """Number of craters wider than ``diameter_m`` per m² (VIPER specification).

    29174·D^-1.92 per km² for D <= 80 m, 156228·D^-2.389 per km² above (D in m). The two
    branches do not meet at 80 m; the step is the specification's.
    """
    d = _positive_diameters(diameter_m)
    small = _CRATER_SFD_SMALL_COEFF_PER_KM2 * d**_CRATER_SFD_SMALL_EXPONENT
    large = _CRATER_SFD_LARGE_COEFF_PER_KM2 * d**_CRATER_SFD_LARGE_EXPONENT
    out = np.where(d <= _CRATER_SFD_BREAK_DIAMETER_M, small, large) / _M2_PER_KM2
    return _like_input(out, diameter_m)


def _crater_diameter_for_density(n_per_m2: FloatArray) -> FloatArray:
    """Inverse of :func:`crater_cumulative_density_per_m2` (D with N(>D) = n).

    Where n falls in the step at 80 m, the answer is 80 m.
    """
    n_km2 = n_per_m2 * _M2_PER_KM2
    brk = _CRATER_SFD_BREAK_DIAMETER_M
    n_small_at_break = _CRATER_SFD_SMALL_COEFF_PER_KM2 * brk**_CRATER_SFD_SMALL_EXPONENT
    n_large_at_break = _CRATER_SFD_LARGE_COEFF_PER_KM2 * brk**_CRATER_SFD_LARGE_EXPONENT
    d_small = (n_km2 / _CRATER_SFD_SMALL_COEFF_PER_KM2) ** (1.0 / _CRATER_SFD_SMALL_EXPONENT)
    d_large = (n_km2 / _CRATER_SFD_LARGE_COEFF_PER_KM2) ** (1.0 / _CRATER_SFD_LARGE_EXPONENT)
    out: FloatArray = np.where(
        n_km2 >= n_small_at_break, d_small, np.where(n_km2 <= n_large_at_break, d_large, brk)
    )
    return out


@overload
def rock_cumulative_density_per_m2(
    diameter_m: float, distribution: Literal["typical", "blocky"]
) -> float: ...
@overload
def rock_cumulative_density_per_m2(
    diameter_m: FloatArray, distribution: Literal["typical", "blocky"]
) -> FloatArray: ...
def rock_cumulative_density_per_m2(
    diameter_m: float | FloatArray, distribution: Literal["typical", "blocky"]
) -> float | FloatArray:
    """Number of rocks wider than ``diameter_m`` per m² (VIPER specification).

    ``typical``: 0.0003·D^-2.482; ``blocky`` (near fresh craters): 0.002·D^-2.6607 (D in m).
    """
    if distribution not in _ROCK_SFD:
        raise ValueError(f"distribution must be 'typical' or 'blocky', got {distribution!r}")
    coeff, exponent = _ROCK_SFD[distribution]
    d = _positive_diameters(diameter_m)
    return _like_input(coeff * d**exponent, diameter_m)


@overload
def fresh_depth_ratio(diameter_m: float) -> float: ...
@overload
def fresh_depth_ratio(diameter_m: FloatArray) -> FloatArray: ...
def fresh_depth_ratio(diameter_m: float | FloatArray) -> float | FloatArray:
    """Depth/diameter of a fresh crater (Stopar et al. 2017).

    0.10 below 10 m, 0.11 for 10-40 m, 0.13 from 40 m (the 40-100 m class, held above).
    """
    d = _positive_diameters(diameter_m)
    idx = np.searchsorted(np.asarray(_FRESH_DD_UPPER_EDGES_M), d, side="right")
    out = np.asarray(_FRESH_DD_RATIOS, dtype=np.float64)[idx]
    return _like_input(out, diameter_m)


def crater_profile(r: FloatArray) -> FloatArray:
    """Height of a crater in units of its diameter against ``r`` = distance / radius.

    Fassett & Thomson (2014) with a flat rim (Fassett 2022, as coded in synthterrain):
    floor -0.181 for r <= 0.2, an interior cubic to r = 0.98, rim 0.0368 to r = 1.02, an
    exterior (ejecta) cubic to r = 1.5 and 0 beyond. Rim to floor is 0.2178 D.

    Raises:
        ValueError: some r is negative.
    """
    rr = np.asarray(r, dtype=np.float64)
    if np.any(rr < 0.0):
        raise ValueError("crater_profile: r (distance / crater radius) must be >= 0")
    poly = np.polynomial.polynomial.polyval
    out: FloatArray = np.select(
        [
            rr <= _PROFILE_FLOOR_R,
            rr <= _PROFILE_RIM_INNER_R,
            rr <= _PROFILE_RIM_OUTER_R,
            rr <= _PROFILE_OUTER_R,
        ],
        [
            np.full_like(rr, _PROFILE_FLOOR_H),
            poly(rr, _PROFILE_INTERIOR_POLY),
            np.full_like(rr, _PROFILE_RIM_H),
            poly(rr, _PROFILE_EXTERIOR_POLY),
        ],
        default=0.0,
    )
    return out


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


def _rock_vertices(diameter_m: float, rng: np.random.Generator) -> FloatArray:
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


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------


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
    margin = _PROFILE_OUTER_R * cfg.max_diameter_m / 2.0
    n_lo = crater_cumulative_density_per_m2(cfg.min_diameter_m)
    n_hi = crater_cumulative_density_per_m2(cfg.max_diameter_m)
    mean = (w + 2 * margin) * (h + 2 * margin) * cfg.density_scale * (n_lo - n_hi)
    count = int(rng.poisson(mean))
    u = rng.random(count)
    d = np.clip(
        _crater_diameter_for_density(n_lo - u * (n_lo - n_hi)),
        cfg.min_diameter_m,
        cfg.max_diameter_m,
    )
    x = rng.uniform(-margin, w + margin, count)
    y = rng.uniform(-margin, h + margin, count)
    fresh = fresh_depth_ratio(d)
    ratio = _DEGRADED_DEPTH_RATIO + (fresh - _DEGRADED_DEPTH_RATIO) * rng.random(count)

    reach = _PROFILE_OUTER_R * d / 2.0
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
    reach = _PROFILE_OUTER_R * radius
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
    heights[j0 : j1 + 1, i0 : i1 + 1] += crater_profile(r) * (
        crater.depth_m / _PROFILE_RIM_TO_FLOOR
    )


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
    coeff, exponent = _ROCK_SFD[cfg.distribution]
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
        verts = _rock_vertices(float(di), rng)
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


# --------------------------------------------------------------------------------------
# DEM files
# --------------------------------------------------------------------------------------


def _check_sample_count(path: Path, shape: tuple[int, ...]) -> None:
    if len(shape) == 2 and (shape[0] < 2 or shape[1] < 2):
        raise TerrainError(
            f"DEM {path}: {shape[0]} x {shape[1]} samples; at least 2 x 2 are needed"
        )
    n = math.prod(shape)
    if n > MAX_HEIGHTFIELD_SAMPLES:
        raise TerrainError(
            f"DEM {path}: {n} samples exceed the PyBullet heightfield limit of "
            f"{MAX_HEIGHTFIELD_SAMPLES}; downsample it"
        )


def _read_npy(path: Path) -> FloatArray:
    try:
        raw: Any = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise TerrainError(f"DEM {path}: cannot read as a .npy array ({exc})") from exc
    if not isinstance(raw, np.ndarray):
        raise TerrainError(f"DEM {path}: expected one array, not an archive")
    if raw.ndim != 2:
        raise TerrainError(f"DEM {path}: array has {raw.ndim} dimensions; expected 2 (ny, nx)")
    if not np.issubdtype(raw.dtype, np.floating):
        raise TerrainError(
            f"DEM {path}: dtype {raw.dtype}; expected a floating-point array of heights"
        )
    _check_sample_count(path, raw.shape)
    out: FloatArray = np.array(raw, dtype=np.float64)
    return out


def _read_png(path: Path) -> FloatArray:
    import cv2  # local: only DEM images need OpenCV

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise TerrainError(f"DEM {path}: cannot be read as an image")
    if img.ndim != 2:
        raise TerrainError(
            f"DEM {path}: image has {img.shape[2]} channels; expected a single-channel "
            f"(grayscale) 16-bit PNG"
        )
    if img.dtype != np.uint16:
        bits = img.dtype.itemsize * 8
        raise TerrainError(f"DEM {path}: image is {bits}-bit ({img.dtype}); expected 16-bit")
    _check_sample_count(path, img.shape)
    # Image row 0 is the north edge; the terrain's row 0 is the south edge.
    out: FloatArray = np.flipud(img).astype(np.float64)
    return out


def load_dem(config: DemTerrainConfig, base_dir: Path) -> Terrain:
    """Read a DEM file into a :class:`Terrain` with its origin at (0, 0).

    A relative ``config.path`` resolves against ``base_dir`` (the scenario file's folder).
    ``.npy``: a 2-D floating-point array, row 0 south. ``.png``: 16-bit single channel, row
    0 north (flipped here). Height = ``height_offset_m + height_scale_m × value``.

    Raises:
        TerrainError: the file is missing or unreadable, has an unsupported extension,
            wrong dimensions or dtype, non-finite values, fewer than 2 x 2 or more than
            :data:`MAX_HEIGHTFIELD_SAMPLES` samples. The message names the path.
    """
    path = Path(config.path).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise TerrainError(f"DEM file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        values = _read_npy(path)
    elif suffix == ".png":
        values = _read_png(path)
    else:
        raise TerrainError(
            f"DEM {path}: unsupported extension {path.suffix!r}; use .npy or a 16-bit .png"
        )
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise TerrainError(f"DEM {path}: {bad} non-finite values (NaN or infinity)")
    heights = config.height_offset_m + config.height_scale_m * values
    if not np.all(np.isfinite(heights)):
        raise TerrainError(f"DEM {path}: heights overflow after scaling")
    ny, nx = heights.shape
    logger.debug("loaded DEM %s: %d x %d samples at %.3f m", path, nx, ny, config.cell_size_m)
    return Terrain(heights, config.cell_size_m, (0.0, 0.0), (), ())
