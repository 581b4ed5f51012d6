"""Earthwork planning: what to cut, what to fill, and where each kilogram goes.

From a survey (heights per cell, NaN where unseen) and the resolved designs
(:mod:`lunarsite.robot.site.design`):

1. **Cut and fill fields.** A cell more than ``deadband_m`` above its design is cut to
   it; more than ``deadband_m`` below, filled up to it (CraterGrader cuts and fills only
   cells out of spec; reference/CONSTRUCTION.md). Cut soil is counted at the bank
   density, fill at the loose density a dumped load lies at.
2. **Borrow and spoil.** When the designs' cut and fill do not balance, borrow cells
   supply soil (down to ``borrow_depth_m``) and spoil cells take it (up to
   ``spoil_height_m``). If they cannot balance it the plan fails with the shortfall.
3. **Hauls by optimal transport.** Cells are summed into square haul cells
   ``haul_cell_m`` on a side; the exact earth mover's problem between them (Monge's
   déblais et remblais; POT's network simplex ``ot.emd``) gives the flow from every cut
   to every fill, and its cost, ``Σ mass × distance``, is the lower bound on haul work
   that no plan on these cells beats.

Borrow and spoil enter the transport problem as optional supply and demand: one dummy
sink takes unused borrow, one dummy source fills unused spoil room, and the pairs that
would let a design's cut stay put or a design's fill come from nowhere are forbidden.
:mod:`.hauls` turns the flows into bucket loads and an order.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import ot

from ..site.design import ResolvedDesign
from ..site.grid import FloatArray, GridSpec

__all__ = [
    "CutFill",
    "EarthworkParams",
    "HaulFlows",
    "PlanningError",
    "combine_designs",
    "cut_fill",
    "haul_flows",
    "transport_bound_kg_m",
]

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]

_FORBIDDEN = 1.0e6
"""Cost of a pair the plan must not use (m); far above any distance on a site."""
_LEAVE_M = 1.0e3
"""Cost of leaving a kilogram of cut in the ground (m): above any haul on a site, so the
plan leaves only what no fill or spoil can take, below :data:`_FORBIDDEN`."""


class PlanningError(RuntimeError):
    """The designs cannot be met from this ground (not enough borrow, no room to spoil)."""


@dataclass(frozen=True, slots=True)
class EarthworkParams:
    """How the planner works (SI units)."""

    bucket_capacity_m3: float
    """Loose volume the bucket holds struck full, in m³ (the rover file's tool)."""
    cut_density_kgpm3: float = 1500.0
    """Density of the ground being cut (bank), kg/m³; lunar regolith ~1.50 g/cm³ at
    0–15 cm (Lunar Sourcebook, Carrier et al. 1991)."""
    fill_density_kgpm3: float = 1300.0
    """Density a dumped load lies at (loose), kg/m³; ~1.3 g/cm³ (Lunar Sourcebook)."""
    bucket_fill_share: float = 0.8
    """Share of the struck capacity a dig pass is planned to fill (a fill factor)."""
    deadband_m: float = 0.02
    """A cell this close to its design is left alone, in m (inside the ±3 cm spec)."""
    haul_cell_m: float = 0.5
    """Side of a haul cell for the transport problem, in m (about a bucket width)."""
    borrow_depth_m: float = 0.15
    """Deepest cut in a borrow area, in m."""
    spoil_height_m: float = 0.2
    """Highest rise of a spoil area, in m."""
    min_flow_kg: float = 0.5
    """Flows below this are dropped from the plan, in kg."""

    @property
    def bucket_load_kg(self) -> float:
        """Planned mass of one load, in kg."""
        return self.bucket_capacity_m3 * self.bucket_fill_share * self.fill_density_kgpm3


@dataclass(frozen=True, slots=True, eq=False)
class CutFill:
    """Per-cell cut and fill on the survey grid, in m of height (both ≥ 0)."""

    grid: GridSpec
    target_m: FloatArray
    """The combined design height per cell (NaN: no design there)."""
    cut_m: FloatArray
    fill_m: FloatArray
    unknown_cells: int
    """Design cells the survey has no height for (left out of the plan)."""

    @property
    def cut_m3(self) -> float:
        return float(self.cut_m.sum()) * self.grid.cell_size_m**2

    @property
    def fill_m3(self) -> float:
        return float(self.fill_m.sum()) * self.grid.cell_size_m**2


def combine_designs(designs: tuple[ResolvedDesign, ...], grid: GridSpec) -> FloatArray:
    """One target grid from several designs; where two speak for a cell the first wins."""
    target = np.full(grid.shape, np.nan)
    for d in designs:
        grid.check(d.heights_m, f"design {d.name!r}")
        target = np.where(np.isnan(target), d.heights_m, target)
    return target


def cut_fill(
    surface_m: FloatArray, designs: tuple[ResolvedDesign, ...], grid: GridSpec, deadband_m: float
) -> CutFill:
    """Cut and fill fields of ``surface_m`` against the designs (see the module docstring)."""
    grid.check(surface_m, "surface_m")
    target = combine_designs(designs, grid)
    delta = surface_m - target
    known = np.isfinite(delta)
    unknown = int((np.isfinite(target) & ~np.isfinite(surface_m)).sum())
    d = np.where(known, delta, 0.0)
    cut = np.where(d > deadband_m, d, 0.0)
    fill = np.where(-d > deadband_m, -d, 0.0)
    return CutFill(grid, target, cut, fill, unknown)


@dataclass(frozen=True, slots=True, eq=False)
class HaulFlows:
    """Mass to move between haul cells, with the transport bound."""

    source_xy_m: FloatArray
    """(S, 2) mass-weighted centres of the haul cells that give soil, in m."""
    sink_xy_m: FloatArray
    """(K, 2) centres of the haul cells that take soil, in m."""
    source_kind: tuple[str, ...]
    """``"cut"`` or ``"borrow"`` per source."""
    sink_kind: tuple[str, ...]
    """``"fill"`` or ``"spoil"`` per sink."""
    flow_kg: FloatArray
    """(S, K) kilograms from each source to each sink."""
    cut_kg: float
    fill_kg: float
    bound_kg_m: float
    """The optimal-transport cost Σ mass × distance, in kg·m: no plan on these cells
    moves this soil with less haul work."""

    @property
    def moved_kg(self) -> float:
        return float(self.flow_kg.sum())

    @property
    def cut_left_kg(self) -> float:
        """Cut that no fill or spoil takes: it stays in the ground, in kg."""
        is_cut = np.asarray(self.source_kind) == "cut"
        return max(0.0, self.cut_kg - float(self.flow_kg[is_cut].sum()))

    def pairs(self, min_kg: float) -> list[tuple[int, int, float]]:
        """(source, sink, kg) of every flow of at least ``min_kg``."""
        s, k = np.nonzero(self.flow_kg >= min_kg)
        return [(int(a), int(b), float(self.flow_kg[a, b])) for a, b in zip(s, k, strict=True)]


def _coarsen(grid: GridSpec, mass_kg: FloatArray, factor: int) -> tuple[FloatArray, FloatArray]:
    """Masses summed into ``factor``² blocks, and each block's mass-weighted centre.

    Returns (M,) masses and (M, 2) centres of the blocks that hold any mass.
    """
    ny, nx = grid.shape
    by, bx = math.ceil(ny / factor), math.ceil(nx / factor)
    pad = np.zeros((by * factor, bx * factor))
    pad[:ny, :nx] = mass_kg
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    px = np.zeros_like(pad)
    py = np.zeros_like(pad)
    px[:ny, :nx] = gx * mass_kg
    py[:ny, :nx] = gy * mass_kg

    def blocks(a: FloatArray) -> FloatArray:
        out: FloatArray = a.reshape(by, factor, bx, factor).sum(axis=(1, 3)).ravel()
        return out

    m, sx, sy = blocks(pad), blocks(px), blocks(py)
    keep = m > 0.0
    centres = np.column_stack([sx[keep] / m[keep], sy[keep] / m[keep]])
    return m[keep], centres


def haul_flows(
    cutfill: CutFill,
    params: EarthworkParams,
    *,
    borrow_mask: BoolArray | None = None,
    spoil_mask: BoolArray | None = None,
    no_go_mask: BoolArray | None = None,
    risen_m: FloatArray | None = None,
    may_leave_kg: float | None = None,
) -> HaulFlows:
    """Solve the transport problem of ``cutfill`` (see the module docstring).

    ``risen_m`` is how far each cell has risen since the work began (NaN where unknown,
    taken as 0): a spoil cell takes ``spoil_height_m`` less what it has risen already, a
    borrow cell gives ``borrow_depth_m`` less what it has been lowered by, so replans
    after a survey do not heap the same spoil cells, or dig the same borrow, over again.

    ``may_leave_kg`` is how much cut no fill or spoil can take may stay in the ground,
    the cells farthest from any fill or spoil first (None: a bucketful, the
    planner's); the rest is a planning failure.

    Raises:
        PlanningError: more fill than cut and borrow can give, or more cut than fill and
            spoil can take by over ``may_leave_kg``.
    """
    grid = cutfill.grid
    area = grid.cell_size_m**2
    zeros = np.zeros(grid.shape, dtype=bool)
    no_go = zeros if no_go_mask is None else no_go_mask
    free = ~no_go & ~np.isfinite(cutfill.target_m)
    borrow = (zeros if borrow_mask is None else borrow_mask) & free
    spoil = (zeros if spoil_mask is None else spoil_mask) & free
    factor = max(1, round(params.haul_cell_m / grid.cell_size_m))
    cut_m, cut_xy = _coarsen(
        grid, np.where(no_go, 0.0, cutfill.cut_m) * area * params.cut_density_kgpm3, factor
    )
    fill_m, fill_xy = _coarsen(grid, cutfill.fill_m * area * params.fill_density_kgpm3, factor)
    risen = np.zeros(grid.shape) if risen_m is None else np.nan_to_num(risen_m, nan=0.0)
    depth_left = np.clip(params.borrow_depth_m + np.minimum(risen, 0.0), 0.0, None)
    height_left = np.clip(params.spoil_height_m - np.maximum(risen, 0.0), 0.0, None)
    bor_m, bor_xy = _coarsen(
        grid, np.where(borrow, depth_left * area * params.cut_density_kgpm3, 0.0), factor
    )
    spo_m, spo_xy = _coarsen(
        grid, np.where(spoil, height_left * area * params.fill_density_kgpm3, 0.0), factor
    )
    cut_kg, fill_kg = float(cut_m.sum()), float(fill_m.sum())
    if fill_kg > cut_kg + float(bor_m.sum()) + 1e-6:
        raise PlanningError(
            f"not enough borrow within reach: the designs need {fill_kg:.0f} kg of fill, "
            f"their cut gives {cut_kg:.0f} kg and the borrow areas {float(bor_m.sum()):.0f} kg"
        )
    # Cut no fill or spoil can take, up to a bucketful, stays where it is (a replan near
    # the end found 27 kg of cut over a shield for 26 kg of fill and no spoil box, and
    # the task failed on a kilogram: shield_habitat seed 3).
    left_kg = cut_kg - fill_kg - float(spo_m.sum())
    if left_kg > (params.bucket_load_kg if may_leave_kg is None else may_leave_kg) + 1e-6:
        raise PlanningError(
            f"no room for the spoil: the designs cut {cut_kg:.0f} kg, their fill takes "
            f"{fill_kg:.0f} kg and the spoil areas {float(spo_m.sum()):.0f} kg"
        )
    src_xy = np.vstack([cut_xy, bor_xy]) if len(bor_xy) else cut_xy
    snk_xy = np.vstack([fill_xy, spo_xy]) if len(spo_xy) else fill_xy
    n_cut, n_bor = len(cut_m), len(bor_m)
    n_fill, n_spo = len(fill_m), len(spo_m)
    spoil_room = float(spo_m.sum())
    dummy_sink = cut_kg + float(bor_m.sum()) - fill_kg
    a = np.concatenate([cut_m, bor_m, [spoil_room]])
    b = np.concatenate([fill_m, spo_m, [dummy_sink]])
    cost = np.full((len(a), len(b)), _FORBIDDEN)
    if len(src_xy) and len(snk_xy):
        diff = src_xy[:, None, :] - snk_xy[None, :, :]
        cost[: n_cut + n_bor, : n_fill + n_spo] = np.hypot(diff[..., 0], diff[..., 1])
    cost[n_cut : n_cut + n_bor, n_fill : n_fill + n_spo] = _FORBIDDEN  # borrow to spoil
    cost[n_cut : n_cut + n_bor, -1] = 0.0  # borrow left in the ground
    cost[-1, n_fill : n_fill + n_spo] = 0.0  # spoil room left empty
    cost[-1, -1] = 0.0
    if left_kg > 1e-6:
        cost[:n_cut, -1] = _LEAVE_M  # the excess cut left in the ground, the farthest first
    total = float(a.sum())
    if total <= 0.0:
        flow = np.zeros((n_cut + n_bor, n_fill + n_spo))
    else:
        # emd wants equal totals to rounding: renormalise b to a's sum.
        b = b * (total / float(b.sum()))
        plan = np.asarray(ot.emd(a, b, cost, numItermax=10_000_000), dtype=np.float64)
        real = plan[: n_cut + n_bor, : n_fill + n_spo]
        if float(np.sum(real * (cost[: n_cut + n_bor, : n_fill + n_spo] >= _FORBIDDEN))) > 1e-6:
            raise PlanningError("the transport problem found no plan that moves only real soil")
        flow = real
    dist = cost[: n_cut + n_bor, : n_fill + n_spo]
    bound = float(np.sum(flow * np.where(dist >= _FORBIDDEN, 0.0, dist)))
    log.debug(
        "earthwork: %d cut, %d borrow, %d fill, %d spoil haul cells; %.0f kg; bound %.0f kg·m",
        n_cut,
        n_bor,
        n_fill,
        n_spo,
        float(flow.sum()),
        bound,
    )
    return HaulFlows(
        source_xy_m=src_xy.reshape(-1, 2),
        sink_xy_m=snk_xy.reshape(-1, 2),
        source_kind=("cut",) * n_cut + ("borrow",) * n_bor,
        sink_kind=("fill",) * n_fill + ("spoil",) * n_spo,
        flow_kg=flow,
        cut_kg=cut_kg,
        fill_kg=fill_kg,
        bound_kg_m=bound,
    )


def transport_bound_kg_m(
    grid: GridSpec, removed_kg: FloatArray, added_kg: FloatArray, haul_cell_m: float
) -> float:
    """The least haul work (kg·m) that turns one mass field into another: the optimal
    transport between where mass was removed and where it was added (per cell, kg, on
    ``grid``), on haul cells ``haul_cell_m`` wide. When the totals differ (soil still in
    a bucket), the larger side is scaled down to the smaller."""
    grid.check(removed_kg, "removed_kg")
    grid.check(added_kg, "added_kg")
    factor = max(1, round(haul_cell_m / grid.cell_size_m))
    a, a_xy = _coarsen(grid, np.maximum(removed_kg, 0.0), factor)
    b, b_xy = _coarsen(grid, np.maximum(added_kg, 0.0), factor)
    total = min(float(a.sum()), float(b.sum()))
    if total <= 0.0:
        return 0.0
    a = a * (total / float(a.sum()))
    b = b * (total / float(b.sum()))
    diff = a_xy[:, None, :] - b_xy[None, :, :]
    cost = np.hypot(diff[..., 0], diff[..., 1])
    plan = np.asarray(ot.emd(a, b, cost, numItermax=10_000_000), dtype=np.float64)
    return float(np.sum(plan * cost))
