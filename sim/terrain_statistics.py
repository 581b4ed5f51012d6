"""Published lunar terrain statistics, each constant with its source.

- crater and rock cumulative size-frequency distributions from the NASA VIPER
  environmental specification;
- the depth/diameter ratio of fresh craters (Stopar et al. 2017) and of degraded ones
  (0.04);
- the crater profile of Fassett & Thomson (2014) with the flat rim of Fassett's 2022
  revision.

The numbers come from /work/shared/reference/LUNAR.md ("Terrain statistics"), which takes
them from the VIPER specification as coded in NASA's synthterrain.
:mod:`.terrain_generation` draws craters and rocks from them.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEGRADED_DEPTH_RATIO",
    "PROFILE_OUTER_R",
    "PROFILE_RIM_TO_FLOOR",
    "ROCK_SFD",
    "crater_cumulative_density_per_m2",
    "crater_diameter_for_density",
    "crater_profile",
    "fresh_depth_ratio",
    "rock_cumulative_density_per_m2",
]

FloatArray = NDArray[np.float64]

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
ROCK_SFD: dict[str, tuple[float, float]] = {
    "typical": (0.0003, -2.482),  # VIPER spec, typical rock field
    "blocky": (0.002, -2.6607),  # VIPER spec, blocky field near fresh craters
}

# Fresh crater depth/diameter by diameter class: Stopar et al. (2017), via synthterrain's
# stopar_fresh_dd (reference/LUNAR.md). Upper class edges in m; above the last, clip.
_FRESH_DD_UPPER_EDGES_M = (10.0, 40.0)  # Stopar et al. 2017 classes: <10, 10-40, 40-100 m
_FRESH_DD_RATIOS = (0.10, 0.11, 0.13)  # Stopar et al. 2017
# Depth/diameter below which a crater has degraded away (reference/LUNAR.md).
DEGRADED_DEPTH_RATIO = 0.04

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
PROFILE_OUTER_R = 1.5  # Fassett & Thomson 2014: ejecta profile ends at 1.5 radii
PROFILE_RIM_TO_FLOOR = _PROFILE_RIM_H - _PROFILE_FLOOR_H  # 0.2178 D


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


def crater_diameter_for_density(n_per_m2: FloatArray) -> FloatArray:
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
    if distribution not in ROCK_SFD:
        raise ValueError(f"distribution must be 'typical' or 'blocky', got {distribution!r}")
    coeff, exponent = ROCK_SFD[distribution]
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
            rr <= PROFILE_OUTER_R,
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
