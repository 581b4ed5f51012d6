"""Where to aim a unit whose design lays it against units already set down: a joint's
width clear of them.

A design may lay units face to face (a road's pavers end to end, at a pitch of their
length). Aimed exactly at its design, a unit goes down with its edge on its neighbour's
whenever the set-down errs a few millimetres towards it: it rests tilted on that edge,
slides off when the jaws let go and shoves the neighbour. On ``paver_road`` that
happened 8 or 9 times a run and left pavers 6–8° and up to 13 cm off. Pavers are laid
with a joint between them for the same reason (the sand joint of a paved road), so the
rover aims each unit :data:`JOINT_M` clear of what it is laid against.

The joint is kept from where the neighbour was last *seen*, within limits: a neighbour
seen reaching towards the unit pushes the aim back by as much, at most
:data:`MAX_GIVE_M` more (unbounded, every unit's error would carry into the next, a
ratchet along a road), and one seen lying away lets the aim come up to the design.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from lunarsite.robot.planning.assembly import gap_m
from lunarsite.robot.site.modules import ModuleType, Placement, outline

__all__ = ["JOINT_M", "MAX_GIVE_M", "LaidUnit", "aim_clear_of", "touching"]

JOINT_M = 0.008
"""The gap the rover aims to leave between a unit and one it is laid against, in m
(about the along-road spread of its set-downs: a unit set down with nothing beside it
lands 3–9 mm off on paver_road)."""
MAX_GIVE_M = 0.008
"""How much farther back than the joint the aim may go for a neighbour seen reaching
towards the unit, in m."""


@dataclass(frozen=True)
class LaidUnit:
    """A unit already set down: its design, where the rover last saw it (its design
    when it never saw it) and its catalog type."""

    design: Placement
    seen: Placement
    module: ModuleType


def _reach_m(
    p: Placement, module: ModuleType, origin: tuple[float, float], n: tuple[float, float]
) -> float:
    """How far the unit's footprint reaches from ``origin`` along the unit vector ``n``."""
    return max((x - origin[0]) * n[0] + (y - origin[1]) * n[1] for x, y in outline(p, module))


def aim_clear_of(
    target: Placement,
    module: ModuleType,
    laid: Sequence[LaidUnit],
    joint_m: float = JOINT_M,
    give_m: float = MAX_GIVE_M,
) -> Placement:
    """``target`` moved away from each unit in ``laid`` whose design leaves less than
    ``joint_m`` between them, so that the joint is left from where that unit was seen
    (see the module docstring); a unit ``target`` rests on, or one resting on it, is
    not a neighbour. Units the design keeps ``joint_m`` or more apart leave it as is.

    Each neighbour asks for the aim to move at least so far along the line from it to
    ``target``; the aim is the least move that grants every ask, and where two asks
    cannot both be granted (a unit between two seen too close) it shares the room
    between them."""
    asks: list[tuple[npt.NDArray[np.float64], float]] = []
    for u in laid:
        d = u.design
        if target.on == d.id or d.on == target.id:
            continue
        gap = gap_m(target, module, d, u.module)
        centres = math.hypot(target.x_m - d.x_m, target.y_m - d.y_m)
        if gap >= joint_m or centres < 1e-9:
            continue
        n = ((target.x_m - d.x_m) / centres, (target.y_m - d.y_m) / centres)
        reach_in = _reach_m(u.seen, u.module, d.xy_m, n) - _reach_m(d, u.module, d.xy_m, n)
        need = joint_m - gap
        asks.append((np.asarray(n), min(need + reach_in, need + give_m)))
    move = np.zeros(2)
    active = [k for k, (_, at_least) in enumerate(asks) if at_least > 0.0]
    for _ in range(len(asks) + 1):
        if not active:
            break
        rows = np.asarray([asks[k][0] for k in active])
        rhs = np.asarray([asks[k][1] for k in active])
        move = np.linalg.lstsq(rows, rhs, rcond=None)[0]
        short = [k for k, (n, at_least) in enumerate(asks) if n @ move < at_least - 1e-9]
        if not short or set(short) <= set(active):
            break
        active = sorted(set(active) | set(short))
    return replace(target, x_m=target.x_m + float(move[0]), y_m=target.y_m + float(move[1]))


def touching(
    here: Placement, module: ModuleType, laid: Sequence[LaidUnit], within_m: float
) -> list[str]:
    """The ids of the units in ``laid`` (other than ``here``'s own) whose seen footprint
    lies within ``within_m`` of ``here``'s."""
    return [
        u.design.id
        for u in laid
        if u.design.id != here.id and gap_m(here, module, u.seen, u.module) < within_m
    ]
