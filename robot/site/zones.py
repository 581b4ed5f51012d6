"""Zones on the site: boxes where work happens (dig, dump), shapes the rover must keep out
of, and the four compass facings a scripted rover works in.

Values only, in the site frame (x east, y north, in m): the scenario file's schema lives
in ``lunarsite.launch``, which converts a checked file into these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FACING_YAW_RAD",
    "Box",
    "Facing",
    "KeepOut",
    "KeepOutCircle",
    "KeepOutPolygon",
]

Facing = Literal["east", "north", "west", "south"]

FACING_YAW_RAD: dict[Facing, float] = {
    "east": 0.0,
    "north": 0.5 * math.pi,
    "west": math.pi,
    "south": -0.5 * math.pi,
}
"""Yaw of each facing in the site frame (x east, y north), in rad."""


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box on the site: centre (``x_m``, ``y_m``), sides ``size_x_m`` ×
    ``size_y_m``, all in m."""

    x_m: float
    y_m: float
    size_x_m: float
    size_y_m: float

    def __post_init__(self) -> None:
        values = (self.x_m, self.y_m, self.size_x_m, self.size_y_m)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"Box values must be finite, got {values}")
        if not (self.size_x_m > 0.0 and self.size_y_m > 0.0):
            raise ValueError(f"Box sides must be positive, got {self.size_x_m} × {self.size_y_m}")

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max), in m."""
        hx, hy = 0.5 * self.size_x_m, 0.5 * self.size_y_m
        return (self.x_m - hx, self.x_m + hx, self.y_m - hy, self.y_m + hy)

    def overlaps(self, other: Box) -> bool:
        """Whether the two boxes share area (touching edges do not)."""
        ax0, ax1, ay0, ay1 = self.bounds_m
        bx0, bx1, by0, by1 = other.bounds_m
        return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1

    def inside(self, size_xy_m: tuple[float, float]) -> bool:
        """Whether the box lies within a site ``[0, size_x] × [0, size_y]``."""
        x0, x1, y0, y1 = self.bounds_m
        return x0 >= 0.0 and y0 >= 0.0 and x1 <= size_xy_m[0] and y1 <= size_xy_m[1]


@dataclass(frozen=True, slots=True)
class KeepOutCircle:
    """A disc the rover must stay out of: centre and radius in the site frame, in m."""

    x_m: float
    y_m: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class KeepOutPolygon:
    """A simple polygon the rover must stay out of: vertices (x, y) in the site frame, m."""

    vertices_xy_m: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.vertices_xy_m) < 3:
            raise ValueError(
                f"KeepOutPolygon needs at least 3 vertices, got {len(self.vertices_xy_m)}"
            )


KeepOut = KeepOutCircle | KeepOutPolygon
