"""Soil mechanics formulas: cutting resistance of a tool and pressure–sinkage of a wheel.

Plain functions of SI numbers, with gravity an explicit argument: lunar gravity must act on
the soil as well as on the rover (the "gravitational offset fallacy", Hu, Negrut et al.,
arXiv 2405.11001, reference/LUNAR.md), so nothing here assumes a value of g.

- Cutting: the Fundamental Earthmoving Equation (Reece 1964) with the McKyes (1985) factors
  for a flat blade, the failure plane chosen to minimise the force
  (reference/SIM.md, "Soil").
- Wheels: Bekker–Wong static sinkage and compaction resistance of a rigid wheel, and the
  Janosi–Hanamoto soil thrust (reference/SIM.md and reference/LUNAR.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FeeForce",
    "bekker_static_sinkage_m",
    "compaction_resistance_n",
    "contact_length_m",
    "fee_factors",
    "fee_force",
    "soil_thrust_n",
    "traction_limited_depth_m",
    "vertical_cut_height_m",
]

_RHO_SEARCH = np.radians(np.linspace(0.5, 89.5, 1797))
"""Failure-plane angles tried when minimising the FEE force (0.05° steps), in rad."""


@dataclass(frozen=True, slots=True)
class FeeForce:
    """Soil reaction on a cutting blade.

    ``total_n`` acts at the soil–tool friction angle to the blade normal; ``horizontal_n``
    resists the cut along the travel direction; ``vertical_n`` is positive downward (the
    soil wedge pulls a raked blade into the ground). ``failure_angle_rad`` is the angle of
    the failure plane from horizontal that minimises the force.
    """

    total_n: float
    horizontal_n: float
    vertical_n: float
    failure_angle_rad: float


def _check_angles(phi_rad: float, rake_rad: float, delta_rad: float) -> None:
    if not 0.0 < phi_rad < math.pi / 2:
        raise ValueError(f"friction angle phi_rad must be in (0, π/2), got {phi_rad}")
    if not 0.0 < rake_rad < math.pi:
        raise ValueError(f"rake_rad must be in (0, π), got {rake_rad}")
    if not 0.0 <= delta_rad < math.pi / 2:
        raise ValueError(f"soil-tool friction delta_rad must be in [0, π/2), got {delta_rad}")


def fee_factors(
    phi_rad: float,
    rake_rad: float,
    delta_rad: float,
    failure_angle_rad: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """McKyes (1985) factors ``(N_γ, N_c, N_q, N_a)`` for a failure plane at ``ρ``.

    Args:
        phi_rad: internal friction angle of the soil φ, in rad.
        rake_rad: blade angle β from horizontal, in rad.
        delta_rad: soil–tool friction angle δ, in rad.
        failure_angle_rad: failure-plane angle ρ from horizontal, in rad (scalar or array).

    Where the denominator ``cos(β+δ) + sin(β+δ) cot(ρ+φ)`` is not positive the wedge cannot
    fail on that plane and the factors are ``inf``.
    """
    rho = np.asarray(failure_angle_rad, dtype=np.float64)
    bd = rake_rad + delta_rad
    cot_b = 1.0 / math.tan(rake_rad)
    cot_r = 1.0 / np.tan(rho)
    cot_rp = 1.0 / np.tan(rho + phi_rad)
    den = math.cos(bd) + math.sin(bd) * cot_rp
    ok = den > 1e-12
    safe = np.where(ok, den, 1.0)
    n_gamma = np.where(ok, (cot_b + cot_r) / (2.0 * safe), np.inf)
    n_c = np.where(ok, (1.0 + cot_r * cot_rp) / safe, np.inf)
    n_q = np.where(ok, (cot_b + cot_r) / safe, np.inf)
    n_a = np.where(ok, (1.0 - cot_b * cot_rp) / safe, np.inf)
    return n_gamma, n_c, n_q, n_a


def fee_force(
    width_m: float,
    depth_m: float,
    *,
    density_kgpm3: float,
    gravity_mps2: float,
    cohesion_pa: float,
    phi_rad: float,
    rake_rad: float,
    delta_rad: float,
    adhesion_pa: float = 0.0,
    surcharge_pa: float = 0.0,
) -> FeeForce:
    """Cutting resistance of a flat blade by the Fundamental Earthmoving Equation.

    ``F = w (γ d² N_γ + c d N_c + q d N_q + c_a d N_a)`` with ``γ = ρ g`` the unit weight
    (Reece 1964; factors of McKyes 1985; reference/SIM.md), minimised over the failure
    plane angle. Horizontal ``H = F sin(β+δ)``, vertical ``V = F cos(β+δ)``.

    Args:
        width_m: blade width in contact with the soil, in m.
        depth_m: cutting depth below the soil surface, in m.
        density_kgpm3: bulk density of the soil being cut, in kg/m³.
        gravity_mps2: gravity acting on the soil, in m/s².
        cohesion_pa: soil cohesion c, in Pa.
        phi_rad, rake_rad, delta_rad: φ, β and δ, in rad (see :func:`fee_factors`).
        adhesion_pa: soil–tool adhesion c_a, in Pa.
        surcharge_pa: pressure q of soil resting on the failure surface, in Pa.
    """
    _check_angles(phi_rad, rake_rad, delta_rad)
    for name, value in (
        ("width_m", width_m),
        ("depth_m", depth_m),
        ("density_kgpm3", density_kgpm3),
        ("gravity_mps2", gravity_mps2),
        ("cohesion_pa", cohesion_pa),
        ("adhesion_pa", adhesion_pa),
        ("surcharge_pa", surcharge_pa),
    ):
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name} must be finite and non-negative, got {value}")
    if width_m == 0.0 or depth_m == 0.0:
        return FeeForce(0.0, 0.0, 0.0, math.nan)
    n_gamma, n_c, n_q, n_a = fee_factors(phi_rad, rake_rad, delta_rad, _RHO_SEARCH)
    gamma = density_kgpm3 * gravity_mps2
    with np.errstate(invalid="ignore"):
        f = width_m * (
            gamma * depth_m**2 * n_gamma
            + cohesion_pa * depth_m * n_c
            + surcharge_pa * depth_m * n_q
            + adhesion_pa * depth_m * n_a
        )
    f = np.where(np.isfinite(f) & (f >= 0.0), f, np.inf)
    k = int(np.argmin(f))
    total = float(f[k])
    if not math.isfinite(total):
        raise ValueError(
            f"no failure plane for rake {math.degrees(rake_rad):.1f}°, "
            f"δ {math.degrees(delta_rad):.1f}°, φ {math.degrees(phi_rad):.1f}°"
        )
    bd = rake_rad + delta_rad
    return FeeForce(total, total * math.sin(bd), total * math.cos(bd), float(_RHO_SEARCH[k]))


def traction_limited_depth_m(
    traction_n: float,
    width_m: float,
    *,
    max_depth_m: float = 2.0,
    tolerance_m: float = 1e-5,
    **soil: float,
) -> float:
    """Deepest cut whose horizontal FEE resistance the rover's traction can overcome, in m.

    Bisection on ``fee_force(width_m, d, **soil).horizontal_n = traction_n`` (the force
    grows monotonically with depth). Returns ``max_depth_m`` if even that depth is within
    the traction, 0 if the traction is zero.
    """
    if traction_n <= 0.0:
        return 0.0

    def h(d: float) -> float:
        return fee_force(width_m, d, **soil).horizontal_n

    if h(max_depth_m) <= traction_n:
        return max_depth_m
    lo, hi = 0.0, max_depth_m
    while hi - lo > tolerance_m:
        mid = 0.5 * (lo + hi)
        if h(mid) <= traction_n:
            lo = mid
        else:
            hi = mid
    return lo


def vertical_cut_height_m(
    cohesion_pa: float, phi_rad: float, density_kgpm3: float, gravity_mps2: float
) -> float:
    """Critical height of an unsupported vertical cut, ``4 c / γ · tan(45° + φ/2)``, in m.

    Terzaghi's Rankine estimate (Terzaghi 1943, Theoretical Soil Mechanics). Faces lower
    than this stand; it grows as gravity falls, which is why Apollo trench walls stood.
    """
    gamma = density_kgpm3 * gravity_mps2
    if gamma <= 0.0:
        raise ValueError(f"unit weight must be positive, got ρ g = {gamma}")
    return 4.0 * cohesion_pa / gamma * math.tan(math.pi / 4 + phi_rad / 2)


def bekker_static_sinkage_m(
    load_n: float,
    *,
    width_m: float,
    diameter_m: float,
    k_c: float,
    k_phi: float,
    n: float,
) -> float:
    """Static sinkage of a rigid wheel, Bekker–Wong, in m.

    ``z = [3W / ((3 − n)(k_c + b k_φ) √D)]^(2/(2n+1))`` (reference/SIM.md), with ``W`` the
    wheel load (N), ``b`` its width (m), ``D`` its diameter (m), ``k_c`` in N/m^(n+1),
    ``k_φ`` in N/m^(n+2).
    """
    if load_n <= 0.0:
        return 0.0
    if not 0.0 <= n < 3.0:
        raise ValueError(f"sinkage exponent n must be in [0, 3), got {n}")
    if width_m <= 0.0 or diameter_m <= 0.0:
        raise ValueError(f"wheel width and diameter must be positive, got {width_m}, {diameter_m}")
    base = 3.0 * load_n / ((3.0 - n) * (k_c + width_m * k_phi) * math.sqrt(diameter_m))
    return float(base ** (2.0 / (2.0 * n + 1.0)))


def compaction_resistance_n(
    sinkage_m: float, *, width_m: float, k_c: float, k_phi: float, n: float
) -> float:
    """Bekker compaction (rolling) resistance ``b (k_c/b + k_φ) z^(n+1) / (n+1)``, in N."""
    if sinkage_m <= 0.0:
        return 0.0
    return float(width_m * (k_c / width_m + k_phi) * sinkage_m ** (n + 1.0) / (n + 1.0))


def contact_length_m(sinkage_m: float, diameter_m: float) -> float:
    """Chord of a rigid wheel of diameter ``D`` sunk ``z``: ``2 √(z (D − z))``, in m."""
    z = min(max(sinkage_m, 0.0), diameter_m)
    return 2.0 * math.sqrt(z * (diameter_m - z))


def soil_thrust_n(
    contact_area_m2: float,
    load_n: float,
    *,
    cohesion_pa: float,
    phi_rad: float,
    slip: float = 1.0,
    contact_length_m: float = 0.0,
    shear_modulus_m: float = 0.0,
) -> float:
    """Janosi–Hanamoto soil thrust ``(A c + W tan φ)[1 − K/(i l)(1 − e^(−i l/K))]``, in N.

    With ``slip`` i, contact length l and shear deformation modulus K (reference/SIM.md).
    ``shear_modulus_m = 0`` gives the full Mohr–Coulomb limit ``A c + W tan φ``.
    """
    limit = contact_area_m2 * cohesion_pa + load_n * math.tan(phi_rad)
    if shear_modulus_m <= 0.0:
        return limit
    il = slip * contact_length_m
    if il <= 0.0:
        return 0.0
    k = shear_modulus_m
    return limit * (1.0 - k / il * (1.0 - math.exp(-il / k)))
