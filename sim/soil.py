"""Regolith on a height grid: exact mass bookkeeping, slumping.

The soil parameters (:class:`~lunarsite.sim.soil_config.SoilConfig`) are in
:mod:`lunarsite.sim.soil_config`, the regions of recent edits (:class:`Box`) in
:mod:`lunarsite.sim.soil_boxes`.

Layout: the same as :class:`lunarsite.sim.terrain.Terrain`. ``heights_m[j, i]`` is the
soil surface at ``x = origin_x + i·cell``, ``y = origin_y + j·cell`` (row 0 south); each
sample stands for one cell of area ``cell²``.

Every column holds two layers: native soil at the compacted bulk density, and on top of it
a loose layer (``loose_m`` thick) at the loose density. Soil that is cut, carried, dumped or
that slumps is loose; a wheel compacts the loose layer beneath it. Mass is the conserved
quantity, so a cut of compacted soil swells when it is dumped, as real soil does. The grid
keeps a ledger: grid mass (above a fixed datum) plus the soil held in tools plus the soil
that left through the grid's edges (``outflow_kg``) is constant to float precision.

Slumping (:meth:`SoilGrid.relax`): wherever the height difference between two of the eight
neighbours exceeds the angle of repose, part of the excess flows downhill (the slope-flow
model of Kim et al. 2019, "Developing a Simple Model for Sand-Tool Interaction", CMU;
reference/SIM.md). Loose soil flows at the angle of repose; a face of native soil stands
steeper as long as the excess is below the cohesive critical height of a vertical cut,
``4c/γ · tan(45° + φ/2)`` (Terzaghi). Only a window around recent edits is relaxed, and a
call does at most a given number of iterations, so a big dump settles over several calls.

Bedrock (``SoilConfig.depth_m``): the soil lies on a rigid floor at the initial surface
minus ``depth_m``; cuts, wheel sinkage and slumping never take a column below it.

Rigid solids standing in the soil (a habitat module, :mod:`lunarsite.sim.modules`) are part
of the surface and of the floor: :attr:`SoilGrid.solid_m` is the thickness of solid in each
column, which the mass and volume bookkeeping leaves out.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from .soil_boxes import Box, merge, pair_slices
from .soil_config import SoilConfig, SoilError
from .terramechanics import vertical_cut_height_m

__all__ = ["SoilGrid"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# The eight neighbour directions as four orientations (dj, di); each unordered pair of
# neighbours is visited once, flow goes whichever way is downhill.
_ORIENTATIONS = ((0, 1), (1, 0), (1, 1), (1, -1))

_OCTAGONAL_NORM_MEAN = (
    4.0 / math.pi * (math.sqrt(0.5) + (math.sqrt(2.0) - 1.0) * (1 - math.sqrt(0.5)))
)
"""Mean over directions of the 8-neighbour (octagonal) distance over the Euclidean one,
≈ 1.055. Step limits of ``tan θ × step length`` let a pile stand up to 8% steeper between
the axes and the diagonals; dividing by this mean makes the pile's average slope θ."""


