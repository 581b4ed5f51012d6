"""Modules a rover places, and where the design wants them.

A *module type* (a catalog entry: paver tile, habitat module, solar panel, beacon) says
what one unit is: its box (``size_m``: length along its own x, width along y, height),
its mass, where a tool closes on it (the grasp: two faces across one horizontal axis),
the ArUco markers on its faces, and what it needs under it (the steepest ground, a
levelled pad, what it may rest on). A *placement* is one unit the design wants at a pose
on the site, on the ground, on a pad, or on another placement.

The shipped catalog is a YAML file read by ``lunarsite.launch``; the models here are its
schema (strict, like the rover file's, :mod:`lunarsite.robot.config`). Checks that need
the site or the rover (a unit heavier than the tool holds, wider than its jaws open, off
the site, on a support it cannot rest on) are :func:`check_placements`, which raises
:class:`PlacementError` naming the placement and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from lunarsite.robot.config import NonNegative, Positive, StrictModel, ToolConfig, Vec3
from lunarsite.robot.site.survey import box_polygon, points_in_polygon
from lunarsite.robot.types import wrap_angle

__all__ = [
    "Catalog",
    "Grasp",
    "GraspEnvelope",
    "Marker",
    "ModuleType",
    "Placement",
    "PlacementError",
    "check_placements",
    "outline",
    "yaw_error_rad",
]

ModuleKind = Literal["paver", "habitat", "solar_panel", "beacon"]
Face = Literal["top", "front", "back", "left", "right"]
Point = tuple[float, float]
Name = Annotated[str, Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")]


class PlacementError(ValueError):
    """A placement the catalog, the tool or the site cannot take; the message names the
    placement and the field."""


class Marker(StrictModel):
    """An ArUco marker printed on a face, centred on it. Each unit carries its own ids
    (the dictionary's ids are handed out per unit in placement order)."""

    face: Face
    size_m: Positive
    """Side of the marker's black square, in m."""


class Grasp(StrictModel):
    """Where a tool closes on the unit: on the two faces across ``axis`` (the unit's own
    x or y), at ``height_m`` above its base."""

    axis: Literal["x", "y"]
    height_m: NonNegative


class ModuleType(StrictModel):
    """One catalog entry."""

    name: Name
    kind: ModuleKind
    description: str = ""
    size_m: tuple[Positive, Positive, Positive]
    """Length (own x), width (own y) and height, in m."""
    mass_kg: Positive
    grasp: Grasp
    markers: tuple[Marker, ...] = ()
    max_slope_rad: Annotated[float, Field(gt=0.0, lt=math.pi / 2, allow_inf_nan=False)]
    """Steepest ground the unit may stand on, in rad."""
    needs_pad: bool = False
    """The unit stands only on a levelled pad (a ``level_pad`` design of the scenario)."""
    rests_on: tuple[Literal["ground", "paver", "habitat"], ...] = ("ground",)
    """What may be under the unit: the ground (or a pad) or a placed unit of that kind."""

    @model_validator(mode="after")
    def _consistent(self) -> ModuleType:
        if self.grasp.height_m > self.size_m[2]:
            raise ValueError(
                f"module {self.name!r}: grasp.height_m ({self.grasp.height_m}) is above its "
                f"top ({self.size_m[2]} m)"
            )
        faces = [m.face for m in self.markers]
        if len(set(faces)) != len(faces):
            raise ValueError(f"module {self.name!r}: two markers on one face")
        for m in self.markers:
            w, h = self.face_size_m(m.face)
            if m.size_m > min(w, h):
                raise ValueError(
                    f"module {self.name!r}: the {m.face} marker ({m.size_m} m) is larger than "
                    f"its face ({w} × {h} m)"
                )
        return self

    def face_size_m(self, face: Face) -> tuple[float, float]:
        """The two sides of a face, in m."""
        length, width, height = self.size_m
        if face == "top":
            return (length, width)
        return (width, height) if face in ("front", "back") else (length, height)

    @property
    def grasp_width_m(self) -> float:
        """How far apart the grasped faces are, in m."""
        return self.size_m[0] if self.grasp.axis == "x" else self.size_m[1]

    def grasp_points_m(self) -> tuple[Vec3, Vec3]:
        """The two contact points in the unit's frame (origin at its base's centre), in m."""
        half = 0.5 * self.grasp_width_m
        z = self.grasp.height_m
        if self.grasp.axis == "x":
            return ((-half, 0.0, z), (half, 0.0, z))
        return ((0.0, -half, z), (0.0, half, z))


class Catalog(StrictModel):
    """The module types a scenario may place."""

    types: tuple[ModuleType, ...]

    @model_validator(mode="after")
    def _unique(self) -> Catalog:
        if not self.types:
            raise ValueError("a catalog lists at least one module type")
        names = [t.name for t in self.types]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"module type {name!r} is listed twice")
        return self

    def get(self, name: str) -> ModuleType | None:
        return next((t for t in self.types if t.name == name), None)


