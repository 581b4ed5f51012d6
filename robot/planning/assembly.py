"""Assembly planning: in which order to fetch and set down the units a design places.

An order must respect precedence, support and access:

- a unit resting on another comes after it (a paver under before one on top), and a unit
  standing on a pad after the ``level_pad`` that makes it (the plan lists those pads
  first, in the order the units need them);
- support and stability are checked before planning
  (:func:`~lunarsite.robot.site.modules.check_placements`: a unit rests only on a kind
  its type allows, centred on it);
- access: the rover (a disc of its circumscribed radius, grown while it carries a unit
  ahead of it) must reach each unit's depot slot and each target along a straight
  run-in, and no unit set down may shut off a later unit's run-in, a depot slot still
  needed, or the rover's way home.

The order is built greedily, the unit farthest from home first (a site is built from
the far end back, so the finished part is behind the rover), each choice checked against
every unit still to place; when no unit can go next the plan fails with the reason.
Depot slots are taken nearest the target first among those the rover can reach.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lunarsite.robot.planning.assembly_access import AccessMap, Approach, Rect
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.site.modules import Catalog, ModuleType, Placement, outline
from lunarsite.robot.types import Pose2, wrap_angle

__all__ = [
    "AssemblyError",
    "AssemblyParams",
    "AssemblyPlan",
    "AssemblyStep",
    "DepotSlot",
    "depot_access",
    "gap_m",
    "grasp_heading",
    "grasp_headings",
    "plan_assembly",
    "unit_rect",
]

log = logging.getLogger(__name__)

Point = tuple[float, float]
MAX_REASONS = 4
"""Units named in a failure's reason; the rest are counted."""


class AssemblyError(RuntimeError):
    """No order places every unit (planning failed); the message says which and why."""


@dataclass(frozen=True, slots=True)
class DepotSlot:
    """A unit waiting in the depot: its id, catalog type, centre and yaw (m, rad)."""

    id: str
    type: str
    x_m: float
    y_m: float
    yaw_rad: float = 0.0


