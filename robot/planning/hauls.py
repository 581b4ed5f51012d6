"""From transport flows to bucket loads, in the order the rover carries them.

:func:`plan_loads` packs the flows of :func:`~.earthwork.haul_flows` into loads of one
bucket each: a load takes soil from neighbouring sources (within ``gather_m`` of its
first) to neighbouring sinks, so a dig pass fills the bucket and one dump pours it. The
dig point is the mass-weighted centre of what the load takes, the dump point that of
where it goes. Loads are taken nearest first from where the rover stands (CraterGrader
executes moves nearest first; reference/CONSTRUCTION.md), the rover standing at each
dump when it picks the next; among equally near loads, one whose carry does not cross
soil dumped earlier in the plan is preferred (no driving over fresh fill).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..site.grid import FloatArray
from .earthwork import EarthworkParams, HaulFlows

__all__ = ["HaulPlan", "Load", "plan_loads"]

FRESH_FILL_PENALTY_M = 2.0
"""Extra distance charged for picking a load whose carry passes within a haul cell of
soil dumped earlier in the plan, in m."""


@dataclass(frozen=True, slots=True)
class Load:
    """One bucket: where it is dug, where it is dumped, how much (kg), and for what."""

    dig_xy_m: tuple[float, float]
    dump_xy_m: tuple[float, float]
    mass_kg: float
    source_kind: str
    sink_kind: str

    @property
    def carry_m(self) -> float:
        return math.hypot(
            self.dump_xy_m[0] - self.dig_xy_m[0], self.dump_xy_m[1] - self.dig_xy_m[1]
        )


@dataclass(frozen=True, slots=True)
class HaulPlan:
    """Loads in order, with the planned haul work beside the transport bound."""

    loads: tuple[Load, ...]
    bound_kg_m: float

    @property
    def moved_kg(self) -> float:
        return sum(ld.mass_kg for ld in self.loads)

    @property
    def work_kg_m(self) -> float:
        """Σ load mass × carry distance of the planned loads, in kg·m."""
        return sum(ld.mass_kg * ld.carry_m for ld in self.loads)

    @property
    def trips(self) -> int:
        return len(self.loads)


def _passes_near(a: FloatArray, b: FloatArray, points: FloatArray, radius_m: float) -> bool:
    """Whether the segment a → b passes within ``radius_m`` of any of ``points`` (N, 2)."""
    if len(points) == 0:
        return False
    d = b - a
    ll = float(d @ d)
    t = np.zeros(len(points)) if ll == 0.0 else np.clip((points - a) @ d / ll, 0.0, 1.0)
    near = a + t[:, None] * d
    return bool(np.any(np.hypot(*(points - near).T) < radius_m))


def plan_loads(
    flows: HaulFlows,
    params: EarthworkParams,
    start_xy_m: tuple[float, float],
    *,
    gather_m: float | None = None,
) -> HaulPlan:
    """Pack ``flows`` into bucket loads and order them (see the module docstring)."""
    gather = 2.0 * params.haul_cell_m if gather_m is None else gather_m
    cap = params.bucket_load_kg
    pairs = flows.pairs(params.min_flow_kg)
    if not pairs:
        return HaulPlan((), flows.bound_kg_m)
    src = flows.source_xy_m[[s for s, _, _ in pairs]]
    snk = flows.sink_xy_m[[k for _, k, _ in pairs]]
    left = np.array([kg for _, _, kg in pairs])
    here = np.asarray(start_xy_m, dtype=np.float64)
    dumped: list[FloatArray] = []
    loads: list[Load] = []
    while True:
        open_ = left >= 0.25 * params.min_flow_kg
        idx = np.flatnonzero(open_)
        if len(idx) == 0:
            break
        reach = np.hypot(*(src[idx] - here).T)
        fresh = np.array(dumped).reshape(-1, 2)
        penalty = np.zeros(len(idx))
        for n, i in enumerate(idx):
            before = fresh[np.hypot(*(fresh - snk[i]).T) > gather] if len(fresh) else fresh
            if _passes_near(src[i], snk[i], before, 0.5 * gather):
                penalty[n] = FRESH_FILL_PENALTY_M
        seed = int(idx[np.argmin(reach + penalty)])
        d_src = np.hypot(*(src - src[seed]).T)
        d_snk = np.hypot(*(snk - snk[seed]).T)
        cand = np.flatnonzero((d_src <= gather) & (d_snk <= gather) & open_)
        cand = cand[np.argsort(d_src[cand] + d_snk[cand], kind="stable")]
        take = np.zeros_like(left)
        room = cap
        for i in cand:
            if room <= 0.0:
                break
            t = min(left[i], room)
            take[i] = t
            room -= t
        mass = float(take.sum())
        left -= take
        w = take / mass
        dig = (float(w @ src[:, 0]), float(w @ src[:, 1]))
        dump = (float(w @ snk[:, 0]), float(w @ snk[:, 1]))
        kinds_src = flows.source_kind[pairs[seed][0]]
        kinds_snk = flows.sink_kind[pairs[seed][1]]
        loads.append(Load(dig, dump, mass, kinds_src, kinds_snk))
        dumped.append(np.asarray(dump))
        here = np.asarray(dump)
    return HaulPlan(tuple(loads), flows.bound_kg_m)
