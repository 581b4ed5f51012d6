"""Backends: where a mission's rover lives. ``sim``, a PyBullet lunar world; ``serial``, a
physical (or virtual) rover over a serial port.

A backend builds the rover behind the hardware interface and brings it to ACTIVE
(:meth:`Backend.start_rover`), offers the sensors it has beyond the rover's own
(:meth:`Backend.range_scanner`, :meth:`Backend.camera`), and, in simulation only, the
evaluation channel (:class:`Truth`) that the recorder and the metrics read and the
controller never sees. A :class:`SensorObserver` (the run log) set on a backend before the
mission builds its sensors is shown each scan and camera frame the controller takes,
after it took it, unchanged. Firmware in the loop (the firmware core driving a simulated
rover's motors) is a third backend of this shape: its rover is a serial rover whose
plant is a simulated one.

PyBullet and pyserial are imported by the backend that needs them, when it is built.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from lunarsite.robot.executive import SensorWatch
from lunarsite.robot.hardware import Clock, HardwareError, RoverInterface
from lunarsite.robot.navigation import CameraSource, MapSource
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.types import CameraFrame, Pose2

from .schema import LoadedScenario

if TYPE_CHECKING:
    from lunarsite.sim.chase_camera import ChaseCamera
    from lunarsite.sim.rover import SimRover
    from lunarsite.sim.terrain import Terrain
    from lunarsite.sim.truth import TruePose
    from lunarsite.sim.world import LunarWorld

__all__ = [
    "Backend",
    "MissingSensorError",
    "SeedStreams",
    "SensorObserver",
    "SerialBackend",
    "SimBackend",
    "Truth",
    "build_terrain",
]

log = logging.getLogger(__name__)


class MissingSensorError(HardwareError):
    """The backend's rover lacks a sensor the mission needs."""


class SeedStreams:
    """Independent random streams from one seed: terrain, rover sensors, random goals and
    the range scanner (``numpy.random.SeedSequence(seed).spawn(4)``)."""

    def __init__(self, seed: int) -> None:
        gens = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
        self.terrain, self.sensors, self.goals, self.scanner = gens


def build_terrain(scenario: LoadedScenario, rng: np.random.Generator) -> Terrain:
    """The scenario's site: its DEM, or procedural terrain drawn from ``rng``."""
    from lunarsite.sim.dem import load_dem
    from lunarsite.sim.terrain_config import DemTerrainConfig, ProceduralTerrainConfig
    from lunarsite.sim.terrain_generation import generate_terrain

    site = scenario.config.site
    if isinstance(site.terrain, DemTerrainConfig):
        return load_dem(site.terrain, scenario.base_dir)
    assert isinstance(site.terrain, ProceduralTerrainConfig)
    assert site.cell_size_m is not None
    return generate_terrain(site.terrain, scenario.site_size_m, site.cell_size_m, rng)


class SensorObserver(Protocol):
    """Shown what the controller's sensors gave it (see the module docstring)."""

    def scan_seen(self, scan: RangeScan) -> None: ...

    def frame_seen(self, frame: CameraFrame) -> None: ...


def observed_scans(source: MapSource, observer: SensorObserver | None) -> MapSource:
    """``source``, showing each scan it returns to ``observer`` (if any) first."""
    if observer is None:
        return source

    def read() -> RangeScan | None:
        scan = source()
        if scan is not None:
            observer.scan_seen(scan)
        return scan

    return read


def observed_frames(source: CameraSource, observer: SensorObserver | None) -> CameraSource:
    """``source``, showing each frame it returns to ``observer`` (if any) first."""
    if observer is None:
        return source

    def read() -> CameraFrame:
        frame = source()
        observer.frame_seen(frame)
        return frame

    return read


