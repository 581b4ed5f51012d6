"""``lunarsite plan`` for a ``place_modules`` scenario: the assembly order, which depot
unit goes where, and where the rover stands for each grasp and set-down, printed and
drawn, without simulating."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lunarsite.robot.planning.assembly import AssemblyPlan
from lunarsite.robot.site.modules import Catalog, Placement, outline

from .missions.placement import PlaceModulesMission, _catalog, assembly_of
from .missions.placement_report import site_axes
from .schema import LoadedScenario

__all__ = ["AssemblyPreview", "preview_assembly", "write_assembly_picture"]


@dataclass(frozen=True)
class AssemblyPreview:
    scenario: LoadedScenario
    catalog: Catalog
    plan: AssemblyPlan
    planning_s: float

    def lines(self) -> list[str]:
        out = [f"{len(self.plan.steps)} units in {self.planning_s * 1000:.0f} ms:"]
        if self.plan.pads:
            out.append(f"level first: {', '.join(self.plan.pads)}")
        for k, s in enumerate(self.plan.steps, 1):
            q = s.placement
            on = f" on {q.on}" if q.on else ""
            out.append(
                f"{k:3d}. {q.id} ({q.type}{on}) from {s.slot.id}: pick facing "
                f"{math.degrees(s.pick.yaw_rad):.0f}°, set down at ({q.x_m:.2f}, {q.y_m:.2f}) "
                f"facing {math.degrees(s.place.yaw_rad):.0f}°"
            )
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "order": list(self.plan.order),
            "pads_first": list(self.plan.pads),
            "planning_s": round(self.planning_s, 4),
            "steps": [
                {
                    "id": s.placement.id,
                    "depot_unit": s.slot.id,
                    "pick_stand": [
                        round(s.pick.x_m, 3),
                        round(s.pick.y_m, 3),
                        round(s.pick.yaw_rad, 4),
                    ],
                    "place_stand": [
                        round(s.place.x_m, 3),
                        round(s.place.y_m, 3),
                        round(s.place.yaw_rad, 4),
                    ],
                    "after": list(s.after),
                }
                for s in self.plan.steps
            ],
        }


def preview_assembly(scenario: LoadedScenario) -> AssemblyPreview:
    """Plan a checked ``place_modules`` scenario (raises ``AssemblyError``)."""
    mission: PlaceModulesMission = scenario.mission
    catalog = _catalog(mission, scenario.base_dir)
    assert scenario.site_size_m is not None
    start = (scenario.start.x_m, scenario.start.y_m)
    t0 = time.perf_counter()
    plan, _ = assembly_of(mission, scenario.rover, scenario.site_size_m, catalog, start)
    return AssemblyPreview(scenario, catalog, plan, time.perf_counter() - t0)


def write_assembly_picture(preview: AssemblyPreview, path: Path) -> None:
    """The site with the depot, the targets numbered in order and each step's stands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    plan, catalog = preview.plan, preview.catalog
    fig, ax = plt.subplots(figsize=(8, 6), dpi=110)
    for k, s in enumerate(plan.steps, 1):
        module = catalog.get(s.placement.type)
        assert module is not None
        depot = Placement(s.slot.id, s.slot.type, s.slot.x_m, s.slot.y_m, s.slot.yaw_rad)
        ax.add_patch(Polygon(outline(depot, module), fc="0.7", ec="k", lw=0.5))
        ax.add_patch(
            Polygon(outline(s.placement, module), fc="tab:blue", alpha=0.35, ec="k", lw=0.5)
        )
        ax.annotate(str(k), s.placement.xy_m, ha="center", va="center", fontsize=7)
        ax.annotate(str(k), (s.slot.x_m, s.slot.y_m), ha="center", va="center", fontsize=7)
        for stand, pre, colour in (
            (s.pick, s.pick_pre_xy_m, "0.45"),
            (s.place, s.place_pre_xy_m, "tab:green"),
        ):
            ax.plot([pre[0], stand.x_m], [pre[1], stand.y_m], color=colour, lw=0.8)
            ax.plot([stand.x_m], [stand.y_m], "o", color=colour, ms=2.5)
    start = preview.scenario.start
    ax.plot([start.x_m], [start.y_m], "k^", ms=7, label="home (start)")
    site_axes(ax, preview.scenario.site_size_m)
    ax.set_title(
        f"{preview.scenario.config.name}: order of {len(plan.steps)} units (grey: depot, "
        "blue: targets; lines: run-ins to pick and to set down)",
        fontsize=9,
    )
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
