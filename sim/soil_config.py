"""The scenario's soil section: material defaults with their sources, and the soil error.

:class:`SoilConfig` holds the soil parameters of a scenario (densities, strength, repose,
Bekker and shear moduli, the loose layer, bedrock depth, grid and collision cells, update
rate); ``material`` picks :data:`MATERIAL_DEFAULTS`. :class:`SoilError` is raised by the
soil grid and the soil operations (:mod:`lunarsite.sim.soil`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from lunarsite.robot.config import NonNegative, Positive, StrictModel

__all__ = ["MATERIAL_DEFAULTS", "SoilConfig", "SoilError"]

# --------------------------------------------------------------------------------------
# Material defaults, each with its source (reference/LUNAR.md, "Gravity and soil")
# --------------------------------------------------------------------------------------

MATERIAL_DEFAULTS: dict[str, dict[str, float]] = {
    "lunar_regolith": {
        # ~1.3 g/cm³ loose; 1.50 ± 0.05 g/cm³ at 0-15 cm (Lunar Sourcebook ch. 9,
        # Carrier et al. 1991, secondary).
        "loose_density_kgpm3": 1300.0,
        "compacted_density_kgpm3": 1500.0,
        # Rover terramechanics models use c = 170 Pa, φ = 33-35° (Lunar Sourcebook;
        # LRV models).
        "cohesion_pa": 170.0,
        "friction_angle_rad": math.radians(35.0),
        # Soil-tool friction 20°: the FEE reference case of reference/SIM.md.
        "tool_friction_angle_rad": math.radians(20.0),
        # Angle of repose: simulants 30-45° in air (LUNAR.md literature range); lunarsite
        # takes the loose friction angle, 35°.
        "repose_angle_rad": math.radians(35.0),
        # Bekker n = 1, k_c = 1400 N/m², k_φ = 820,000 N/m³ (Lunar Sourcebook table 9.28).
        "bekker_n": 1.0,
        "bekker_kc": 1400.0,
        "bekker_kphi": 820_000.0,
        # Janosi-Hanamoto K ≈ 0.0178 m (Lunar Sourcebook).
        "shear_modulus_m": 0.0178,
        # Loose surface layer: ~1.1 g/cm³ at the surface, ~1.6 at 5 cm (Surveyor, Science
        # 1969): lunarsite models the top 5 cm as loose.
        "initial_loose_depth_m": 0.05,
    },
    "bp1": {
        # BP-1 (KSC Lunabotics arena): density 1.43-1.86 g/cm³, peak friction 39-51°,
        # cohesion 0-2 kPa (UCF CLASS simulant database). Loose = the lowest density;
        # compacted 1.70 g/cm³ and cohesion 300 Pa are lunarsite choices inside the ranges
        # for a raked arena trafficked by rovers.
        "loose_density_kgpm3": 1430.0,
        "compacted_density_kgpm3": 1700.0,
        "cohesion_pa": 300.0,
        "friction_angle_rad": math.radians(39.0),
        # δ = 2φ/3, the usual soil-steel estimate (lunarsite choice).
        "tool_friction_angle_rad": math.radians(26.0),
        # Repose 38°: inside the 30-45° simulant range (LUNAR.md), below the peak φ.
        "repose_angle_rad": math.radians(38.0),
        # No Bekker values for BP-1 in the reference: the lunar ones (Lunar Sourcebook
        # table 9.28) stand in.
        "bekker_n": 1.0,
        "bekker_kc": 1400.0,
        "bekker_kphi": 820_000.0,
        "shear_modulus_m": 0.0178,
        # The arena is raked loose before a run (lunarsite choice).
        "initial_loose_depth_m": 0.05,
    },
}

_Angle = Annotated[float, Field(gt=0.0, lt=math.pi / 2)]


class SoilError(ValueError):
    """A soil grid or soil operation that cannot be used as asked."""


class SoilConfig(StrictModel):
    """Soil parameters of a scenario (strict; every unit in the name).

    ``material`` picks the defaults (``lunar_regolith`` or ``bp1``, sources in
    :data:`MATERIAL_DEFAULTS`); any field given explicitly overrides its default.
    """

    material: Literal["lunar_regolith", "bp1"] = "lunar_regolith"
    loose_density_kgpm3: Positive = MATERIAL_DEFAULTS["lunar_regolith"]["loose_density_kgpm3"]
    compacted_density_kgpm3: Positive = MATERIAL_DEFAULTS["lunar_regolith"][
        "compacted_density_kgpm3"
    ]
    cohesion_pa: NonNegative = MATERIAL_DEFAULTS["lunar_regolith"]["cohesion_pa"]
    friction_angle_rad: _Angle = MATERIAL_DEFAULTS["lunar_regolith"]["friction_angle_rad"]
    tool_friction_angle_rad: Annotated[float, Field(ge=0.0, lt=math.pi / 2)] = MATERIAL_DEFAULTS[
        "lunar_regolith"
    ]["tool_friction_angle_rad"]
    repose_angle_rad: _Angle = MATERIAL_DEFAULTS["lunar_regolith"]["repose_angle_rad"]
    bekker_n: Annotated[float, Field(ge=0.0, lt=3.0)] = 1.0
    bekker_kc: NonNegative = MATERIAL_DEFAULTS["lunar_regolith"]["bekker_kc"]
    """Cohesive modulus of deformation k_c, in N/m^(n+1)."""
    bekker_kphi: Positive = MATERIAL_DEFAULTS["lunar_regolith"]["bekker_kphi"]
    """Frictional modulus of deformation k_φ, in N/m^(n+2)."""
    shear_modulus_m: Positive = 0.0178
    initial_loose_depth_m: NonNegative = MATERIAL_DEFAULTS["lunar_regolith"][
        "initial_loose_depth_m"
    ]
    depth_m: Positive | None = None
    """Soil thickness above bedrock at the start, in m: nothing is cut, pressed or slumps
    below the initial surface minus this. ``None``: no bedrock within reach. The KSC
    Lunabotics arena holds ~0.45 m of BP-1 (reference/LUNAR.md, "NASA Lunabotics")."""

    cell_size_m: Positive | None = None
    """Soil grid cell; ``None`` keeps the terrain's. 2 cm for a sand box or the arena."""
    collision_cell_size_m: Positive = 0.05
    """Target cell of the PyBullet collision heightfield (a whole multiple of the soil
    cell); stepping cost grows with finer cells under the wheels (reference/SIM.md)."""
    tile_cells: Annotated[int, Field(ge=4, le=512)] = 32
    """Collision tile size, in collision cells; tiles share their border samples."""
    height_margin_m: Positive = 1.0
    """Pinned height range of the collision tiles: the initial range ± this, in m."""
    update_hz: Annotated[int, Field(gt=0, le=1000)] = 10
    """Soil updates (tool sweep, ruts, slumping, collision refresh) per simulated second."""
    relax_iterations: Annotated[int, Field(ge=1, le=10_000)] = 30
    """Slumping iterations per update at most (the rest continues next update)."""
    wheel_sinkage: bool = True
    """Bekker sinkage and ruts under the wheels."""
    cutting_resistance: bool = True
    """Apply the FEE resistance to the tool link."""
    dump_angle_rad: Annotated[float, Field(gt=0.0, lt=math.pi)] = math.radians(45.0)
    """A tool pours when its floor points this far below horizontal, or further, in rad."""
    pour_time_constant_s: Positive = 0.4
    """Time constant of a pour: the load leaves as ``exp(-t/τ)`` once tilted, in s."""
    min_rake_rad: Annotated[float, Field(gt=0.0, lt=math.pi / 2)] = math.radians(20.0)
    """Lowest blade angle used in the FEE (a floor skimming flat is treated as this)."""

    @model_validator(mode="before")
    @classmethod
    def _fill_material(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        material = data.get("material", "lunar_regolith")
        defaults = MATERIAL_DEFAULTS.get(material)
        if defaults is None:
            return data  # the Literal check reports it
        return {**defaults, **data}

    @model_validator(mode="after")
    def _consistent(self) -> SoilConfig:
        if self.depth_m is not None and self.depth_m < self.initial_loose_depth_m:
            raise ValueError(
                f"depth_m ({self.depth_m}) must not be below initial_loose_depth_m "
                f"({self.initial_loose_depth_m}): the loose layer lies on the soil"
            )
        if self.compacted_density_kgpm3 < self.loose_density_kgpm3:
            raise ValueError(
                f"compacted_density_kgpm3 ({self.compacted_density_kgpm3}) must not be below "
                f"loose_density_kgpm3 ({self.loose_density_kgpm3})"
            )
        return self
