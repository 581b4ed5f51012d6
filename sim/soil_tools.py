"""A scoop or bucket working the soil: its cutting edge, the cutting force, its link mass.

:class:`ToolTrack` follows one tool of a rover for :class:`lunarsite.sim.soil_coupling.SoilSim`.
Scoops and buckets do not collide with the terrain: the soil model decides what they cut,
:func:`set_tool_mass` adds their load to the mass of their link, and the FEE cutting
resistance at the world's gravity (:func:`set_cutting_force`) pushes back on the link at
the cutting edge (:func:`apply_cutting_forces`, every physics step, in the share of the
edge's motion that cuts, :func:`cutting_share`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from .earthmoving import CuttingEdge, ToolLoad
from .terramechanics import fee_force

if TYPE_CHECKING:
    from pybullet_utils.bullet_client import BulletClient

    from .rover import SimRover
    from .rover_tools import ToolLink
    from .soil import SoilGrid
    from .soil_config import SoilConfig

__all__ = [
    "ToolTrack",
    "apply_cutting_forces",
    "cutting_share",
    "edge_now",
    "set_cutting_force",
    "set_tool_mass",
]

FloatArray = NDArray[np.float64]

_MASS_UPDATE_KG = 0.02
"""Change of a tool's load that triggers a new link mass, in kg."""
_FORCE_SPEED_FLOOR_MPS = 1e-4
"""Edge speed below which no cutting force is applied, in m/s."""
_STOP_FRACTION = 0.5
"""The cutting force never exceeds this fraction of what would stop the rover in one step
(an explicit force larger than that would reverse the motion and chatter)."""


def cutting_share(velocity_mps: FloatArray, forward: FloatArray) -> float:
    """Share (0–1) of an edge's motion that cuts: its speed the way the tool faces, across
    the ground, over its whole speed.

    The FEE is the passive failure of a soil wedge ahead of an edge pushed forward through
    it. An edge lowered into the soil or lifted out of it, or dragged backwards, shears no
    wedge ahead of it, so the cutting force scales with this share.
    """
    speed = math.sqrt(float(np.dot(velocity_mps, velocity_mps)))
    reach = math.hypot(float(forward[0]), float(forward[1]))
    if speed <= 0.0 or reach <= 0.0:
        return 0.0
    ahead = float(velocity_mps[0] * forward[0] + velocity_mps[1] * forward[1]) / reach
    return max(ahead, 0.0) / speed


@dataclass
class ToolTrack:
    """A scoop or bucket the soil model follows: its rover and link, its load, its last
    cutting edge and the cutting force on it."""

    rover: SimRover
    spec: ToolLink
    load: ToolLoad
    edge: CuttingEdge | None = None
    pitch_down_rad: float = 0.0
    applied_mass_kg: float = 0.0
    force_h_n: float = 0.0
    force_v_n: float = 0.0
    cut_kg: float = 0.0
    poured_kg: float = 0.0


def edge_now(client: BulletClient, t: ToolTrack) -> CuttingEdge:
    """Where a tool's cutting edge is now; sets its :attr:`ToolTrack.pitch_down_rad`."""
    c = client
    st = c.getLinkState(t.rover.body, t.spec.link, computeForwardKinematics=1)
    pos = np.asarray(st[4], dtype=np.float64)
    rot = np.asarray(c.getMatrixFromQuaternion(st[5]), dtype=np.float64).reshape(3, 3)
    a, b = (pos + rot @ np.asarray(p, dtype=np.float64) for p in t.spec.edge_local_m)
    fwd = rot @ np.asarray(t.spec.forward_local, dtype=np.float64)
    t.pitch_down_rad = math.asin(max(-1.0, min(1.0, -float(fwd[2]))))
    return CuttingEdge(a, b, fwd)


def set_cutting_force(
    t: ToolTrack, width_m: float, depth_m: float, config: SoilConfig, grid: SoilGrid
) -> None:
    """The FEE cutting resistance of a tool engaging ``width_m`` × ``depth_m`` of soil."""
    if width_m <= 0.0 or depth_m <= 0.0 or not config.cutting_resistance:
        t.force_h_n = t.force_v_n = 0.0
        return
    cfg = config
    rake = min(max(t.pitch_down_rad, cfg.min_rake_rad), math.pi / 2)
    f = fee_force(
        width_m,
        depth_m,
        density_kgpm3=grid.rho_compact,
        gravity_mps2=grid.gravity_mps2,
        cohesion_pa=cfg.cohesion_pa,
        phi_rad=cfg.friction_angle_rad,
        rake_rad=rake,
        delta_rad=cfg.tool_friction_angle_rad,
    )
    t.force_h_n, t.force_v_n = f.horizontal_n, f.vertical_n


def apply_cutting_forces(client: BulletClient, physics_dt_s: float, tools: list[ToolTrack]) -> None:
    """Push back on each cutting tool's link at its edge, for one physics step of
    ``physics_dt_s`` (PyBullet clears external forces after a step)."""
    c = client
    dt = physics_dt_s
    for t in tools:
        if t.force_h_n <= 0.0 or t.edge is None:
            continue
        st = c.getLinkState(t.rover.body, t.spec.link, computeLinkVelocity=1)
        com = np.asarray(st[0], dtype=np.float64)
        v = np.asarray(st[6], dtype=np.float64)
        w = np.asarray(st[7], dtype=np.float64)
        at = t.edge.centre_m
        v_edge = v + np.cross(w, at - com)
        speed = math.hypot(float(v_edge[0]), float(v_edge[1]))
        if speed < _FORCE_SPEED_FLOOR_MPS:
            continue
        cutting = cutting_share(v_edge, t.edge.forward)
        if cutting <= 0.0:
            continue
        cap = _STOP_FRACTION * t.rover.config.total_mass_kg * speed / dt
        h = min(cutting * t.force_h_n, cap)
        scale = h / t.force_h_n
        force = [
            -h * float(v_edge[0]) / speed,
            -h * float(v_edge[1]) / speed,
            -t.force_v_n * scale,
        ]
        c.applyExternalForce(t.rover.body, t.spec.link, force, at.tolist(), flags=pb.WORLD_FRAME)


def set_tool_mass(client: BulletClient, t: ToolTrack) -> None:
    """Give a tool's link its own mass plus its load."""
    want = t.spec.link_mass_kg + t.load.load_kg
    if abs(want - t.applied_mass_kg) >= _MASS_UPDATE_KG or (
        t.load.load_kg == 0.0 and want != t.applied_mass_kg
    ):
        client.changeDynamics(t.rover.body, t.spec.link, mass=want)
        t.applied_mass_kg = want
