"""The design blocks of an ``earthwork`` mission, checked, and the designs they make.

Each task block (``level_pad``, ``build_berm``, ``dig_trench``, ``fill_crater``,
``shield_module``) is a strict schema; :func:`designs_of` turns checked blocks into the
controller's :mod:`~lunarsite.robot.site.design` value types. Modules (rigid boxes on the
site, :class:`ModuleSpec`) are listed once and named by the shields that cover them.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from lunarsite.robot.config import Positive, StrictModel
from lunarsite.robot.site.design import (
    Berm,
    Design,
    FillCrater,
    LevelPad,
    ModuleBox,
    ShieldModule,
    Trench,
)

from ..files import Finite

__all__ = [
    "XY",
    "BermSpec",
    "CraterSpec",
    "ModuleSpec",
    "PadSpec",
    "ShieldSpec",
    "TaskSpec",
    "TrenchSpec",
    "designs_of",
]

_Slope = Annotated[float, Field(gt=0.0, lt=math.pi / 2)]
XY = tuple[Finite, Finite]
"""A point [x, y] in the site frame, in m."""


class PadSpec(StrictModel):
    kind: Literal["level_pad"]
    name: Annotated[str, Field(min_length=1)] = "pad"
    polygon_xy_m: Annotated[list[XY], Field(min_length=3)]
    elevation_m: Finite | None = None
    """Level of the pad (in the rover's survey datum); null: the level that balances
    cut and fill inside it, lowered by ``below_balance_m``."""
    below_balance_m: float = 0.0
    """How far below the balancing level the pad is cut (its surplus goes elsewhere), m."""
    tolerance_m: Positive = 0.03


class BermSpec(StrictModel):
    kind: Literal["build_berm"]
    name: Annotated[str, Field(min_length=1)] = "berm"
    polyline_xy_m: Annotated[list[XY], Field(min_length=2)]
    height_m: Positive
    crest_width_m: Positive
    side_slope_rad: _Slope
    tolerance_m: Positive = 0.05


class TrenchSpec(StrictModel):
    kind: Literal["dig_trench"]
    name: Annotated[str, Field(min_length=1)] = "trench"
    polyline_xy_m: Annotated[list[XY], Field(min_length=2)]
    width_m: Positive
    depth_m: Positive
    tolerance_m: Positive = 0.05


class CraterSpec(StrictModel):
    kind: Literal["fill_crater"]
    name: Annotated[str, Field(min_length=1)] = "crater"
    centre_xy_m: XY
    radius_m: Positive
    tolerance_m: Positive = 0.03


class ModuleSpec(StrictModel):
    """A rigid module standing on the site (a habitat mock-up): the simulator levels a
    spot and sets it there before the run; the rover is told where it is."""

    name: Annotated[str, Field(min_length=1)]
    centre_xy_m: XY
    size_xy_m: tuple[Positive, Positive]
    yaw_rad: Finite = 0.0
    height_m: Positive

    def box(self) -> ModuleBox:
        c = (float(self.centre_xy_m[0]), float(self.centre_xy_m[1]))
        size = (float(self.size_xy_m[0]), float(self.size_xy_m[1]))
        return ModuleBox(self.name, c, size, self.yaw_rad, self.height_m)


class ShieldSpec(StrictModel):
    kind: Literal["shield_module"]
    name: Annotated[str, Field(min_length=1)] = "shield"
    module: Annotated[str, Field(min_length=1)]
    """The name of a module in the mission's ``modules``."""
    thickness_m: Positive
    """Regolith over the module's top and walls, in m."""
    side_slope_rad: _Slope
    tolerance_m: Positive = 0.05


TaskSpec = Annotated[
    PadSpec | BermSpec | TrenchSpec | CraterSpec | ShieldSpec, Field(discriminator="kind")
]


def designs_of(tasks: list[TaskSpec], modules: tuple[ModuleSpec, ...]) -> tuple[Design, ...]:
    """The controller's designs for checked task specs.

    Raises:
        KeyError: a shield names a module that is not in ``modules`` (the checks report
            it first, with the field).
    """
    by_name = {m.name: m for m in modules}
    out: list[Design] = []
    for t in tasks:
        if isinstance(t, PadSpec):
            poly = tuple((float(x), float(y)) for x, y in t.polygon_xy_m)
            out.append(LevelPad(t.name, poly, t.elevation_m, t.tolerance_m, t.below_balance_m))
        elif isinstance(t, BermSpec):
            line = tuple((float(x), float(y)) for x, y in t.polyline_xy_m)
            out.append(
                Berm(t.name, line, t.height_m, t.crest_width_m, t.side_slope_rad, t.tolerance_m)
            )
        elif isinstance(t, TrenchSpec):
            line = tuple((float(x), float(y)) for x, y in t.polyline_xy_m)
            out.append(Trench(t.name, line, t.width_m, t.depth_m, t.tolerance_m))
        elif isinstance(t, CraterSpec):
            c = (float(t.centre_xy_m[0]), float(t.centre_xy_m[1]))
            out.append(FillCrater(t.name, c, t.radius_m, t.tolerance_m))
        else:
            box = by_name[t.module].box()
            out.append(ShieldModule(t.name, box, t.thickness_m, t.side_slope_rad, t.tolerance_m))
    return tuple(out)
