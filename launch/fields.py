"""Pieces that scenario files share across mission kinds: a point on the site, the
acceptance checks every kind may use, and the checks of a value against the site or the
rover. Mission modules (:mod:`lunarsite.launch.missions`) build their schemas from these;
:mod:`lunarsite.launch.schema` builds the scenario envelope and calls the missions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lunarsite.robot.config import RoverConfig, StrictModel

from .files import Finite, Problem

__all__ = [
    "CommonAcceptance",
    "Point2",
    "inside",
    "over_limit",
    "points_outside",
    "speed_problem",
]


def inside(x: float, y: float, size: tuple[float, float], margin: float = 0.0) -> bool:
    """Whether (x, y) lies in the site ``[0, size_x] × [0, size_y]``, ``margin`` inside."""
    return margin <= x <= size[0] - margin and margin <= y <= size[1] - margin


class Point2(StrictModel):
    x_m: Finite
    y_m: Finite


class CommonAcceptance(StrictModel):
    """Acceptance checks every kind of mission may use, judged on ground truth (a run
    on a physical rover has none: these are not judged there)."""

    max_rock_contacts: Annotated[int, Field(ge=0)] | None = None
    """Rocks touched during the run; null to not judge."""
    max_tip_overs: Annotated[int, Field(ge=0)] | None = None
    """Tip-overs allowed during the run; null to not judge."""


def points_outside(
    points: tuple[Point2, ...], size: tuple[float, float] | None, field: str
) -> list[Problem]:
    """A problem for each point outside the site ``[0, size_x] × [0, size_y]``."""
    if size is None:
        return []
    return [
        (
            ("mission", field, i),
            f"{field[:-1]} ({p.x_m:g}, {p.y_m:g}) m is outside the site "
            f"(0..{size[0]:g} × 0..{size[1]:g} m)",
        )
        for i, p in enumerate(points)
        if not inside(p.x_m, p.y_m, size)
    ]


def over_limit(
    value: float | None, limit: float, loc: tuple[int | str, ...], unit: str, limit_name: str
) -> list[Problem]:
    """A problem when ``value`` exceeds the rover's ``limit`` (named as in the rover file)."""
    if value is None or value <= limit:
        return []
    return [(loc, f"{value:g} {unit} exceeds the rover's {limit_name} ({limit:g})")]


def speed_problem(speed_mps: float | None, rover: RoverConfig, field: str) -> list[Problem]:
    """A problem when a mission's ``field`` asks for more than the rover may be commanded."""
    return over_limit(
        speed_mps, rover.drive.max_speed_mps, ("mission", field), "m/s", "drive.max_speed_mps"
    )
