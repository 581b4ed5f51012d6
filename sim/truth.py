"""The evaluation channel: what really happened in the simulated world.

Ground truth is for metrics and reports. Nothing here is passed to the controller; the
controller only sees what :meth:`SimRover.read` returns, as a real rover would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lunarsite.robot.types import Pose2

if TYPE_CHECKING:
    from .rover import SimRover
    from .world import LunarWorld

__all__ = ["GroundTruth", "TruePose"]


@dataclass(frozen=True, slots=True)
class TruePose:
    """The true 3-D pose of a rover's chassis: position in m, Euler angles in rad."""

    x_m: float
    y_m: float
    z_m: float
    roll_rad: float
    pitch_rad: float
    yaw_rad: float

    @property
    def pose2(self) -> Pose2:
        return Pose2(self.x_m, self.y_m, self.yaw_rad)

    @property
    def tilt_rad(self) -> float:
        """Angle between the chassis z axis and vertical, in rad."""
        return math.acos(max(-1.0, min(1.0, math.cos(self.roll_rad) * math.cos(self.pitch_rad))))


class GroundTruth:
    """Read-only access to the true state of a :class:`LunarWorld`."""

    def __init__(self, world: LunarWorld) -> None:
        self._world = world

    def rover_pose(self, rover: SimRover) -> TruePose:
        c = self._world.client
        _, orn = c.getBasePositionAndOrientation(rover.body)
        pos, _ = rover.chassis_frame()
        roll, pitch, yaw = c.getEulerFromQuaternion(orn)
        return TruePose(float(pos[0]), float(pos[1]), float(pos[2]), roll, pitch, yaw)

    def rover_speed_mps(self, rover: SimRover) -> float:
        lin, _ = self._world.client.getBaseVelocity(rover.body)
        return float(math.hypot(lin[0], lin[1]))

    def tipped_over(self, rover: SimRover) -> bool:
        return self.rover_pose(rover).tilt_rad > rover.config.limits.tip_over_rad

    def rock_contacts(self, rover: SimRover) -> frozenset[int]:
        """Rock bodies the rover touches right now."""
        rocks = self._world.rock_bodies
        if not rocks:
            return frozenset()
        rock_set = set(rocks)
        contacts = self._world.client.getContactPoints(bodyA=rover.body)
        return frozenset(int(cp[2]) for cp in contacts if int(cp[2]) in rock_set)

    def unit_poses(self) -> dict[str, tuple[float, float, float, float]]:
        """Every free unit's centre (x, y, z) and yaw now, by id, in m and rad."""
        c = self._world.client
        out = {}
        for uid, unit in self._world.units.items():
            pos, orn = c.getBasePositionAndOrientation(unit.body)
            yaw = c.getEulerFromQuaternion(orn)[2]
            out[uid] = (float(pos[0]), float(pos[1]), float(pos[2]), float(yaw))
        return out

    def unit_contacts(self, rover: SimRover) -> frozenset[str]:
        """Ids of the free units the rover touches right now."""
        units = self._world.units
        if not units:
            return frozenset()
        by_body = {u.body: uid for uid, u in units.items()}
        contacts = self._world.client.getContactPoints(bodyA=rover.body)
        return frozenset(by_body[int(cp[2])] for cp in contacts if int(cp[2]) in by_body)

    def held_unit_contacts(self, rover: SimRover) -> tuple[str | None, frozenset[str]]:
        """The unit a rover's clamp holds now (None: none) and the other units it touches."""
        held = next((g.held for g in getattr(rover, "grasps", ()) if g.held is not None), None)
        if held is None:
            return None, frozenset()
        by_body = {u.body: uid for uid, u in self._world.units.items()}
        contacts = self._world.client.getContactPoints(bodyA=held)
        others = frozenset(by_body[int(cp[2])] for cp in contacts if int(cp[2]) in by_body)
        return by_body.get(held), others

    def terrain_heights_m(self) -> np.ndarray:
        """A copy of the true terrain height grid now, in m (layout as :class:`Terrain`).

        With deformable soil this is the soil surface (:meth:`SoilSim.snapshot`), on the
        soil grid: see :attr:`terrain_cell_size_m` and :attr:`terrain_origin_xy_m`.
        """
        soil = self._world.soil
        if soil is not None:
            return soil.snapshot()
        return np.array(self._world.terrain.heights_m, copy=True)

    @property
    def terrain_cell_size_m(self) -> float:
        """Cell size of :meth:`terrain_heights_m`, in m."""
        soil = self._world.soil
        return soil.grid.cell_size_m if soil is not None else self._world.terrain.cell_size_m

    @property
    def terrain_origin_xy_m(self) -> tuple[float, float]:
        """Position of sample (0, 0) of :meth:`terrain_heights_m`, in m."""
        soil = self._world.soil
        return soil.grid.origin_xy_m if soil is not None else self._world.terrain.origin_xy_m

    def soil_report(self) -> dict[str, Any] | None:
        """The soil ledger (:meth:`SoilSim.volume_report`), or None on rigid terrain."""
        soil = self._world.soil
        return soil.volume_report() if soil is not None else None

    def soil_mass_kg(self) -> np.ndarray | None:
        """Soil mass per cell of the soil grid now, in kg (None on rigid terrain)."""
        soil = self._world.soil
        return soil.grid.column_mass_kg() if soil is not None else None

    def tool_load_kg(self, rover: SimRover, tool: str) -> float:
        """Soil held in a rover's scoop or bucket, in kg (0 on rigid terrain)."""
        soil = self._world.soil
        return soil.tool_load_kg(rover, tool) if soil is not None else 0.0

    def energy_used_wh(self, rover: SimRover) -> float:
        """Mechanical energy the rover's motors have delivered, in Wh."""
        return rover.energy_used_j / 3600.0