@dataclass(frozen=True, slots=True)
class AssemblyParams:
    """The placing rover's geometry, in m."""

    rover_radius_m: float
    """Circumscribed radius of the rover seen from above (it turns within it)."""
    grip_ahead_m: float
    """From the rover's centre to the centre of a unit in its grasp, along its heading."""
    clearance_m: float = 0.05
    """Kept between the rover (or a carried unit) and anything else."""
    run_in_m: float = 0.3
    """Straight drive-in to a grasp or a set-down after the last turn (at least)."""
    jaw_pad_m: float = 0.0
    """Thickness of the jaw pads, in m (0 with ``jaw_depth_m``: the jaws are not swept)."""
    jaw_depth_m: float = 0.0
    """Length of the jaw pads along the rover's heading, in m."""
    jaw_margin_m: float = 0.04
    """The jaws go in this much wider than a unit on each side, and open this much to
    let it go, in m."""

    @property
    def body_radius_m(self) -> float:
        """The disc the rover keeps clear, in m."""
        return self.rover_radius_m + self.clearance_m

    def turn_radius_m(self, module: ModuleType) -> float:
        """The disc the rover sweeps turning in place with a unit in its grasp, in m."""
        along = 0.5 * (module.size_m[0] if module.grasp.axis == "y" else module.size_m[1])
        carrying = math.hypot(self.grip_ahead_m + along, 0.5 * module.grasp_width_m)
        return max(self.body_radius_m, carrying + self.clearance_m)

    def __post_init__(self) -> None:
        for name in ("rover_radius_m", "grip_ahead_m", "run_in_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"AssemblyParams.{name} must be positive, got {value}")
        if not (math.isfinite(self.clearance_m) and self.clearance_m >= 0.0):
            raise ValueError(f"AssemblyParams.clearance_m must be >= 0, got {self.clearance_m}")


@dataclass(frozen=True, slots=True)
class AssemblyStep:
    """Fetch ``slot``'s unit standing at ``pick`` and set it down at ``placement``
    standing at ``place``; ``after`` are the placements it rests on."""

    placement: Placement
    slot: DepotSlot
    pick: Pose2
    place: Pose2
    after: tuple[str, ...]
    pick_pre_xy_m: Point
    """Where the rover turns to face the depot unit before its straight run-in."""
    place_pre_xy_m: Point
    """Where the rover, holding the unit, turns to face its target before the run-in."""


@dataclass(frozen=True, slots=True)
class AssemblyPlan:
    steps: tuple[AssemblyStep, ...]
    pads: tuple[str, ...]
    """``level_pad`` designs to finish before the first step, in order of first need."""
    home_xy_m: Point

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(s.placement.id for s in self.steps)


def unit_rect(x_m: float, y_m: float, yaw_rad: float, module: ModuleType) -> Rect:
    """A unit's footprint at a pose, for the access map."""
    return Rect(x_m, y_m, 0.5 * module.size_m[0], 0.5 * module.size_m[1], yaw_rad)


def gap_m(a: Placement, module_a: ModuleType, b: Placement, module_b: ModuleType) -> float:
    """How far apart two units' footprints are (0 when they touch or overlap), in m. Two
    boxes apart are nearest at a corner of one of them: measured both ways round."""
    corners_a = np.asarray(outline(a, module_a))
    corners_b = np.asarray(outline(b, module_b))
    rect_a = unit_rect(a.x_m, a.y_m, a.yaw_rad, module_a)
    rect_b = unit_rect(b.x_m, b.y_m, b.yaw_rad, module_b)
    return min(
        float(rect_a.distance_m(corners_b[:, 0], corners_b[:, 1]).min()),
        float(rect_b.distance_m(corners_a[:, 0], corners_a[:, 1]).min()),
    )


def grasp_headings(yaw_rad: float, module: ModuleType) -> tuple[float, float]:
    """The rover faces a unit across its grasp axis: the jaws close on that axis."""
    base = yaw_rad if module.grasp.axis == "y" else yaw_rad + 0.5 * math.pi
    return (base, base + math.pi)


def grasp_heading(yaw_rad: float, module: ModuleType, near_rad: float) -> float:
    """Of the two headings the rover can grasp a unit turned ``yaw_rad`` from, the one
    nearest ``near_rad``, in rad (wrapped)."""
    return wrap_angle(
        min(grasp_headings(yaw_rad, module), key=lambda h: abs(wrap_angle(h - near_rad)))
    )


def depot_access(
    slots: Sequence[DepotSlot],
    catalog: Catalog,
    grid: GridSpec,
    blocked: npt.NDArray[np.bool_],
    params: AssemblyParams,
    modules: Iterable[ModuleType],
) -> AccessMap:
    """The access map before the first step: the static obstacles and every depot unit
    (as ``depot:<slot id>``), for the rover's own radius and its turns with ``modules``."""
    radii = (params.body_radius_m, *(params.turn_radius_m(m) for m in modules))
    access = AccessMap(grid, blocked, radii)
    for s in slots:
        m = catalog.get(s.type)
        if m is None:
            raise AssemblyError(f"depot slot {s.id!r}: type {s.type!r} is not in the catalog")
        access.add("depot:" + s.id, unit_rect(s.x_m, s.y_m, s.yaw_rad, m))
    return access


class _Planner:
    def __init__(
        self,
        placements: Sequence[Placement],
        catalog: Catalog,
        slots: Sequence[DepotSlot],
        grid: GridSpec,
        blocked: npt.NDArray[np.bool_],
        home_xy_m: Point,
        params: AssemblyParams,
    ) -> None:
        self.p, self.home = params, home_xy_m
        self.by_id = {q.id: q for q in placements}
        self.module: dict[str, ModuleType] = {}
        for q in placements:
            m = catalog.get(q.type)
            if m is None:
                raise AssemblyError(f"placement {q.id!r}: type {q.type!r} is not in the catalog")
            self.module[q.id] = m
        self.body = params.body_radius_m
        self.turn = {m.name: params.turn_radius_m(m) for m in self.module.values()}
        self.slots = {s.id: s for s in slots}
        self.access = depot_access(slots, catalog, grid, blocked, params, self.module.values())
        if not self.access.connected(home_xy_m, home_xy_m, max(self.turn.values())):
            raise AssemblyError(
                f"home {home_xy_m} has no room for the rover to turn with a unit "
                f"({max(self.turn.values()):.2f} m radius)"
            )
        self.place_ways = {q.id: self._approaches(q) for q in placements}
        self.pick_ways = {s.id: self._pick_approaches(s, catalog) for s in slots}

    def _ways(
        self, x: float, y: float, yaw: float, m: ModuleType, excluded: tuple[str, ...]
    ) -> tuple[Approach, ...]:
        turn = self.turn[m.name]
        # Room to turn at the pre-approach pose with the unit in the grasp, and (picking)
        # clear of the unit still in its slot: its near face is grip − along ahead.
        along = 0.5 * (m.size_m[0] if m.grasp.axis == "y" else m.size_m[1])
        run_in = max(
            self.p.run_in_m + turn - self.body,
            turn + self.p.clearance_m + along - self.p.grip_ahead_m,
        )
        out = []
        for h in grasp_headings(yaw, m):
            stand = (x - self.p.grip_ahead_m * math.cos(h), y - self.p.grip_ahead_m * math.sin(h))
            carried = unit_rect(x, y, yaw, m)
            jaws = None
            if self.p.jaw_depth_m > 0.0:
                across = 0.5 * m.grasp_width_m + self.p.jaw_margin_m + self.p.jaw_pad_m
                jaws = Rect(x, y, 0.5 * self.p.jaw_depth_m, across, h)
            out.append(
                self.access.approach(stand, h, run_in, self.body, turn, carried, excluded, jaws)
            )
        return tuple(out)

    def _approaches(self, q: Placement) -> tuple[Approach, ...]:
        below: list[str] = []
        s = q
        while s.on is not None:
            below.append(s.on)
            s = self.by_id[s.on]
        return self._ways(q.x_m, q.y_m, q.yaw_rad, self.module[q.id], tuple(below))

    def _pick_approaches(self, s: DepotSlot, catalog: Catalog) -> tuple[Approach, ...]:
        m = catalog.get(s.type)
        assert m is not None
        return self._ways(s.x_m, s.y_m, s.yaw_rad, m, ("depot:" + s.id,))

    # -- checks on the current state -----------------------------------------------
    def place_way(self, qid: str) -> Approach | None:
        return next((a for a in self.place_ways[qid] if self.access.clear(a, self.home)), None)

    def pick_way(self, sid: str) -> Approach | None:
        """A run-in the empty rover can drive to the slot (turning as it does empty),
        from where it can turn back out holding the unit."""
        for a in self.pick_ways[sid]:
            empty = Approach(
                a.stand_xy_m, a.pre_xy_m, a.heading_rad, self.body, a.body_radius_m,
                a.lane, a.sweep, a.excluded,
            )  # fmt: skip
            if self.access.clear(empty, self.home) and self.access.connected(
                a.pre_xy_m, self.home, a.turn_radius_m
            ):
                return a
        return None

    def free_slot(
        self, type_name: str, near: Point, taken: set[str]
    ) -> tuple[DepotSlot, Approach] | None:
        best: tuple[float, str, DepotSlot, Approach] | None = None
        for s in self.slots.values():
            if s.type != type_name or s.id in taken:
                continue
            way = self.pick_way(s.id)
            if way is None:
                continue
            key = (math.hypot(s.x_m - near[0], s.y_m - near[1]), s.id)
            if best is None or key < best[:2]:
                best = (*key, s, way)
        return None if best is None else (best[2], best[3])

    def way_out(self, way: Approach) -> bool:
        return self.access.connected(way.pre_xy_m, self.home, self.body)

    # -- the order -----------------------------------------------------------------
    def plan(self) -> list[AssemblyStep]:
        remaining = dict(self.by_id)
        taken: set[str] = set()
        steps: list[AssemblyStep] = []
        while remaining:
            ready = [q for q in remaining.values() if q.on is None or q.on not in remaining]
            ready.sort(
                key=lambda q: (-math.hypot(q.x_m - self.home[0], q.y_m - self.home[1]), q.id)
            )
            reasons: list[str] = []
            for q in ready:
                step = self._try(q, remaining, taken, reasons)
                if step is not None:
                    steps.append(step)
                    del remaining[q.id]
                    taken.add(step.slot.id)
                    break
            else:
                raise AssemblyError(self._failure(steps, ready, reasons))
        return steps

    def _try(
        self, q: Placement, remaining: dict[str, Placement], taken: set[str], reasons: list[str]
    ) -> AssemblyStep | None:
        place = self.place_way(q.id)
        if place is None:
            reasons.append(f"{q.id!r}: no straight run-in to it is clear of what stands")
            return None
        picked = self.free_slot(q.type, q.xy_m, taken)
        if picked is None:
            reasons.append(f"{q.id!r}: no {q.type} in the depot the rover can reach")
            return None
        slot, pick = picked
        m = self.module[q.id]
        self.access.remove("depot:" + slot.id)
        # Out of the depot with it before it is set down: turning with it, the rover
        # needs its wider berth from where it picked it.
        if not self.access.connected(pick.pre_xy_m, self.home, pick.turn_radius_m):
            self.access.add("depot:" + slot.id, unit_rect(slot.x_m, slot.y_m, slot.yaw_rad, m))
            reasons.append(f"{q.id!r}: no room to turn out of the depot holding it")
            return None
        self.access.add(q.id, unit_rect(q.x_m, q.y_m, q.yaw_rad, m))
        blocked = self._shut_off(q, remaining, taken | {slot.id}, place)
        if blocked is None:
            after = () if q.on is None else (q.on,)
            return AssemblyStep(
                q,
                slot,
                Pose2(*pick.stand_xy_m, pick.heading_rad),
                Pose2(*place.stand_xy_m, place.heading_rad),
                after,
                pick.pre_xy_m,
                place.pre_xy_m,
            )
        self.access.remove(q.id)
        self.access.add("depot:" + slot.id, unit_rect(slot.x_m, slot.y_m, slot.yaw_rad, m))
        reasons.append(f"{q.id!r}: set down now, it would shut off {blocked}")
        return None

    def _shut_off(
        self,
        q: Placement,
        remaining: dict[str, Placement],
        taken: set[str],
        place: Approach,
    ) -> str | None:
        """What setting ``q`` down by ``place`` would shut off (None: nothing)."""
        if not self.way_out(place):
            return "the rover's own way back"
        needed: dict[str, int] = {}
        for r in remaining.values():
            if r.id == q.id:
                continue
            if self.place_way(r.id) is None:
                return f"the run-in to {r.id!r}"
            needed[r.type] = needed.get(r.type, 0) + 1
        for type_name in needed:
            if self.free_slot(type_name, self.home, taken) is None:
                return f"every {type_name} left in the depot"
        return None

    def _failure(
        self, steps: list[AssemblyStep], ready: list[Placement], reasons: list[str]
    ) -> str:
        done = len(steps)
        head = f"no unit can be placed after the first {done} of {len(self.by_id)}"
        if not ready:
            return f"{head}: every unit left rests on one not yet placed"
        shown = "; ".join(reasons[:MAX_REASONS])
        more = len(reasons) - MAX_REASONS
        return f"{head}: {shown}" + (f"; and {more} more" if more > 0 else "")


def plan_assembly(
    placements: Sequence[Placement],
    catalog: Catalog,
    slots: Sequence[DepotSlot],
    grid: GridSpec,
    blocked: npt.NDArray[np.bool_],
    home_xy_m: Point,
    params: AssemblyParams,
) -> AssemblyPlan:
    """An order that places every unit (see the module docstring), or
    :class:`AssemblyError` with the reason none exists. ``blocked`` marks the grid's
    cells the rover may not enter (rocks, keep-outs, steep ground); ``home_xy_m`` is
    where it starts and must be able to return to. Placements are assumed checked
    (:func:`~lunarsite.robot.site.modules.check_placements`)."""
    counts: dict[str, int] = {}
    for q in placements:
        counts[q.type] = counts.get(q.type, 0) + 1
    for type_name, n in sorted(counts.items()):
        held = sum(1 for s in slots if s.type == type_name)
        if held < n:
            raise AssemblyError(f"the depot holds {held} {type_name} for {n} placements")
    ids = [s.id for s in slots]
    if len(set(ids)) != len(ids):
        raise AssemblyError("depot slot ids must be unique")
    planner = _Planner(placements, catalog, slots, grid, blocked, home_xy_m, params)
    steps = planner.plan()
    pads: list[str] = []
    for s in steps:
        if s.placement.pad is not None and s.placement.pad not in pads:
            pads.append(s.placement.pad)
    log.info("assembly plan: %d units, pads first: %s", len(steps), ", ".join(pads) or "none")
    return AssemblyPlan(tuple(steps), tuple(pads), home_xy_m)
