"""The soil grid in the PyBullet world: collision surface, tools, wheels.

:class:`SoilSim` owns the true soil (:class:`SoilGrid`) of a :class:`LunarWorld` built with
``soil=SoilConfig(...)`` and keeps physics and soil in step:

- the collision surface is a :class:`~lunarsite.sim.soil_heightfield.TiledHeightfield`
  (:mod:`lunarsite.sim.soil_heightfield`) at a cell a whole multiple of the soil cell
  (stepping cost grows with finer cells under the wheels, reference/SIM.md); after a soil
  update only the tiles whose samples changed are replaced;
- scoops and buckets do not collide with the terrain: the soil model decides what they
  cut (:func:`scoop`), their load is added to the mass of their link, and the FEE
  cutting resistance at the world's gravity pushes back on the link at the cutting edge
  (:mod:`lunarsite.sim.soil_tools`);
- tilted past ``dump_angle_rad``, a tool pours its load under its lip;
- wheels sink by Bekker–Wong static sinkage under the load PyBullet reports, leaving ruts;
- a rigid module (:meth:`SoilSim.place_module`) is part of the surface and of the floor,
  not of the soil (:mod:`lunarsite.sim.modules`).

Soil work runs every ``physics_hz / update_hz`` steps from a world step hook; the cutting
force is applied on every physics step (PyBullet clears external forces after a step).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter

from .earthmoving import (
    ToolLoad,
    ahead_of,
    blade,
    edge_cells,
    edge_engagement,
    pour,
    scoop,
    wheel_rut,
)
from .modules import PlacedModule, add_module_visual, place_module
from .soil import SoilGrid
from .soil_config import SoilConfig, SoilError
from .soil_heightfield import TiledHeightfield, resample_terrain
from .soil_tools import (
    ToolTrack,
    apply_cutting_forces,
    edge_now,
    set_cutting_force,
    set_tool_mass,
)
from .terramechanics import bekker_static_sinkage_m, contact_length_m

if TYPE_CHECKING:
    from .rover import SimRover
    from .world import LunarWorld

__all__ = ["SoilSim"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

_COLLISION_TOLERANCE_M = 1e-3
"""Soil changes smaller than this (m) do not make a collision tile be replaced. Bullet's
contact slop is of the order of a millimetre, and every replacement drops the tile's
contact manifolds, which the solver then rebuilds: at 0.2 mm a dig_and_dump run replaced
a tile on almost every soil update."""
_RUT_STEP_CELLS = 2.0
"""A wheel is pressed again once it has rolled this many soil cells from its last rut; the
new rut is swept over the whole way, so the track has no gaps at any speed. (Pressing the
same patch again at the same load does nothing: sinkage is what a sample has not sunk.)"""
_RUT_MAX_SWEEP_M = 0.5
"""A wheel further than this from its last rut was moved, not rolled: no sweep, m."""
_WHEEL_LOAD_TAU_S = 0.25
"""Time constant of the low-pass on a wheel's contact load before it sets the sinkage, s."""


