"""A simulated range sensor on a rover's mast: ``rayTestBatch`` from the chassis.

reference/SIM.md ("Cameras"): range scans by ``rayTestBatch`` are a cheaper source for
mapping than rendered depth. :class:`Rangefinder` casts a fixed fan of rays (azimuths ×
elevations, in the chassis frame) from a mount point and reports what a real scanner
would: a :class:`lunarsite.robot.perception.points.RangeScan` in the sensor's own terms (ray
directions in the chassis frame, ranges with Gaussian noise, ``inf`` for no return). The
rover's own links are seen like anything else; the mapper drops points on its body.

It takes a :class:`LunarWorld` and a :class:`SimRover` and changes neither.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from lunarsite.robot.config import ScannerConfig
from lunarsite.robot.perception.points import RangeScan

from .rover import SimRover
from .world import LunarWorld

__all__ = ["Rangefinder", "RangefinderConfig", "datasheet_returns", "ray_directions"]

log = logging.getLogger(__name__)

MAX_RAYS_PER_BATCH = 16384
"""PyBullet's MAX_RAY_INTERSECTION_BATCH_SIZE (bullet3 SharedMemoryPublic.h)."""
RAY_THREADS = 0
"""``rayTestBatch``'s threads: 0 is every core (each ray is cast on its own, so the
ranges do not depend on it). 3,872 rays on the traverse site: 16.8 ms on one of this
machine's two cores, 10.1 ms on both."""


@dataclass(frozen=True, slots=True)
class RangefinderConfig:
    """A scanner's fan of rays and its noise."""

    mount_xyz_m: tuple[float, float, float]
    """Ray origin in the chassis frame (x forward, y left, z up), in m."""
    azimuth_fov_rad: float = math.radians(120.0)
    azimuth_count: int = 121
    elevation_min_rad: float = math.radians(-50.0)
    """Lowest ray, below the horizontal (negative looks down), in rad."""
    elevation_max_rad: float = math.radians(-3.0)
    elevation_count: int = 32
    max_range_m: float = 8.0
    """How far the rays are cast (the mapping range), in m."""
    range_std_m: float = 0.005
    part: ScannerConfig | None = None
    """The scanner's datasheet errors (they replace ``range_std_m``); see
    :meth:`with_part`."""

    def with_part(self, part: ScannerConfig | None) -> RangefinderConfig:
        """This fan on the scanner ``part``: its range noise, and only the rays its
        vertical field of view holds (the highest kept, at the same spacing)."""
        if part is None:
            return self
        lo, hi, n = self.elevation_min_rad, self.elevation_max_rad, self.elevation_count
        vfov = part.vertical_fov_rad
        if vfov is not None and n > 1 and hi - lo > vfov:
            step = (hi - lo) / (n - 1)
            n = math.floor(vfov / step + 1e-9) + 1
            lo = hi - (n - 1) * step
        return replace(
            self,
            elevation_min_rad=lo,
            elevation_count=n,
            range_std_m=part.range_std_m,
            part=part,
        )

    def __post_init__(self) -> None:
        n = self.azimuth_count * self.elevation_count
        if n < 1:
            raise ValueError("RangefinderConfig needs at least one ray")
        if n > 4 * MAX_RAYS_PER_BATCH:
            raise ValueError(
                f"RangefinderConfig asks for {n} rays; at most {4 * MAX_RAYS_PER_BATCH}"
            )
        if not (self.max_range_m > 0.0 and self.range_std_m >= 0.0):
            raise ValueError("RangefinderConfig: max_range_m must be > 0 and range_std_m >= 0")


def ray_directions(config: RangefinderConfig) -> np.ndarray:
    """Unit ray directions (N, 3) in the chassis frame, azimuth-major."""
    az = np.linspace(-0.5, 0.5, config.azimuth_count) * config.azimuth_fov_rad
    if config.azimuth_count == 1:
        az = np.zeros(1)
    el = np.linspace(config.elevation_min_rad, config.elevation_max_rad, config.elevation_count)
    a, e = np.meshgrid(az, el, indexing="ij")
    return np.column_stack(
        [(np.cos(e) * np.cos(a)).ravel(), (np.cos(e) * np.sin(a)).ravel(), np.sin(e).ravel()]
    )


