"""``lunarsite plan SCENARIO``: the earthwork plan from the scenario's starting terrain,
printed and drawn, without simulating.

The starting terrain is generated from the scenario and seed as a run would generate it,
sampled at the rover's survey cells (what a perfect first survey would see), with the
scenario's modules stood on it (:func:`with_modules`); the designs
are laid on it, and the cut and fill, the transport flows, the bound and the loads are
those the rover's first plan would make from such a survey. Nothing here loads PyBullet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lunarsite.robot.planning.earthwork import CutFill, HaulFlows, cut_fill, haul_flows
from lunarsite.robot.planning.hauls import HaulPlan, plan_loads
from lunarsite.robot.site.design import ModuleBox, bounding_box
from lunarsite.robot.site.grid import FloatArray, GridSpec
from lunarsite.robot.site.survey import region_weights

from .files import ScenarioError

if TYPE_CHECKING:
    from lunarsite.sim.terrain import Terrain

    from .schema import LoadedScenario

__all__ = [
    "EarthworkPreview",
    "draw_plan",
    "preview_plan",
    "terrain_on_grid",
    "with_modules",
    "write_plan_picture",
]

MODULE_LEVEL_MARGIN_M = 0.3
"""How far round a module's footprint the simulator levels the ground before standing it
there (``lunarsite.sim.modules``), in m."""


def terrain_on_grid(terrain: Terrain, grid: GridSpec) -> FloatArray:
    """The terrain's heights at the grid's cell centres (nearest sample), in m."""
    heights = np.asarray(terrain.heights_m, dtype=np.float64)
    src = GridSpec(terrain.origin_xy_m, terrain.cell_size_m, (heights.shape[0], heights.shape[1]))
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    j, i = src.cells_of(gx, gy)
    out: FloatArray = heights[np.clip(j, 0, src.shape[0] - 1), np.clip(i, 0, src.shape[1] - 1)]
    return out


@dataclass(frozen=True, eq=False)
class EarthworkPreview:
    """The first plan of an earthwork scenario, from its starting terrain."""

    scenario: LoadedScenario
    seed: int
    ground_m: FloatArray
    cutfill: CutFill
    flows: HaulFlows
    plan: HaulPlan
    bucket_load_kg: float

    def lines(self) -> list[str]:
        """What the plan is, a line each, for the terminal."""
        cf, fl, pl = self.cutfill, self.flows, self.plan
        n = cf.grid.shape
        load = self.bucket_load_kg
        out = [
            f"{self.scenario.config.name} seed {self.seed}: survey grid {n[1]} × {n[0]} cells "
            f"of {cf.grid.cell_size_m * 100:.0f} cm",
            f"cut {cf.cut_m3:.3f} m³ ({fl.cut_kg:.0f} kg), fill {cf.fill_m3:.3f} m³ "
            f"({fl.fill_kg:.0f} kg); moved {fl.moved_kg:.0f} kg",
            f"haul work bound (optimal transport): {fl.bound_kg_m:.0f} kg·m; planned loads "
            f"{pl.work_kg_m:.0f} kg·m ({pl.work_kg_m / fl.bound_kg_m:.2f} × the bound)"
            if fl.bound_kg_m > 0
            else "nothing to move",
            f"{pl.trips} trips of up to {load:.1f} kg (bucket)",
        ]
        return out

    def summary(self) -> dict[str, object]:
        """The figures of :meth:`lines`, for ``plan.json``."""
        cf, fl, pl = self.cutfill, self.flows, self.plan
        return {
            "scenario": self.scenario.config.name,
            "seed": self.seed,
            "survey_cell_m": cf.grid.cell_size_m,
            "cut_m3": round(cf.cut_m3, 4),
            "fill_m3": round(cf.fill_m3, 4),
            "cut_kg": round(fl.cut_kg, 2),
            "fill_kg": round(fl.fill_kg, 2),
            "moved_kg": round(fl.moved_kg, 2),
            "bound_kg_m": round(fl.bound_kg_m, 2),
            "planned_work_kg_m": round(pl.work_kg_m, 2),
            "trips": pl.trips,
            "bucket_load_kg": round(self.bucket_load_kg, 2),
            "loads": [
                {
                    "dig_xy_m": ld.dig_xy_m,
                    "dump_xy_m": ld.dump_xy_m,
                    "mass_kg": round(ld.mass_kg, 3),
                }
                for ld in pl.loads
            ],
        }


def with_modules(
    ground_m: FloatArray, grid: GridSpec, modules: tuple[ModuleBox, ...]
) -> FloatArray:
    """The ground with each module stood on it as the simulator stands it (before the
    run): the footprint grown by :data:`MODULE_LEVEL_MARGIN_M` levelled to its mean, the
    footprint raised by the module's height."""
    out = np.array(ground_m, dtype=np.float64, copy=True)
    for m in modules:
        outline = m.outline_xy_m()
        ring = bounding_box(outline, MODULE_LEVEL_MARGIN_M)
        w = (grid.shape, grid.cell_size_m, grid.origin_xy_m)
        spot = region_weights(*w, ring, subsamples=1) > 0.5
        body = region_weights(*w, outline, subsamples=1) > 0.5
        if spot.any():
            out[spot] = float(out[spot].mean())
        out[body] += m.height_m
    return out