class SoilSim:
    """Deformable regolith for one :class:`LunarWorld` (built by the world; see module doc).

    The evaluation channel: :meth:`snapshot` is the true soil surface, :meth:`volume_report`
    the ledger. Nothing here is visible to a controller.
    """

    def __init__(self, world: LunarWorld, config: SoilConfig) -> None:
        self.world = world
        self.config = config
        terrain = world.terrain
        cell = config.cell_size_m or terrain.cell_size_m
        if math.isclose(cell, terrain.cell_size_m, rel_tol=1e-9):
            heights, origin = np.array(terrain.heights_m, dtype=np.float64), terrain.origin_xy_m
            cell = terrain.cell_size_m
        else:
            heights, origin = resample_terrain(terrain, cell)
        g = world.config.gravity_mps2
        self.grid = SoilGrid(heights, cell, origin, config=config, gravity_mps2=g)
        self.initial_heights_m = self.grid.snapshot()
        phys_hz = world.config.physics_hz
        if phys_hz % config.update_hz != 0:
            raise SoilError(
                f"soil update_hz ({config.update_hz}) must divide physics_hz ({phys_hz})"
            )
        self.steps_per_update = phys_hz // config.update_hz
        self.update_dt_s = 1.0 / config.update_hz
        self.k = max(1, round(config.collision_cell_size_m / cell))
        ny, nx = self.grid.shape
        self._ncy = (ny - 1) // self.k + 1
        self._ncx = (nx - 1) // self.k + 1
        if self._ncx < 2 or self._ncy < 2:
            raise SoilError(
                f"collision cell {self.k * cell} m leaves fewer than 2 samples on the grid"
            )
        z_lo = float(heights.min()) - config.height_margin_m
        z_hi = float(heights.max()) + config.height_margin_m
        from .world import REGOLITH_COLOR_RGBA

        self.field = TiledHeightfield(
            world.client,
            self._collision_samples(0, self._ncy, 0, self._ncx),
            self.k * cell,
            origin,
            (z_lo, z_hi),
            config.tile_cells,
            rgba=REGOLITH_COLOR_RGBA,
            friction=1.0,
        )
        self._tools: list[ToolTrack] = []
        self._wheels: list[tuple[SimRover, int]] = []
        self._wheel_load: dict[tuple[int, int], float] = {}
        self._rut_at: dict[tuple[int, int], tuple[float, float]] = {}
        self._terrain_set = frozenset(self.field.bodies)
        self._tick = 0
        self.updates = 0
        self.tiles_replaced = 0
        self.modules: list[PlacedModule] = []
        """Modules standing in the soil (ground truth), in the order placed."""
        self.module_bodies: list[int] = []
        """Visual-only boxes of the modules (GUI only; they collide with nothing)."""
        world.add_step_hook(self._on_step)
        log.info(
            "soil: %d×%d grid at %.3f m, collision %d×%d at %.3f m in %d tiles, %s",
            nx,
            ny,
            cell,
            self._ncx,
            self._ncy,
            self.k * cell,
            len(self.field.tiles),
            config.material,
        )

    # ----------------------------------------------------------------- geometry
    @property
    def terrain_bodies(self) -> tuple[int, ...]:
        return self.field.bodies

    def _collision_samples(self, cj0: int, cj1: int, ci0: int, ci1: int) -> FloatArray:
        """Collision samples [cj0, cj1) × [ci0, ci1): soil heights box-averaged over a
        collision cell around each sample."""
        k = self.k
        h = self.grid.heights_m
        if k == 1:
            return np.array(h[cj0:cj1, ci0:ci1], copy=True)
        r = k // 2
        ny, nx = h.shape
        sj0, sj1 = max(0, cj0 * k - r), min(ny, (cj1 - 1) * k + r + 1)
        si0, si1 = max(0, ci0 * k - r), min(nx, (ci1 - 1) * k + r + 1)
        block = uniform_filter(h[sj0:sj1, si0:si1], size=2 * r + 1, mode="nearest")
        rows = np.arange(cj0, cj1) * k - sj0
        cols = np.arange(ci0, ci1) * k - si0
        return np.asarray(block[np.ix_(rows, cols)], dtype=np.float64)

    def _refresh(self) -> None:
        box = self.grid.pop_dirty()
        if box is None:
            return
        k = self.k
        r = k // 2
        cj0 = max(0, (box.j0 - r) // k)
        cj1 = min(self._ncy, (box.j1 - 1 + r) // k + 1)
        ci0 = max(0, (box.i0 - r) // k)
        ci1 = min(self._ncx, (box.i1 - 1 + r) // k + 1)
        if cj1 <= cj0 or ci1 <= ci0:
            return
        values = self._collision_samples(cj0, cj1, ci0, ci1)
        self.tiles_replaced += self.field.update(
            slice(cj0, cj1), slice(ci0, ci1), values, tolerance_m=_COLLISION_TOLERANCE_M
        )

    # ----------------------------------------------------------------- modules
    def place_module(
        self,
        centre_xy_m: tuple[float, float],
        size_xy_m: tuple[float, float],
        yaw_rad: float,
        height_m: float,
    ) -> None:
        """Level a spot and stand a rigid module of ``size_xy_m`` × ``height_m`` (m) on it,
        turned by ``yaw_rad`` about ``centre_xy_m`` (:func:`lunarsite.sim.modules.place_module`).

        Meant for building a scenario, before rovers are added and the run's first
        snapshots taken: the levelled ring is settled, the collision tiles refreshed (the
        module is part of the terrain heightfield), and the run's baseline
        (:attr:`initial_heights_m`, the grid's initial mass) moves to the new surface. The
        initial mass moves only by the placement's round-off, so soil moved before the
        call stays in the ledger. Raises :class:`SoilError` for a footprint not fully on
        the grid, a non-positive height, an overlap with another module, or a top above
        the collision tiles' pinned height range.
        """
        grid = self.grid
        mass_before = grid.mass_kg()
        module = place_module(
            grid, centre_xy_m, size_xy_m, yaw_rad, height_m, max_top_m=self.field.z_hi
        )
        grid.settle()
        grid.initial_mass_kg += grid.mass_kg() - mass_before
        self.initial_heights_m = grid.snapshot()
        self._refresh()
        self.modules.append(module)
        if self.world.gui:
            self.module_bodies.append(add_module_visual(self.world.client, module))

    # ------------------------------------------------------------------ rovers
    def attach(self, rover: SimRover) -> None:
        """Track a rover's scoops, buckets and wheels (the world does this in add_rover)."""
        c = self.world.client
        for spec in rover.tool_links.values():
            if spec.kind not in ("scoop", "bucket"):
                continue
            for body in self.field.bodies:
                c.setCollisionFilterPair(body, rover.body, -1, spec.link, 0)
            track = ToolTrack(rover, spec, ToolLoad(spec.capacity_m3, self.grid.rho_loose))
            track.applied_mass_kg = spec.link_mass_kg
            track.edge = edge_now(c, track)
            self._tools.append(track)
        if self.config.wheel_sinkage:
            self._wheels.extend((rover, w) for w in rover.wheel_links)

    def tool_load_kg(self, rover: SimRover, tool: str) -> float:
        """Soil held in a rover's tool, in kg (ground truth)."""
        for t in self._tools:
            if t.rover is rover and t.spec.name == tool:
                return t.load.load_kg
        raise KeyError(f"rover {rover.config.name!r} has no soil tool {tool!r}")

    # ------------------------------------------------------------------ stepping
    def _on_step(self) -> None:
        self._tick += 1
        if self._tick % self.steps_per_update == 0:
            self.update()
        if self.config.cutting_resistance:
            apply_cutting_forces(self.world.client, self.world.physics_dt_s, self._tools)

    def update(self) -> None:
        """One soil update: tools cut and pour, wheels sink, slopes slump, tiles refresh."""
        grid = self.grid
        obstacles = []
        for t in self._tools:
            prev = t.edge
            curr = edge_now(self.world.client, t)
            t.edge = curr
            # Depth of cut: the soil standing at the edge before this sweep removes it.
            width, depth = edge_engagement(grid, curr, ahead_of(grid, prev, curr))
            pouring = t.pitch_down_rad >= self.config.dump_angle_rad
            if prev is not None:
                # A tool tipped to pour takes nothing in: its edge shoves soil like a blade.
                result = blade(grid, prev, curr) if pouring else scoop(grid, t.load, prev, curr)
                t.cut_kg += result.cut_kg
            if pouring and t.load.load_kg > 0.0:
                frac = 1.0 - math.exp(-self.update_dt_s / self.config.pour_time_constant_s)
                kg = t.load.load_kg if t.load.load_kg < 0.01 else frac * t.load.load_kg
                t.poured_kg += pour(grid, t.load, curr, kg)
            if depth > 0.0:
                obstacles.append(edge_cells(grid, curr))
            set_cutting_force(t, width, depth, self.config, grid)
            set_tool_mass(self.world.client, t)
        for rover, wheel in self._wheels:
            self._rut(rover, wheel)
        grid.set_obstacles(np.concatenate(obstacles) if obstacles else None)
        grid.relax()
        self._refresh()
        self.updates += 1

    def _rut(self, rover: SimRover, wheel: int) -> None:
        """Sink the soil under a wheel by the Bekker static sinkage of its load.

        The load is PyBullet's contact normal force, low-passed over ``_WHEEL_LOAD_TAU_S``
        and capped at the rover's weight (contact impulses spike on impacts); the patch is
        centred under the axle (contact points on a cylinder jump between its rims). The
        wheel is pressed once it has rolled ``_RUT_STEP_CELLS`` from its last rut, over the
        whole way since, so a wheel standing still costs nothing and deepens its rut (if
        its load grew meanwhile) as it leaves.
        """
        c = self.world.client
        bodies = self._terrain_set
        raw = sum(
            float(cp[9])
            for cp in c.getContactPoints(bodyA=rover.body, linkIndexA=wheel)
            if cp[2] in bodies
        )
        weight = rover.config.total_mass_kg * self.grid.gravity_mps2
        key = (rover.body, wheel)
        alpha = 1.0 - math.exp(-self.update_dt_s / _WHEEL_LOAD_TAU_S)
        load = self._wheel_load.get(key, 0.0)
        load += alpha * (min(raw, weight) - load)
        self._wheel_load[key] = load
        if raw <= 0.0 or load <= 0.0:
            return
        wh = rover.config.wheels
        cfg = self.config
        z = bekker_static_sinkage_m(
            load,
            width_m=wh.width_m,
            diameter_m=2.0 * wh.radius_m,
            k_c=cfg.bekker_kc,
            k_phi=cfg.bekker_kphi,
            n=cfg.bekker_n,
        )
        if z <= 0.0:
            return
        pos = c.getLinkState(rover.body, wheel)[4]
        here = (float(pos[0]), float(pos[1]))
        last = self._rut_at.get(key)
        cell = self.grid.cell_size_m
        if last is not None:
            travel = math.hypot(here[0] - last[0], here[1] - last[1])
            if travel < _RUT_STEP_CELLS * cell:
                return  # pressed here already, at this load or close to it
            if travel > _RUT_MAX_SWEEP_M:
                last = None  # moved by hand (a reset), not rolled
        _, orn = c.getBasePositionAndOrientation(rover.body)
        yaw = c.getEulerFromQuaternion(orn)[2]
        length = max(contact_length_m(z, 2.0 * wh.radius_m), cell)
        wheel_rut(
            self.grid,
            here,
            yaw,
            width_m=wh.width_m,
            length_m=length,
            sinkage_m=z,
            swept_from_xy_m=last,
        )
        self._rut_at[key] = here

    # --------------------------------------------------------------- reporting
    def snapshot(self) -> FloatArray:
        """The true soil surface now (a copy), in m; layout as the terrain's."""
        return self.grid.snapshot()

    @property
    def tool_loads_kg(self) -> float:
        return sum(t.load.load_kg for t in self._tools)

    def volume_report(self) -> dict[str, Any]:
        """The soil ledger: volumes and masses now against the start, for metrics.json.

        ``conservation_error_kg`` is (grid + tools + outflow) now minus the grid at the
        start; ``conservation_error_rel`` divides it by the mass moved (cut by tools).
        """
        g = self.grid
        rho_l = g.rho_loose
        area = g.cell_area_m2
        # Modules are placed before the run starts: initial heights include them too.
        v0 = float(((self.initial_heights_m - g.datum_m).sum() - g.solid_m.sum()) * area)
        mass_now = g.mass_kg()
        tools = self.tool_loads_kg
        moved = sum(t.load.filled_kg for t in self._tools)
        cut = sum(t.cut_kg for t in self._tools)
        err = mass_now + tools + g.outflow_kg - g.initial_mass_kg
        diff = g.heights_m - self.initial_heights_m
        return {
            "material": self.config.material,
            "cell_size_m": g.cell_size_m,
            "collision_cell_size_m": self.k * g.cell_size_m,
            "datum_m": g.datum_m,
            "grid_volume_before_m3": v0,
            "grid_volume_after_m3": g.volume_m3(),
            "grid_mass_before_kg": g.initial_mass_kg,
            "grid_mass_after_kg": mass_now,
            "tool_load_kg": tools,
            "tool_volume_m3": tools / rho_l,
            "moved_into_tools_kg": moved,
            "moved_into_tools_m3": moved / rho_l,
            "cut_kg": cut,
            "poured_kg": sum(t.load.poured_kg for t in self._tools),
            "outflow_kg": g.outflow_kg,
            "fill_m3": float(np.maximum(diff, 0.0).sum() * area),
            "cut_m3": float(np.maximum(-diff, 0.0).sum() * area),
            "conservation_error_kg": err,
            "conservation_error_rel": abs(err) / cut if cut > 0.0 else 0.0,
            "updates": self.updates,
            "tiles_replaced": self.tiles_replaced,
            "contact_refreshes": self.field.contact_refreshes,
        }
