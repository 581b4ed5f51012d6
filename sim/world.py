"""The lunar world: one PyBullet client, lunar gravity, terrain, rocks, rovers.

Every PyBullet call goes through this world's own :class:`BulletClient`; there is no
module-level PyBullet state, so several worlds can live in one process (a test runs two
side by side to check determinism).

Ground truth (true poses, true terrain, contacts) is reached only through
:attr:`LunarWorld.truth`, which is for metrics and reports, never for the controller.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import ConvexHull

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.types import Pose2

from .clock import SimClock
from .config import SimConfig
from .heightfield import heightfield_body
from .quiet import c_stdout_silenced
from .render_tiles import RenderTiles
from .soil_config import SoilConfig
from .terrain import MAX_HEIGHTFIELD_SAMPLES, Terrain
from .truth import GroundTruth

with c_stdout_silenced():  # PyBullet prints its build time from C on import
    import pybullet as pb
    from pybullet_utils import bullet_client

if TYPE_CHECKING:
    from .rover import SimRover
    from .soil_coupling import SoilSim
    from .units import SimUnit

__all__ = ["LunarWorld", "SimConfig", "SimError", "c_stdout_silenced"]

log = logging.getLogger(__name__)

REGOLITH_COLOR_RGBA = (0.55, 0.54, 0.52, 1.0)
ROCK_COLOR_RGBA = (0.38, 0.37, 0.36, 1.0)


def _outward_triangles(vertices: np.ndarray, hull: ConvexHull) -> np.ndarray:
    """Hull triangles wound counter-clockwise seen from outside (for rendering)."""
    tris = np.array(hull.simplices, dtype=np.int64)
    a, b, cc = (vertices[tris[:, k]] for k in range(3))
    normals = np.cross(b - a, cc - a)
    outward = np.einsum("ij,ij->i", normals, a - vertices.mean(axis=0)) >= 0.0
    tris[~outward] = tris[~outward][:, ::-1]
    return tris


class SimError(RuntimeError):
    """The simulation cannot be built or run as asked."""


class LunarWorld:
    """A lunar site in PyBullet: heightfield terrain, rigid rocks and rovers."""

    def __init__(
        self,
        terrain: Terrain,
        config: SimConfig | None = None,
        *,
        gui: bool = False,
        soil: SoilConfig | None = None,
    ) -> None:
        """Build the world. With ``soil``, the ground is deformable regolith
        (:class:`lunarsite.sim.soil_coupling.SoilSim`, reached as :attr:`soil`) on tiled
        collision heightfields; without it, one rigid heightfield."""
        self.config = config or SimConfig()
        self.terrain = terrain
        if terrain.heights_m.size > MAX_HEIGHTFIELD_SAMPLES:
            raise SimError(
                f"terrain has {terrain.heights_m.size} samples; PyBullet heightfields break "
                f"above {MAX_HEIGHTFIELD_SAMPLES} (use a coarser cell size)"
            )
        mode = pb.GUI if gui else pb.DIRECT
        with c_stdout_silenced():
            self.client = bullet_client.BulletClient(connection_mode=mode)
        self.gui = gui
        self._step_count = 0
        self._step_hooks: list[Callable[[], None]] = []
        self.rovers: list[SimRover] = []
        self.units: dict[str, SimUnit] = {}
        """Free units a placement rover handles, by id (:mod:`lunarsite.sim.units`)."""
        c = self.client
        c.resetSimulation()
        c.setPhysicsEngineParameter(
            fixedTimeStep=1.0 / self.config.physics_hz,
            numSolverIterations=self.config.solver_iterations,
            deterministicOverlappingPairs=1,
        )
        c.setGravity(0.0, 0.0, -self.config.gravity_mps2)
        if gui:
            c.configureDebugVisualizer(pb.COV_ENABLE_GUI, 0)
        self.soil: SoilSim | None = None
        if soil is None:
            self.terrain_body = self._build_terrain()
            self.terrain_bodies: tuple[int, ...] = (self.terrain_body,)
        else:
            from .soil_coupling import SoilSim

            self.soil = SoilSim(self, soil)
            self.terrain_bodies = self.soil.terrain_bodies
            self.terrain_body = self.terrain_bodies[0]
        self.rock_bodies = self._build_rocks()
        self._render_tiles: RenderTiles | None = None
        self.clock = SimClock(self)
        self.truth = GroundTruth(self)
        log.info(
            "world: %d×%d terrain at %.3f m, %d rocks, %d Hz physics, g = %.3f m/s²",
            terrain.heights_m.shape[1],
            terrain.heights_m.shape[0],
            terrain.cell_size_m,
            len(self.rock_bodies),
            self.config.physics_hz,
            self.config.gravity_mps2,
        )

    def render_tiles(self) -> RenderTiles | None:
        """The terrain as the rover camera draws it (built on first use, after every other
        body); None when the scenario turns culling off."""
        if not self.config.camera_culls_terrain:
            return None
        if self._render_tiles is None:
            if self.soil is not None:
                self._render_tiles = RenderTiles.soil(
                    self.client, self.soil.field, REGOLITH_COLOR_RGBA
                )
            else:
                t = self.terrain
                self._render_tiles = RenderTiles.rigid(
                    self.client,
                    t.heights_m,
                    t.cell_size_m,
                    t.origin_xy_m,
                    self.terrain_body,
                    REGOLITH_COLOR_RGBA,
                )
        return self._render_tiles

    # ------------------------------------------------------------------- building
    def _build_terrain(self) -> int:
        t = self.terrain
        c = self.client
        _, body = heightfield_body(c, t.heights_m, t.cell_size_m, t.origin_xy_m)
        c.changeVisualShape(body, -1, rgbaColor=list(REGOLITH_COLOR_RGBA))
        c.changeDynamics(body, -1, lateralFriction=1.0, restitution=0.0)
        return body

    def _build_rocks(self) -> list[int]:
        c = self.client
        bodies: list[int] = []
        for rock in self.terrain.rocks:
            verts = np.asarray(rock.vertices_m, dtype=np.float64)
            ground = self.terrain.height_at(rock.x_m, rock.y_m)
            z = ground - rock.embed_depth_m - float(verts[:, 2].min())
            col = c.createCollisionShape(pb.GEOM_MESH, vertices=verts.tolist())
            hull = ConvexHull(verts)
            vis = c.createVisualShape(
                pb.GEOM_MESH,
                vertices=verts.tolist(),
                indices=_outward_triangles(verts, hull).ravel().tolist(),
                rgbaColor=list(ROCK_COLOR_RGBA),
            )
            body = int(
                c.createMultiBody(
                    baseMass=0.0,
                    baseCollisionShapeIndex=col,
                    baseVisualShapeIndex=vis,
                    basePosition=[rock.x_m, rock.y_m, z],
                )
            )
            c.changeDynamics(body, -1, lateralFriction=0.9, restitution=0.0)
            bodies.append(body)
        return bodies

    def add_rover(self, config: RoverConfig, start: Pose2, *, rng: np.random.Generator) -> SimRover:
        """Place a rover built from ``config`` on the ground at ``start``."""
        from .rover import SimRover

        if not self.terrain.contains(start.x_m, start.y_m):
            raise SimError(
                f"rover start ({start.x_m:.2f}, {start.y_m:.2f}) m is outside the terrain"
            )
        rover = SimRover(self, config, start, rng=rng)
        self.rovers.append(rover)
        if self.soil is not None:
            self.soil.attach(rover)
        return rover

    # -------------------------------------------------------------------- running
    @property
    def physics_dt_s(self) -> float:
        return 1.0 / self.config.physics_hz

    @property
    def sim_time_s(self) -> float:
        """Simulated time since the world was built, in s (exact multiple of the step)."""
        return self._step_count / self.config.physics_hz

    @property
    def step_count(self) -> int:
        return self._step_count

    def add_step_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` after every physics step (sensors that sample at the physics rate)."""
        self._step_hooks.append(hook)

    def step(self, n: int = 1) -> None:
        """Advance the physics by ``n`` steps."""
        if n < 0:
            raise ValueError(f"cannot step a negative number of times ({n})")
        c = self.client
        hooks = self._step_hooks
        for _ in range(n):
            c.stepSimulation()
            self._step_count += 1
            for hook in hooks:
                hook()

    def render_view(
        self,
        target_xyz_m: tuple[float, float, float],
        *,
        distance_m: float,
        yaw_rad: float,
        pitch_rad: float,
        width_px: int,
        height_px: int,
        vertical_fov_rad: float = math.radians(50.0),
    ) -> np.ndarray:
        """An RGB picture (H×W×3 uint8) from an orbit camera, for videos and reports: a
        black sky and the low sun of :mod:`.lunar_view`, shadows cast around the target.
        ``yaw_rad`` and ``pitch_rad`` as PyBullet's ``computeViewMatrixFromYawPitchRoll``
        (yaw 0 looks along +y, pitch < 0 looks down)."""
        from .lunar_view import ShadowFocus, render_lunar_view

        target = np.asarray(target_xyz_m, dtype=np.float64)
        view_matrix = self.client.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=target.tolist(),
            distance=distance_m,
            yaw=math.degrees(yaw_rad),
            pitch=math.degrees(pitch_rad),
            roll=0.0,
            upAxisIndex=2,
        )
        world_to_camera = np.asarray(view_matrix, dtype=np.float64).reshape(4, 4).T
        eye = np.linalg.inv(world_to_camera)[:3, 3]
        focus = ShadowFocus(
            (float(target[0]), float(target[1]), float(target[2])),
            max(1.0, 1.5 * distance_m),
            max(0.5, 0.3 * distance_m),
        )
        view = render_lunar_view(
            self,
            eye.tolist(),
            target.tolist(),
            width_px=width_px,
            height_px=height_px,
            vertical_fov_rad=vertical_fov_rad,
            shadows=focus,
        )
        return view.rgb

    def close(self) -> None:
        """Disconnect the PyBullet client. Safe to call twice."""
        if getattr(self, "client", None) is not None:
            with contextlib.suppress(pb.error):  # already disconnected
                self.client.disconnect()
            self.client = None

    def __enter__(self) -> LunarWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