@dataclass(frozen=True, slots=True)
class GraspEnvelope:
    """What a placing tool can take: the heaviest unit (kg), the narrowest and widest
    across its grasp and the longest along its arms (m)."""

    payload_kg: float
    min_opening_m: float
    max_opening_m: float
    max_length_m: float

    @classmethod
    def of_clamp(cls, tool: ToolConfig, gravity_mps2: float) -> GraspEnvelope:
        """A clamp's envelope (:class:`~lunarsite.robot.config.ToolConfig`) at a gravity."""
        if tool.kind != "clamp":
            raise ValueError(f"tool {tool.name!r} is a {tool.kind}, not a clamp")
        return cls(
            payload_kg=tool.holds_kg(gravity_mps2),
            min_opening_m=tool.opening_m(tool.joints[1].upper_rad),
            max_opening_m=tool.width_m,
            max_length_m=tool.max_unit_length_m,
        )


@dataclass(frozen=True, slots=True)
class Placement:
    """One unit the design wants: its id, catalog type, centre and yaw on the site (m,
    rad); ``on`` the id of the placement it rests on (None: the ground); ``pad`` the name
    of the ``level_pad`` design it stands on (None: none)."""

    id: str
    type: str
    x_m: float
    y_m: float
    yaw_rad: float = 0.0
    on: str | None = None
    pad: str | None = None

    @property
    def xy_m(self) -> Point:
        return (self.x_m, self.y_m)


def yaw_error_rad(yaw: float, design: float) -> float:
    """Yaw error of a box against its design, a half turn being the same box, in rad."""
    e = abs(wrap_angle(yaw - design))
    return e if e <= 0.5 * math.pi else math.pi - e


def outline(placement: Placement, module: ModuleType, grow_m: float = 0.0) -> tuple[Point, ...]:
    """The unit's footprint on the site, grown by ``grow_m`` on every side, in m."""
    size = (module.size_m[0] + 2.0 * grow_m, module.size_m[1] + 2.0 * grow_m)
    corners = box_polygon(placement.xy_m, size, placement.yaw_rad)
    return tuple((float(x), float(y)) for x, y in corners)


def _inside(points: Sequence[Point], polygon: Sequence[Point]) -> bool:
    """Whether every point lies inside ``polygon`` (a millimetre's give at its edges)."""
    xy = np.asarray(points, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64)
    centre = poly.mean(axis=0)
    grown = centre + (poly - centre) * (1.0 + 1e-3 / max(float(np.abs(poly - centre).max()), 1e-9))
    return bool(points_in_polygon(xy[:, 0], xy[:, 1], grown).all())


