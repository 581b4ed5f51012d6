"""The scenario file's terrain section (``site.terrain``): pydantic models.

Procedural terrain (:class:`ProceduralTerrainConfig`: craters, rocks, roughness, and the
zones and paths kept clear of them), built by :func:`~.terrain_generation.generate_terrain`;
or a DEM file (:class:`DemTerrainConfig`), read by :func:`~.dem.load_dem`.
:data:`TerrainConfig` tells them apart by ``kind``.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from lunarsite.robot.config import NonNegative, Positive, StrictModel

__all__ = [
    "ClearPath",
    "ClearZone",
    "CraterConfig",
    "DemTerrainConfig",
    "ProceduralTerrainConfig",
    "RockConfig",
    "RoughnessConfig",
    "TerrainConfig",
]

FloatArray = NDArray[np.float64]
_Finite = Annotated[float, Field(allow_inf_nan=False)]


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
    """Terrain generated from lunar statistics (see
    :func:`~.terrain_generation.generate_terrain`)."""

    kind: Literal["procedural"] = "procedural"
    craters: CraterConfig = CraterConfig()
    rocks: RockConfig = RockConfig()
    roughness: RoughnessConfig = RoughnessConfig()
    clear_zones: tuple[ClearZone, ...] = ()
    clear_paths: tuple[ClearPath, ...] = ()


class DemTerrainConfig(StrictModel):  # type: ignore[misc, unused-ignore]
    """Terrain read from a file (see :func:`~.dem.load_dem`).

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
