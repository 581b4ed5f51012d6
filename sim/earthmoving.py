"""Tools acting on the soil grid: bucket and scoop fill, dump, blade push, wheel ruts.

Every operation takes the tool's cutting edge as a 3-D segment in the site frame, where it
is now and where it was at the previous soil update, so the soil that changes is decided
by the tool's real motion (in the simulator, its PyBullet pose), never by a scripted
volume. All operations go through :class:`SoilGrid`'s ledger, so mass is conserved:
what a cut removes is in the tool or deposited on the grid (or, if it fell off the grid,
counted in ``outflow_kg``).

- :func:`scoop`: soil above the edge along its sweep enters the tool up to its capacity;
  the rest piles in front of it. Moved backwards, a bucket drags soil like a blade.
- :func:`blade`: soil above the edge is pushed ahead as a windrow; slumping then spills it
  to the sides and ahead.
- :func:`pour`: part of a tool's load falls onto the cells under its lip.
- :func:`wheel_rut`: a wheel's contact patch sinks (Bekker sinkage), compacting loose soil
  and pushing the rest to both sides of the rut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .soil import SoilGrid
from .soil_config import SoilError

__all__ = [
    "CutResult",
    "CuttingEdge",
    "ToolLoad",
    "ahead_of",
    "blade",
    "edge_cells",
    "edge_engagement",
    "pour",
    "scoop",
    "wheel_rut",
]

FloatArray = NDArray[np.float64]

_SAMPLE_SPACING_CELLS = 0.5
"""Spacing of the points that sample an edge and its sweep, in cells."""
_AHEAD_CELLS = 1.5
"""Distance ahead of the edge where pushed or spilled soil is laid, in cells."""
_MIN_TRAVEL_CELLS = 0.05
"""Horizontal edge travel below which a sweep counts as a plunge (no push direction)."""


def _vec3(v: object, name: str) -> FloatArray:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise SoilError(f"{name} must be 3 finite numbers, got {v!r}")
    return a


@dataclass(frozen=True, eq=False)
class CuttingEdge:
    """A tool's cutting edge in the site frame.

    ``p0_m`` and ``p1_m``: the two ends of the edge (x, y, z in m). ``forward``: unit vector
    the tool's opening faces (soil moving against it enters the tool).
    """

    p0_m: FloatArray
    p1_m: FloatArray
    forward: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "p0_m", _vec3(self.p0_m, "p0_m"))
        object.__setattr__(self, "p1_m", _vec3(self.p1_m, "p1_m"))
        f = _vec3(self.forward, "forward")
        n = float(np.linalg.norm(f))
        if n == 0.0:
            raise SoilError("forward must be a non-zero vector")
        object.__setattr__(self, "forward", f / n)

    @property
    def centre_m(self) -> FloatArray:
        return 0.5 * (self.p0_m + self.p1_m)

    @property
    def width_m(self) -> float:
        return float(np.linalg.norm(self.p1_m - self.p0_m))


class ToolLoad:
    """The soil a tool holds, in kg, against its capacity (loose volume, m³)."""

    def __init__(self, capacity_m3: float, loose_density_kgpm3: float) -> None:
        if capacity_m3 < 0.0 or loose_density_kgpm3 <= 0.0:
            raise SoilError(
                f"capacity_m3 ({capacity_m3}) must be non-negative and the density "
                f"({loose_density_kgpm3}) positive"
            )
        self.capacity_m3 = float(capacity_m3)
        self.rho_loose = float(loose_density_kgpm3)
        self.load_kg = 0.0
        self.filled_kg = 0.0
        """Soil that has entered the tool so far (cumulative), in kg."""
        self.poured_kg = 0.0
        """Soil poured out of the tool so far (cumulative), in kg."""

    @property
    def capacity_kg(self) -> float:
        return self.capacity_m3 * self.rho_loose

    @property
    def volume_m3(self) -> float:
        """Loose volume of the load, in m³."""
        return self.load_kg / self.rho_loose

    @property
    def room_kg(self) -> float:
        return max(0.0, self.capacity_kg - self.load_kg)


@dataclass(frozen=True, slots=True)
class CutResult:
    """Soil a sweep cut, and where it went, in kg."""

    cut_kg: float
    into_tool_kg: float
    pushed_kg: float


def _edge_points(edge: CuttingEdge, spacing_m: float) -> FloatArray:
    """Points along the edge, (M, 3), at most ``spacing_m`` apart."""
    m = max(2, math.ceil(float(np.linalg.norm(edge.p1_m[:2] - edge.p0_m[:2])) / spacing_m) + 1)
    s = np.linspace(0.0, 1.0, m)[:, None]
    return np.asarray((1.0 - s) * edge.p0_m + s * edge.p1_m, dtype=np.float64)


def _sweep_points(prev: CuttingEdge, curr: CuttingEdge, spacing_m: float) -> FloatArray:
    """Points filling the surface the edge swept from ``prev`` to ``curr``, (N, 3)."""
    travel = max(
        float(np.linalg.norm(curr.p0_m[:2] - prev.p0_m[:2])),
        float(np.linalg.norm(curr.p1_m[:2] - prev.p1_m[:2])),
    )
    k = max(1, math.ceil(travel / spacing_m)) + 1
    width = max(
        float(np.linalg.norm(curr.p1_m[:2] - curr.p0_m[:2])),
        float(np.linalg.norm(prev.p1_m[:2] - prev.p0_m[:2])),
    )
    m = max(2, math.ceil(width / spacing_m) + 1)
    t = np.linspace(0.0, 1.0, k)[:, None, None]
    s = np.linspace(0.0, 1.0, m)[None, :, None]
    a = (1.0 - t) * prev.p0_m + t * curr.p0_m
    b = (1.0 - t) * prev.p1_m + t * curr.p1_m
    return np.asarray(((1.0 - s) * a + s * b).reshape(-1, 3), dtype=np.float64)


def _cut_sweep(grid: SoilGrid, prev: CuttingEdge, curr: CuttingEdge) -> float:
    """Cut everything above the edge along its sweep; returns the mass, in kg."""
    pts = _sweep_points(prev, curr, _SAMPLE_SPACING_CELLS * grid.cell_size_m)
    flat, inside = grid.flat_index(pts[:, 0], pts[:, 1])
    if not np.any(inside):
        return 0.0
    flat, z = flat[inside], pts[inside, 2]
    cells, inverse = np.unique(flat, return_inverse=True)
    level = np.full(cells.shape, np.inf)
    np.minimum.at(level, inverse, z)
    return grid.cut_to(cells, level)


def _lay_ahead(grid: SoilGrid, edge: CuttingEdge, direction_xy: FloatArray, kg: float) -> None:
    """Spread ``kg`` of loose soil along a strip just ahead of the edge."""
    if kg <= 0.0:
        return
    pts = _edge_points(edge, _SAMPLE_SPACING_CELLS * grid.cell_size_m)
    ahead = _AHEAD_CELLS * grid.cell_size_m
    x = pts[:, 0] + ahead * direction_xy[0]
    y = pts[:, 1] + ahead * direction_xy[1]
    grid.deposit_at(x, y, np.full(x.shape, kg / x.size))


def _unit_xy(v: FloatArray) -> FloatArray | None:
    n = math.hypot(float(v[0]), float(v[1]))
    if n == 0.0:
        return None
    return np.array([v[0] / n, v[1] / n])


def scoop(grid: SoilGrid, tool: ToolLoad, prev: CuttingEdge, curr: CuttingEdge) -> CutResult:
    """A bucket or scoop edge moved from ``prev`` to ``curr``.

    Moving with its opening leading (or plunging), the soil above the edge along the sweep
    enters the tool up to its capacity; what does not fit piles in front of the tool. Moving
    backwards, the edge drags the soil behind it like a blade.
    """
    cut = _cut_sweep(grid, prev, curr)
    if cut == 0.0:
        return CutResult(0.0, 0.0, 0.0)
    motion = curr.centre_m - prev.centre_m
    travel = math.hypot(float(motion[0]), float(motion[1]))
    forward_xy = _unit_xy(curr.forward)
    if forward_xy is None:
        forward_xy = _unit_xy(motion)
    backwards = (
        travel > _MIN_TRAVEL_CELLS * grid.cell_size_m
        and forward_xy is not None
        and float(motion[0] * forward_xy[0] + motion[1] * forward_xy[1]) < 0.0
    )
    if backwards:
        direction = _unit_xy(motion)
        assert direction is not None
        _lay_ahead(grid, curr, direction, cut)
        return CutResult(cut, 0.0, cut)
    taken = min(cut, tool.room_kg)
    tool.load_kg += taken
    tool.filled_kg += taken
    spill = cut - taken
    if spill > 0.0:
        direction = forward_xy if forward_xy is not None else np.array([1.0, 0.0])
        _lay_ahead(grid, curr, direction, spill)
    return CutResult(cut, taken, spill)


def blade(grid: SoilGrid, prev: CuttingEdge, curr: CuttingEdge) -> CutResult:
    """A blade edge moved from ``prev`` to ``curr``: the soil above it goes ahead as a windrow.

    The windrow is laid just ahead of the blade in its direction of travel (or, for a plunge,
    the way the blade faces); slumping spills it round the blade's ends.
    """
    cut = _cut_sweep(grid, prev, curr)
    if cut == 0.0:
        return CutResult(0.0, 0.0, 0.0)
    motion = curr.centre_m - prev.centre_m
    travel = math.hypot(float(motion[0]), float(motion[1]))
    direction = _unit_xy(motion) if travel > _MIN_TRAVEL_CELLS * grid.cell_size_m else None
    if direction is None:
        direction = _unit_xy(curr.forward)
    if direction is None:
        direction = np.array([1.0, 0.0])
    _lay_ahead(grid, curr, direction, cut)
    return CutResult(cut, 0.0, cut)


def pour(grid: SoilGrid, tool: ToolLoad, lip: CuttingEdge, kg: float) -> float:
    """Pour ``kg`` (at most the load) onto the cells under the lip; returns what fell, in kg."""
    kg = min(max(kg, 0.0), tool.load_kg)
    if kg <= 0.0:
        return 0.0
    pts = _edge_points(lip, _SAMPLE_SPACING_CELLS * grid.cell_size_m)
    grid.deposit_at(pts[:, 0], pts[:, 1], np.full(pts.shape[0], kg / pts.shape[0]))
    tool.load_kg -= kg
    tool.poured_kg += kg
    if tool.load_kg < 1e-12:
        tool.load_kg = 0.0
    return kg


def edge_cells(grid: SoilGrid, edge: CuttingEdge, behind_cells: float = 1.0) -> NDArray[np.intp]:
    """Samples a tool's edge stands on, and a strip ``behind_cells`` behind it (flat indices).

    Give them to :meth:`SoilGrid.set_obstacles` so a windrow does not slump back through
    the blade that holds it.
    """
    pts = _edge_points(edge, _SAMPLE_SPACING_CELLS * grid.cell_size_m)
    back = _unit_xy(edge.forward)
    xs, ys = [pts[:, 0]], [pts[:, 1]]
    if back is not None and behind_cells > 0.0:
        k = max(1, math.ceil(behind_cells / _SAMPLE_SPACING_CELLS))
        for step in np.linspace(0.0, behind_cells * grid.cell_size_m, k + 1)[1:]:
            xs.append(pts[:, 0] - step * back[0])
            ys.append(pts[:, 1] - step * back[1])
    flat, inside = grid.flat_index(np.concatenate(xs), np.concatenate(ys))
    return np.unique(flat[inside])


def edge_engagement(
    grid: SoilGrid, edge: CuttingEdge, ahead_xy_m: tuple[float, float] = (0.0, 0.0)
) -> tuple[float, float]:
    """Width of the edge below the soil surface (m) and its mean depth there (m).

    The surface is read ``ahead_xy_m`` away from the edge: a moving edge has already cut
    the cells it stands on, so the depth of cut is that of the soil just ahead of it. The
    depth counts only soil above the bedrock, if the grid has one.
    """
    pts = _edge_points(edge, _SAMPLE_SPACING_CELLS * grid.cell_size_m)
    x, y = pts[:, 0] + ahead_xy_m[0], pts[:, 1] + ahead_xy_m[1]
    bottom = pts[:, 2]
    bedrock = grid.bedrock_at(x, y)
    if bedrock is not None:
        # Below the bedrock there is nothing to cut (the edge skims the floor).
        bottom = np.maximum(bottom, bedrock)
    depth = grid.height_at(x, y) - bottom
    engaged = depth > 0.0
    if not np.any(engaged):
        return 0.0, 0.0
    return edge.width_m * float(engaged.mean()), float(depth[engaged].mean())


def ahead_of(grid: SoilGrid, prev: CuttingEdge | None, curr: CuttingEdge) -> tuple[float, float]:
    """Offset (m) to the soil ahead of a moving edge: ``_AHEAD_CELLS`` cells along its
    horizontal travel, or along the way it faces when it hardly moved."""
    direction = None
    if prev is not None:
        motion = curr.centre_m - prev.centre_m
        if math.hypot(float(motion[0]), float(motion[1])) > _MIN_TRAVEL_CELLS * grid.cell_size_m:
            direction = _unit_xy(motion)
    if direction is None:
        direction = _unit_xy(curr.forward)
    if direction is None:
        return (0.0, 0.0)
    d = _AHEAD_CELLS * grid.cell_size_m
    return (d * float(direction[0]), d * float(direction[1]))


def wheel_rut(
    grid: SoilGrid,
    centre_xy_m: tuple[float, float],
    heading_rad: float,
    *,
    width_m: float,
    length_m: float,
    sinkage_m: float,
    swept_from_xy_m: tuple[float, float] | None = None,
) -> float:
    """Sink a wheel's contact patch by ``sinkage_m``; returns the mass pushed aside, in kg.

    The patch is a ``length_m`` × ``width_m`` rectangle along ``heading_rad`` centred on the
    contact point; with ``swept_from_xy_m`` it is swept from there to ``centre_xy_m`` (the
    wheel's travel since its last rut). Loose soil under it compacts; the remainder is laid
    in two strips along the sides of the rut.
    """
    if sinkage_m <= 0.0:
        return 0.0
    cell = grid.cell_size_m
    c, s = math.cos(heading_rad), math.sin(heading_rad)
    spacing = _SAMPLE_SPACING_CELLS * cell
    u = np.linspace(-0.5 * length_m, 0.5 * length_m, max(2, math.ceil(length_m / spacing) + 1))
    v = np.linspace(-0.5 * width_m, 0.5 * width_m, max(2, math.ceil(width_m / spacing) + 1))
    uu, vv = np.meshgrid(u, v)
    ox, oy = (c * uu - s * vv).ravel(), (s * uu + c * vv).ravel()
    cx, cy = np.array([centre_xy_m[0]]), np.array([centre_xy_m[1]])
    if swept_from_xy_m is not None:
        travel = math.hypot(
            centre_xy_m[0] - swept_from_xy_m[0], centre_xy_m[1] - swept_from_xy_m[1]
        )
        # Patch centres no further apart than half a patch length (and a sample spacing).
        n = max(1, math.ceil(travel / max(0.5 * length_m, spacing))) + 1
        t = np.linspace(0.0, 1.0, n)
        cx = swept_from_xy_m[0] + t * (centre_xy_m[0] - swept_from_xy_m[0])
        cy = swept_from_xy_m[1] + t * (centre_xy_m[1] - swept_from_xy_m[1])
    x = (cx[:, None] + ox[None, :]).ravel()
    y = (cy[:, None] + oy[None, :]).ravel()
    flat, inside = grid.flat_index(x, y)
    cells = np.unique(flat[inside])
    displaced = grid.press(cells, sinkage_m)
    if displaced > 0.0:
        side = 0.5 * width_m + cell
        px = (cx[:, None] + c * u[None, :]).ravel()
        py = (cy[:, None] + s * u[None, :]).ravel()
        sx = np.concatenate([px - s * side, px + s * side])
        sy = np.concatenate([py + c * side, py - c * side])
        grid.deposit_at(sx, sy, np.full(sx.shape, displaced / sx.size))
    return displaced