class Rangefinder:
    """A mast scanner on ``rover`` in ``world``; :meth:`scan` casts its rays now."""

    def __init__(
        self,
        world: LunarWorld,
        rover: SimRover,
        config: RangefinderConfig,
        *,
        rng: np.random.Generator,
    ) -> None:
        self.world = world
        self.rover = rover
        self.config = config
        self._rng = rng
        self._dirs = ray_directions(config)
        self._across = _across_beams(self._dirs)

    def read(self) -> RangeScan | None:
        """The scanner's stream: a scan taken now, or None once the scenario's fault
        rehearsal has stopped the scanner."""
        return None if self.rover.sensor_stopped("scanner") else self.scan()

    def scan(self) -> RangeScan:
        cfg = self.config
        centre, rot = self.rover.chassis_frame()
        origin = centre + rot @ np.asarray(cfg.mount_xyz_m)
        part = cfg.part
        dirs = self._dirs
        if part is not None and part.angle_std_rad > 0.0:
            # Each beam leaves a little off its nominal direction; the scan reports the
            # nominal one (what the scanner believes).
            dirs = _jittered(dirs, self._across, part.angle_std_rad, self._rng)
        dirs_world = dirs @ rot.T
        ends = origin + dirs_world * cfg.max_range_m
        start = origin.tolist()
        c = self.world.client
        fractions = np.empty(len(ends))
        hit = np.empty(len(ends), dtype=bool)
        normals = np.zeros((len(ends), 3))
        for k in range(0, len(ends), MAX_RAYS_PER_BATCH):
            batch = ends[k : k + MAX_RAYS_PER_BATCH]
            # PyBullet reads a numpy array as it reads a list, without ``tolist``'s
            # Python float per value (5 ms a scan here).
            results = c.rayTestBatch([start] * len(batch), batch, numThreads=RAY_THREADS)
            n = len(results)
            hit[k : k + n] = np.fromiter((r[0] >= 0 for r in results), dtype=bool, count=n)
            fractions[k : k + n] = np.fromiter((r[2] for r in results), dtype=float, count=n)
            if part is not None:
                normals[k : k + n] = [r[4] for r in results]
        ranges = np.where(hit, fractions * cfg.max_range_m, np.inf)
        if cfg.range_std_m > 0.0:
            ranges = ranges + np.where(
                hit, self._rng.normal(0.0, cfg.range_std_m, len(ranges)), 0.0
            )
        if part is not None:
            ranges = datasheet_returns(ranges, dirs_world, normals, part, cfg, self._rng)
        return RangeScan(
            stamp_s=self.world.sim_time_s,
            origin_xyz_m=cfg.mount_xyz_m,
            directions=self._dirs.copy(),
            ranges_m=ranges,
            max_range_m=cfg.max_range_m,
            range_std_m=cfg.range_std_m,
            angle_std_rad=0.0 if part is None else part.angle_std_rad,
        )


def _across_beams(dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit axes across each unit direction (the fan is fixed: worked out once)."""
    a = np.cross(dirs, np.array([0.0, 0.0, 1.0]))
    flat = np.linalg.norm(a, axis=1) < 1e-9
    a[flat] = np.cross(dirs[flat], np.array([1.0, 0.0, 0.0]))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    return a, np.cross(dirs, a)


def _jittered(
    dirs: np.ndarray,
    across: tuple[np.ndarray, np.ndarray],
    std_rad: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Unit directions each turned by a random small angle (``std_rad`` on each of the
    two ``across`` axes)."""
    a, b = across
    e = rng.normal(0.0, std_rad, (len(dirs), 2))
    out = dirs + e[:, :1] * a + e[:, 1:] * b
    return np.asarray(out / np.linalg.norm(out, axis=1, keepdims=True))


def datasheet_returns(
    ranges: np.ndarray,
    dirs_world: np.ndarray,
    normals: np.ndarray,
    part: ScannerConfig,
    cfg: RangefinderConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """``ranges`` as the part reports them: nothing inside its blind zone; a return lost
    where too little light comes back (reflectivity × cos(incidence) / range² below the
    rated target's at the rated range); a false return at a uniform range on a share of
    beams. The random draws are made whatever the figures, one per beam each."""
    out = ranges.copy()
    hit = np.isfinite(out)
    cos_inc = np.abs(np.sum(dirs_world * normals, axis=1))
    budget = part.surface_reflectivity * cos_inc * part.rated_range_m**2
    lost = hit & (budget < part.rated_reflectivity * np.square(np.where(hit, out, 0.0)))
    out[lost | (out < part.min_range_m)] = np.inf
    false = rng.random(len(out)) < part.false_return_share
    out[false] = rng.uniform(part.min_range_m, cfg.max_range_m, int(false.sum()))
    return out