class Truth:
    """The evaluation channel of one simulated rover: for the recorder and the metrics."""

    def __init__(self, world: LunarWorld, rover: SimRover) -> None:
        self.world = world
        self.rover = rover
        self._truth = world.truth
        self._chase: ChaseCamera | None = None

    def pose(self) -> TruePose:
        return self._truth.rover_pose(self.rover)

    def rock_contacts(self) -> frozenset[int]:
        return self._truth.rock_contacts(self.rover)

    def tool_load_kg(self, tool: str) -> float:
        return self._truth.tool_load_kg(self.rover, tool)

    def unit_poses(self) -> dict[str, tuple[float, float, float, float]]:
        return self._truth.unit_poses()

    def unit_contacts(self) -> frozenset[str]:
        return self._truth.unit_contacts(self.rover)

    def energy_used_wh(self) -> float:
        return self._truth.energy_used_wh(self.rover)

    def tipped_over(self) -> bool:
        return self._truth.tipped_over(self.rover)

    def terrain_heights_m(self) -> np.ndarray:
        return self._truth.terrain_heights_m()

    @property
    def terrain_cell_size_m(self) -> float:
        return self._truth.terrain_cell_size_m

    @property
    def terrain_origin_xy_m(self) -> tuple[float, float]:
        return self._truth.terrain_origin_xy_m

    def soil_report(self) -> dict[str, Any] | None:
        return self._truth.soil_report()

    def soil_mass_kg(self) -> np.ndarray | None:
        return self._truth.soil_mass_kg()

    @property
    def chase_camera(self) -> ChaseCamera:
        """The camera following the rover for videos (one per run: it keeps its heading
        from one picture to the next)."""
        if self._chase is None:
            from lunarsite.sim.chase_camera import ChaseCamera

            self._chase = ChaseCamera(self.world, self.rover)
        return self._chase

    def chase_view(self, width_px: int, height_px: int) -> np.ndarray:
        """A picture from the camera following the rover (for videos): black sky, low
        sun, long shadows (:mod:`lunarsite.sim.chase_camera`)."""
        return self.chase_camera.frame(width_px, height_px).rgb