def check_placements(
    placements: Sequence[Placement],
    catalog: Catalog,
    *,
    site_bounds_m: tuple[float, float, float, float],
    tool: GraspEnvelope | None = None,
    pads: Mapping[str, Sequence[Point]] | None = None,
    field: str = "placements",
) -> None:
    """Raise :class:`PlacementError` for the first placement that cannot be met.

    ``site_bounds_m`` is (x_min, x_max, y_min, y_max); ``tool`` is what the placing tool
    takes (None: not checked); ``pads`` maps a ``level_pad`` design's name to its polygon.
    A unit must lie wholly on the site, fit the tool (weight, width across the grasp,
    length along the arms), stand on a pad where its type needs one (and inside it), and
    rest only on a placement of a kind its type allows, centred on it. Messages name
    the entry as ``field[k]``.
    Support cycles and unknown ids are refused.
    """
    pads = pads or {}
    by_id: dict[str, Placement] = {}
    for k, p in enumerate(placements):
        where = f"{field}[{k}] ({p.id!r})"
        if p.id in by_id:
            raise PlacementError(f"{where}: id is used twice")
        by_id[p.id] = p
        if not all(math.isfinite(v) for v in (p.x_m, p.y_m, p.yaw_rad)):
            raise PlacementError(f"{where}: x_m, y_m and yaw_rad must be finite")
    for k, p in enumerate(placements):
        where = f"{field}[{k}] ({p.id!r})"
        module = catalog.get(p.type)
        if module is None:
            known = ", ".join(t.name for t in catalog.types)
            raise PlacementError(f"{where}.type: {p.type!r} is not in the catalog ({known})")
        x0, x1, y0, y1 = site_bounds_m
        corners = outline(p, module)
        if not all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in corners):
            raise PlacementError(
                f"{where}: its footprint leaves the site (x {x0}..{x1}, y {y0}..{y1} m)"
            )
        if tool is not None:
            _check_fit(f"{where}.type", module, tool)
        if module.needs_pad and p.pad is None and p.on is None:
            raise PlacementError(f"{where}.pad: a {p.type} stands only on a levelled pad")
        if p.pad is not None:
            pad = pads.get(p.pad)
            if pad is None:
                raise PlacementError(f"{where}.pad: no level_pad design named {p.pad!r}")
            if not _inside(corners, pad):
                raise PlacementError(f"{where}.pad: its footprint is not inside pad {p.pad!r}")
        if p.on is not None:
            _check_support(where, p, module, by_id, catalog)
    for p in placements:
        seen = {p.id}
        q = p
        while q.on is not None:
            q = by_id[q.on]
            if q.id in seen:
                raise PlacementError(f"placement {p.id!r}.on: the supports form a cycle")
            seen.add(q.id)


def _check_fit(where: str, module: ModuleType, tool: GraspEnvelope) -> None:
    name = module.name
    width = module.grasp_width_m
    length = module.size_m[1] if module.grasp.axis == "x" else module.size_m[0]
    if module.mass_kg > tool.payload_kg:
        raise PlacementError(
            f"{where}: a {name} weighs {module.mass_kg} kg, more than the tool holds "
            f"({tool.payload_kg:.1f} kg)"
        )
    if width > tool.max_opening_m:
        raise PlacementError(
            f"{where}: a {name} is {width} m across its grasp, wider than the tool opens "
            f"({tool.max_opening_m} m)"
        )
    if width < tool.min_opening_m:
        raise PlacementError(
            f"{where}: a {name} is {width} m across its grasp, narrower than the tool closes "
            f"({tool.min_opening_m:.3f} m)"
        )
    if length > tool.max_length_m:
        raise PlacementError(
            f"{where}: a {name} is {length} m along the tool's arms, longer than they hold "
            f"({tool.max_length_m} m)"
        )


def _check_support(
    where: str, p: Placement, module: ModuleType, by_id: Mapping[str, Placement], catalog: Catalog
) -> None:
    below = by_id.get(p.on or "")
    if below is None:
        raise PlacementError(f"{where}.on: no placement with id {p.on!r}")
    under = catalog.get(below.type)
    if under is None:
        return  # reported at its own entry
    if under.kind not in module.rests_on:
        allowed = ", ".join(module.rests_on)
        raise PlacementError(
            f"{where}.on: a {p.type} rests on {allowed}, not on a {under.kind} ({below.id!r})"
        )
    # Stable when the upper unit's centre of mass is over the lower one's top, with
    # a quarter of the lower one's smaller side to spare.
    margin = 0.25 * min(under.size_m[0], under.size_m[1])
    shrunk = outline(below, under, -margin)
    if not _inside([p.xy_m], shrunk):
        raise PlacementError(
            f"{where}.on: its centre is not over {below.id!r} with {margin:.3f} m to spare: "
            "it would tip off"
        )