class SoilGrid:
    """A mutable soil height grid with a mass ledger and angle-of-repose slumping.

    Args:
        heights_m: initial surface, shape (ny, nx), in m.
        cell_size_m: sample spacing, in m.
        origin_xy_m: position of sample (0, 0), in m.
        config: soil parameters (densities, repose, cohesion).
        gravity_mps2: gravity acting on the soil (sets the cohesive standing height).
    """

    def __init__(
        self,
        heights_m: FloatArray,
        cell_size_m: float,
        origin_xy_m: tuple[float, float] = (0.0, 0.0),
        *,
        config: SoilConfig,
        gravity_mps2: float,
    ) -> None:
        h = np.array(heights_m, dtype=np.float64, copy=True)
        if h.ndim != 2 or h.shape[0] < 2 or h.shape[1] < 2:
            raise SoilError(f"soil heights must be 2-D with at least 2x2 samples, got {h.shape}")
        if not np.all(np.isfinite(h)):
            raise SoilError("soil heights contain non-finite values")
        if not (math.isfinite(cell_size_m) and cell_size_m > 0.0):
            raise SoilError(f"cell_size_m must be positive and finite, got {cell_size_m}")
        if not (math.isfinite(gravity_mps2) and gravity_mps2 > 0.0):
            raise SoilError(f"gravity_mps2 must be positive and finite, got {gravity_mps2}")
        self.config = config
        self.gravity_mps2 = float(gravity_mps2)
        self.cell_size_m = float(cell_size_m)
        self.origin_xy_m = (float(origin_xy_m[0]), float(origin_xy_m[1]))
        self.cell_area_m2 = self.cell_size_m**2
        self.heights_m = h
        self.loose_m = np.full_like(h, config.initial_loose_depth_m)
        self.sunk_m = np.zeros_like(h)
        """Wheel sinkage already applied to each cell since it was last cut or filled."""
        self.bedrock_m: FloatArray | None = (
            None if config.depth_m is None else h - float(config.depth_m)
        )
        """Bedrock under each sample (the initial surface minus ``depth_m``), in m; soil
        is never removed below it. ``None``: no bedrock. A placed module makes its top the
        floor of its footprint (:mod:`lunarsite.sim.modules`)."""
        self.solid_m = np.zeros_like(h)
        """Thickness of rigid solid (a module) in each column, in m: part of the surface,
        not soil, so :meth:`column_mass_kg`, :meth:`mass_kg` and :meth:`volume_m3` leave
        it out."""
        self.rho_loose = float(config.loose_density_kgpm3)
        self.rho_compact = float(config.compacted_density_kgpm3)
        self.tan_repose = math.tan(config.repose_angle_rad)
        self._step_slope = self.tan_repose / _OCTAGONAL_NORM_MEAN
        self.standing_height_m = vertical_cut_height_m(
            config.cohesion_pa, config.friction_angle_rad, self.rho_compact, self.gravity_mps2
        )
        self.datum_m = math.floor(float(h.min()) - config.initial_loose_depth_m) - 1.0
        """Fixed reference level for mass and volume (1 m below the lowest initial soil)."""
        self.outflow_kg = 0.0
        """Soil that left the grid through its edges (deposits that fell outside)."""
        self.relax_tolerance_m = 0.03 * self.tan_repose * self.cell_size_m
        self._active: list[Box] = []
        """Disjoint regions that may still need slumping."""
        self._dirty: Box | None = None
        self._blocked: NDArray[np.bool_] | None = None
        self.initial_mass_kg = self.mass_kg()

    # ---------------------------------------------------------------- geometry
    @property
    def shape(self) -> tuple[int, int]:
        ny, nx = self.heights_m.shape
        return (int(ny), int(nx))

    def xy_to_ij(self, x_m: FloatArray, y_m: FloatArray) -> tuple[IntArray, IntArray]:
        """Nearest sample column i and row j of points (may be off the grid)."""
        i = np.rint((np.asarray(x_m) - self.origin_xy_m[0]) / self.cell_size_m).astype(np.intp)
        j = np.rint((np.asarray(y_m) - self.origin_xy_m[1]) / self.cell_size_m).astype(np.intp)
        return i, j

    def flat_index(self, x_m: FloatArray, y_m: FloatArray) -> tuple[IntArray, NDArray[np.bool_]]:
        """Flat sample index of points and whether each lies on the grid."""
        ny, nx = self.shape
        i, j = self.xy_to_ij(x_m, y_m)
        inside = (i >= 0) & (i < nx) & (j >= 0) & (j < ny)
        return np.where(inside, j * nx + i, -1), inside

    def sample_xy(self, flat: IntArray) -> tuple[FloatArray, FloatArray]:
        """Site coordinates of flat sample indices, in m."""
        j, i = np.divmod(np.asarray(flat), self.shape[1])
        return (
            self.origin_xy_m[0] + i * self.cell_size_m,
            self.origin_xy_m[1] + j * self.cell_size_m,
        )

    def height_at(self, x_m: FloatArray, y_m: FloatArray) -> FloatArray:
        """Surface height at points, bilinear, clamped to the grid edge, in m."""
        return self._bilinear(self.heights_m, x_m, y_m)

    def bedrock_at(self, x_m: FloatArray, y_m: FloatArray) -> FloatArray | None:
        """Bedrock height at points (bilinear, clamped to the grid edge), in m; ``None``
        when the soil has no bedrock."""
        if self.bedrock_m is None:
            return None
        return self._bilinear(self.bedrock_m, x_m, y_m)

    def _bilinear(self, h: FloatArray, x_m: FloatArray, y_m: FloatArray) -> FloatArray:
        ny, nx = self.shape
        fx = np.clip((np.asarray(x_m) - self.origin_xy_m[0]) / self.cell_size_m, 0, nx - 1)
        fy = np.clip((np.asarray(y_m) - self.origin_xy_m[1]) / self.cell_size_m, 0, ny - 1)
        i = np.minimum(np.floor(fx).astype(np.intp), nx - 2)
        j = np.minimum(np.floor(fy).astype(np.intp), ny - 2)
        tx, ty = fx - i, fy - j
        south = (1 - tx) * h[j, i] + tx * h[j, i + 1]
        north = (1 - tx) * h[j + 1, i] + tx * h[j + 1, i + 1]
        return np.asarray((1 - ty) * south + ty * north, dtype=np.float64)

    # --------------------------------------------------------------- bookkeeping
    def column_mass_kg(self) -> FloatArray:
        """Soil mass of every column above the datum (solids left out), in kg."""
        h, lz = self.heights_m, self.loose_m
        native = h - lz - self.solid_m - self.datum_m
        return (self.rho_compact * native + self.rho_loose * lz) * self.cell_area_m2

    def mass_kg(self) -> float:
        """Soil mass on the grid above the datum (solids left out), in kg."""
        h, lz = self.heights_m, self.loose_m
        soil_sum = float(h.sum()) - float(self.solid_m.sum()) - self.datum_m * h.size
        per_area = self.rho_compact * soil_sum + (self.rho_loose - self.rho_compact) * float(
            lz.sum()
        )
        return per_area * self.cell_area_m2

    def volume_m3(self) -> float:
        """Soil volume on the grid above the datum (solids left out), in m³."""
        h = self.heights_m
        return (float(h.sum()) - float(self.solid_m.sum()) - self.datum_m * h.size) * (
            self.cell_area_m2
        )

    def snapshot(self) -> FloatArray:
        """A copy of the surface heights, in m."""
        return np.array(self.heights_m, copy=True)

    def _touch(self, box: Box | None) -> None:
        if box is None or box.empty:
            return
        self._dirty = box.union(self._dirty)
        self._active = merge(self._active, box, self.shape)

    def mark_changed(self, box: Box) -> None:
        """Heights in ``box`` were edited from outside: refresh and relax them."""
        self._touch(box)

    def set_obstacles(self, flat: IntArray | None) -> None:
        """Samples that slumping soil may not flow into (a blade or bucket standing there).

        Replaces the previous set; ``None`` or an empty array clears it.
        """
        if flat is None or np.asarray(flat).size == 0:
            self._blocked = None
            return
        blocked = np.zeros(self.heights_m.size, dtype=bool)
        blocked[np.asarray(flat, dtype=np.intp)] = True
        self._blocked = blocked.reshape(self.shape)

    def pop_dirty(self) -> Box | None:
        """The samples changed since the last call (bounding box), and forget them."""
        box, self._dirty = self._dirty, None
        return box

    @property
    def settling(self) -> bool:
        """Whether slumping has work left from recent edits."""
        return bool(self._active)

    # ---------------------------------------------------------------- operations
    def cut_to(self, flat: IntArray, level_m: FloatArray) -> float:
        """Remove the soil above ``level_m`` at the given samples; returns the mass, in kg.

        ``flat`` must be unique on-grid indices. The loose layer goes first, then native
        soil. Nothing is removed below the bedrock (:attr:`bedrock_m`).
        """
        flat = np.asarray(flat, dtype=np.intp)
        if flat.size == 0:
            return 0.0
        h = self.heights_m.reshape(-1)
        lz = self.loose_m.reshape(-1)
        level = np.broadcast_to(np.asarray(level_m, dtype=np.float64), flat.shape)
        if self.bedrock_m is not None:
            level = np.maximum(level, self.bedrock_m.reshape(-1)[flat])
        cut = h[flat] - level
        sel = cut > 0.0
        if not np.any(sel):
            return 0.0
        idx, cut = flat[sel], cut[sel]
        from_loose = np.minimum(cut, lz[idx])
        mass = float(
            (self.rho_loose * from_loose.sum() + self.rho_compact * (cut - from_loose).sum())
            * self.cell_area_m2
        )
        h[idx] -= cut
        lz[idx] -= from_loose
        self.sunk_m.reshape(-1)[idx] = 0.0
        self._touch(Box.of_flat(idx, self.shape[1]))
        return mass

    def deposit(self, flat: IntArray, mass_kg: FloatArray) -> None:
        """Add loose soil of the given masses (kg) at flat indices; -1 means off the grid.

        Mass aimed off the grid is added to :attr:`outflow_kg`. Repeated indices add up.
        """
        flat = np.asarray(flat, dtype=np.intp)
        mass = np.broadcast_to(np.asarray(mass_kg, dtype=np.float64), flat.shape)
        if np.any(mass < 0.0):
            raise SoilError("deposit masses must be non-negative")
        off = flat < 0
        if np.any(off):
            self.outflow_kg += float(mass[off].sum())
            flat, mass = flat[~off], mass[~off]
        if flat.size == 0:
            return
        idx, which = np.unique(flat, return_inverse=True)
        thick = np.bincount(which, weights=mass, minlength=idx.size) / (
            self.rho_loose * self.cell_area_m2
        )
        self.heights_m.reshape(-1)[idx] += thick
        self.loose_m.reshape(-1)[idx] += thick
        self.sunk_m.reshape(-1)[idx] = 0.0
        self._touch(Box.of_flat(idx, self.shape[1]))

    def deposit_at(self, x_m: FloatArray, y_m: FloatArray, mass_kg: FloatArray) -> None:
        """Add loose soil at points (kg each); points off the grid count as outflow."""
        flat, _ = self.flat_index(x_m, y_m)
        self.deposit(flat, mass_kg)

    def press(self, flat: IntArray, sinkage_m: float) -> float:
        """Sink the given samples to ``sinkage_m`` below where they stood unpressed.

        Each sample is lowered by what it has not yet sunk (a second pass of the same wheel
        load does nothing). The loose layer is compacted first (mass stays in the column);
        what compaction cannot absorb is removed and returned, in kg, for the caller to
        deposit beside the rut (sideways displacement). ``flat`` must be unique.
        """
        flat = np.asarray(flat, dtype=np.intp)
        if flat.size == 0 or sinkage_m <= 0.0:
            return 0.0
        sunk = self.sunk_m.reshape(-1)
        h = self.heights_m.reshape(-1)
        lower = sinkage_m - sunk[flat]
        if self.bedrock_m is not None:
            lower = np.minimum(lower, h[flat] - self.bedrock_m.reshape(-1)[flat])
        sel = lower > 0.0
        if not np.any(sel):
            return 0.0
        idx, lower = flat[sel], lower[sel]
        lz = self.loose_m.reshape(-1)
        shrink = 1.0 - self.rho_loose / self.rho_compact
        # Compacting x of loose soil lowers the surface by x·shrink and keeps its mass.
        if shrink > 0.0:
            compacted = np.minimum(lz[idx], lower / shrink)
            by_compaction = compacted * shrink
        else:
            compacted = np.zeros_like(lower)
            by_compaction = compacted
        rest = lower - by_compaction
        from_loose = np.minimum(rest, lz[idx] - compacted)
        displaced = float(
            (self.rho_loose * from_loose.sum() + self.rho_compact * (rest - from_loose).sum())
            * self.cell_area_m2
        )
        h[idx] -= lower
        lz[idx] -= compacted + from_loose
        sunk[idx] += lower
        self._touch(Box.of_flat(idx, self.shape[1]))
        return displaced

    # ---------------------------------------------------------------- slumping
    def relax(self, max_iterations: int | None = None) -> int:
        """Let slopes steeper than the angle of repose flow, near recent edits.

        Does at most ``max_iterations`` (default: the config's ``relax_iterations``)
        iterations; returns how many it did. Mass-conserving by construction.
        """
        budget = self.config.relax_iterations if max_iterations is None else max_iterations
        done = 0
        shape = self.shape
        while self._active and done < budget:
            regions, self._active = self._active, []
            for region in regions:
                moved = self._relax_once(region.grown(2, shape))
                if moved is not None:
                    self._active = merge(self._active, moved, shape)
            done += 1
        return done

    def settle(self, max_iterations: int = 100_000) -> int:
        """Relax until every slope is at or below the angle of repose (or the budget ends)."""
        return self.relax(max_iterations)

    def _relax_once(self, window: Box) -> Box | None:
        """One slope-flow iteration over ``window``; returns the box of samples that gave."""
        sl = window.slices
        h = self.heights_m[sl]
        lz = self.loose_m[sl]
        ny, nx = h.shape
        if ny < 2 and nx < 2:
            return None
        cell = self.cell_size_m
        tol = self.relax_tolerance_m
        hc = self.standing_height_m
        blocked = None if self._blocked is None else self._blocked[sl]
        if blocked is not None and not blocked.any():
            blocked = None
        # Soil above the floor in each column; a column with none gives nothing (a module's
        # wall or a bare bedrock face stands, and does not keep the region active).
        room = None if self.bedrock_m is None else np.maximum(h - self.bedrock_m[sl], 0.0)
        out = np.zeros_like(h)
        flows: list[tuple[tuple[slice, slice], tuple[slice, slice], FloatArray, FloatArray]] = []
        total = np.zeros_like(h)
        for dj, di in _ORIENTATIONS:
            if (dj and ny < 2) or (di and nx < 2):
                continue
            a, b = pair_slices(dj, di, ny, nx)
            limit = self._step_slope * cell * math.hypot(dj, di)
            diff = h[a] - h[b]
            if float(np.abs(diff).max()) <= limit + tol:
                continue  # no pair this way is steeper than the repose slope
            # a -> b where a is higher, b -> a where b is higher.
            e_ab = diff - limit
            e_ba = -diff - limit
            m_ab = np.where(e_ab > lz[a] + hc, e_ab, np.minimum(e_ab, lz[a]))
            m_ba = np.where(e_ba > lz[b] + hc, e_ba, np.minimum(e_ba, lz[b]))
            m_ab = np.where(m_ab > tol, m_ab, 0.0)
            m_ba = np.where(m_ba > tol, m_ba, 0.0)
            if blocked is not None:
                m_ab[blocked[b]] = 0.0
                m_ba[blocked[a]] = 0.0
            if room is not None:
                m_ab[room[a] <= 0.0] = 0.0
                m_ba[room[b] <= 0.0] = 0.0
            total[a] += m_ab
            total[b] += m_ba
            flows.append((a, b, m_ab, m_ba))
        if not np.any(total):
            return None
        # Each source sheds half its excess over its downhill edges in proportion to the
        # excess: a single steep edge is levelled to the repose slope in one step.
        share = np.divide(0.5, total, out=np.zeros_like(total), where=total > 0.0)
        for a, b, m_ab, m_ba in flows:
            f_ab = m_ab * m_ab * share[a]
            f_ba = m_ba * m_ba * share[b]
            out[a] += f_ab
            out[b] += f_ba
        if room is not None:
            # A source never gives soil it does not have above the bedrock.
            scale = np.divide(room, out, out=np.ones_like(out), where=out > room)
            share *= scale
            out *= scale
        # Mass leaving each source: loose soil first, then native soil (which swells).
        from_loose = np.minimum(out, lz)
        mass = self.rho_loose * from_loose + self.rho_compact * (out - from_loose)
        gain_per_out = np.divide(mass, self.rho_loose * out, out=np.zeros_like(out), where=out > 0)
        gain = np.zeros_like(h)
        for a, b, m_ab, m_ba in flows:
            gain[b] += m_ab * m_ab * share[a] * gain_per_out[a]
            gain[a] += m_ba * m_ba * share[b] * gain_per_out[b]
        h -= out
        lz -= from_loose
        h += gain
        lz += gain
        rows = np.flatnonzero(total.any(axis=1))
        cols = np.flatnonzero(total.any(axis=0))
        moved = Box(
            window.j0 + int(rows[0]),
            window.j0 + int(rows[-1]) + 1,
            window.i0 + int(cols[0]),
            window.i0 + int(cols[-1]) + 1,
        )
        self._dirty = moved.grown(1, self.shape).union(self._dirty)
        return moved