class Backend(ABC):
    """Where the rover of a run lives (see the module docstring). Use as a context
    manager: leaving it releases the world or the port."""

    name: str
    observer: SensorObserver | None = None
    """Shown the scans and frames of the sensors built after it is set (the run log)."""
    imu_readings_raw: bool = False
    """Whether the rover's IMU readings come straight from a noisy sensor model, never
    quantized or repeated by a link: six channels that repeat then mean a stopped IMU."""
    sensor_watch: SensorWatch | None = None
    """Watches the scanners and cameras built after it is set for a stop (the run's
    :class:`~lunarsite.robot.executive.SensorWatch`, which the loop asks every tick)."""

    @property
    @abstractmethod
    def rover(self) -> RoverInterface:
        """The rover (built by :meth:`start_rover`)."""

    @property
    def clock(self) -> Clock:
        return self.rover.clock

    @property
    def truth(self) -> Truth | None:
        """The evaluation channel (simulation only), or None."""
        return None

    @abstractmethod
    def start_rover(self, start: Pose2) -> RoverInterface:
        """Build or connect the rover at ``start`` and make it ACTIVE."""

    def range_scanner(self, config: Any, rng: np.random.Generator) -> MapSource:
        """A range scanner on the rover (``config``: a ``RangefinderConfig``; ``rng``: its
        noise)."""
        raise MissingSensorError(f"the {self.name} backend has no range scanner")

    def camera(self) -> CameraSource:
        """The rover's camera frames."""
        raise MissingSensorError(f"the {self.name} backend's rover has no camera")

    def close(self) -> None:  # noqa: B027 (nothing to release by default)
        """Stop the rover (best effort) and release what the backend holds."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SimBackend(Backend):
    """A rover in a simulated lunar world built from the scenario and the seed.

    Args:
        soil_on: False builds the site as rigid terrain even when the scenario has soil
            (on the soil's collision cell: the same stepping cost), to measure the soil.
        sim_options: changes to the scenario's ``sim`` settings (camera rendering).
    """

    name = "sim"
    imu_readings_raw = True

    def __init__(
        self,
        scenario: LoadedScenario,
        seed: int,
        *,
        gui: bool = False,
        soil_on: bool = True,
        sim_options: dict[str, Any] | None = None,
    ) -> None:
        from lunarsite.sim.world import LunarWorld

        self.scenario = scenario
        self.streams = SeedStreams(seed)
        terrain = build_terrain(scenario, self.streams.terrain)
        soil = scenario.config.soil
        if soil is not None and not soil_on:
            terrain = _rigid_terrain(terrain, soil)
            soil = None
        self.terrain = terrain
        sim_cfg = scenario.config.sim.model_copy(update=dict(sim_options or {}))
        self.world = LunarWorld(terrain, sim_cfg, gui=gui, soil=soil)
        self._rover: SimRover | None = None
        self._truth: Truth | None = None

    @property
    def rover(self) -> SimRover:
        if self._rover is None:
            raise RuntimeError("start_rover has not been called")
        return self._rover

    @property
    def truth(self) -> Truth | None:
        return self._truth

    def start_rover(self, start: Pose2) -> SimRover:
        rover = self.world.add_rover(self.scenario.rover, start, rng=self.streams.sensors)
        rover.configure()
        rover.activate()
        self._rover = rover
        self._truth = Truth(self.world, rover)
        return rover

    def range_scanner(self, config: Any, rng: np.random.Generator) -> MapSource:
        from lunarsite.sim.rangefinder import Rangefinder

        scan = Rangefinder(self.world, self.rover, config, rng=rng).read
        source = observed_scans(scan, self.observer)
        return source if self.sensor_watch is None else self.sensor_watch.scanner(source)

    def camera(self) -> CameraSource:
        if self.scenario.rover.camera is None:
            raise MissingSensorError(f"rover {self.scenario.rover.name!r} has no camera")
        source = observed_frames(self.rover.read_camera, self.observer)
        return source if self.sensor_watch is None else self.sensor_watch.camera(source)

    def close(self) -> None:
        self.world.close()


def _rigid_terrain(terrain: Terrain, soil: Any) -> Terrain:
    """The site on the collision cell the soil run would use (same stepping cost per
    contact), for the rigid-terrain comparison of ``bench soil``."""
    from lunarsite.sim.soil_heightfield import resample_terrain
    from lunarsite.sim.terrain import Terrain

    cell = soil.cell_size_m or terrain.cell_size_m
    k = max(1, round(soil.collision_cell_size_m / cell))
    if k == 1 and math.isclose(cell, terrain.cell_size_m):
        return terrain
    heights, origin = resample_terrain(terrain, k * cell)
    return Terrain(heights, k * cell, origin, craters=terrain.craters, rocks=terrain.rocks)


class SerialBackend(Backend):
    """A physical (or virtual) rover over a serial port: the reference firmware's
    protocol; no truth. ``start_rover`` handshakes (a mismatch refuses, nothing moves)."""

    name = "serial"

    def __init__(
        self,
        scenario: LoadedScenario,
        port: str,
        *,
        baud: int = 115200,
        connect_timeout_s: float = 5.0,
    ) -> None:
        from lunarsite.firmware_bridge.link import LinkConfig, SerialLink
        from lunarsite.firmware_bridge.serial_rover import SerialRover

        self.port = port
        self._rover = SerialRover(
            scenario.rover,
            SerialLink(LinkConfig(port=port, baudrate=baud)),
            connect_timeout_s=connect_timeout_s,
        )

    @property
    def rover(self) -> RoverInterface:
        return self._rover

    @property
    def hello(self) -> Any:
        """The rover's handshake (firmware version, boot id), once connected."""
        return self._rover.link.hello

    def link_counters(self) -> Any:
        return self._rover.link.counters()

    def start_rover(self, start: Pose2) -> RoverInterface:
        self._rover.configure()
        self._rover.activate()
        return self._rover

    def close(self) -> None:
        self._rover.close()