def preview_plan(scenario: LoadedScenario, seed: int) -> EarthworkPreview:
    """The first plan of an earthwork ``scenario`` on its starting terrain for ``seed``.

    Raises:
        ScenarioError: the scenario is not an earthwork mission.
        PlanningError: the designs cannot be balanced on this ground.
    """
    from .backends import SeedStreams, build_terrain
    from .missions.earthwork import EarthworkMission, task_params

    if not isinstance(scenario.mission, EarthworkMission):
        raise ScenarioError(
            scenario.path, [f"mission.kind: {scenario.kind.kind!r} is not an earthwork mission"]
        )
    params = task_params(scenario.mission, scenario)
    terrain = build_terrain(scenario, SeedStreams(seed).terrain)
    ground = with_modules(terrain_on_grid(terrain, params.grid), params.grid, params.modules)
    designs = tuple(d.resolve(params.grid, ground) for d in params.designs)
    cf = cut_fill(ground, designs, params.grid, params.planner.deadband_m)
    flows = haul_flows(
        cf,
        params.planner,
        borrow_mask=params.borrow_mask,
        spoil_mask=params.spoil_mask,
        no_go_mask=params.no_go_mask,
    )
    start = (scenario.start.x_m, scenario.start.y_m)
    plan = plan_loads(flows, params.planner, start)
    return EarthworkPreview(scenario, seed, ground, cf, flows, plan, params.planner.bucket_load_kg)


def write_plan_picture(preview: EarthworkPreview, path: Path) -> None:
    """``plan.png`` of a preview (see :func:`draw_plan`)."""
    title = (
        f"{preview.scenario.config.name} seed {preview.seed}: {preview.plan.trips} trips, "
        f"{preview.flows.moved_kg:.0f} kg, bound {preview.flows.bound_kg_m:.0f} kg·m"
    )
    draw_plan(path, preview.cutfill, preview.plan, preview.scenario.mission, title)


def draw_plan(path: Path, cf: CutFill, plan: HaulPlan, mission: Any, title: str) -> None:
    """A PNG: cut (red) and fill (blue) per cell, the loads as arrows from dig to dump
    (width by mass), the designs' outlines and the borrow and spoil boxes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = cf.grid
    field = np.where(np.isfinite(cf.target_m), cf.fill_m - cf.cut_m, np.nan)
    x0, y0 = g.origin_xy_m
    h = 0.5 * g.cell_size_m
    extent = (
        x0 - h,
        x0 + (g.shape[1] - 0.5) * g.cell_size_m,
        y0 - h,
        y0 + (g.shape[0] - 0.5) * g.cell_size_m,
    )
    lim = max(0.02, float(np.nanmax(np.abs(field))) if np.isfinite(field).any() else 0.02)
    fig, ax = plt.subplots(figsize=(10, 10 * g.shape[0] / g.shape[1] + 0.8), dpi=100)
    im = ax.imshow(
        field * 100, origin="lower", extent=extent, cmap="RdBu", vmin=-lim * 100, vmax=lim * 100
    )
    fig.colorbar(im, ax=ax, label="fill (+) / cut (−) to the design, cm", shrink=0.8)
    from .missions.earthwork import designs_of

    for d in designs_of(mission):
        pts = np.asarray((*d.outline_xy_m(), d.outline_xy_m()[0]))
        ax.plot(pts[:, 0], pts[:, 1], "k-", lw=1)
        ax.annotate(d.name, pts[0], fontsize=9)
    for label, boxes, colour in (
        ("borrow", mission.borrow, "tab:brown"),
        ("spoil", mission.spoil, "tab:green"),
    ):
        for b in boxes:
            bx0, bx1, by0, by1 = b.box().bounds_m
            ax.plot([bx0, bx1, bx1, bx0, bx0], [by0, by0, by1, by1, by0], color=colour, lw=1.5)
            ax.annotate(label, (bx0, by1), fontsize=9, color=colour)
    loads = plan.loads
    top = max((ld.mass_kg for ld in loads), default=1.0)
    for ld in loads:
        ax.annotate(
            "",
            xy=ld.dump_xy_m,
            xytext=ld.dig_xy_m,
            arrowprops={
                "arrowstyle": "->",
                "color": "k",
                "lw": 0.4 + 1.6 * ld.mass_kg / top,
                "alpha": 0.7,
            },
        )
    ax.set_title(title)
    ax.set_xlabel("x (m, east)")
    ax.set_ylabel("y (m, north)")
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
