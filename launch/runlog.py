"""``run.mcap``: the run as Foxglove plays it back, streamed to disk while the run goes.

:class:`RunLog` writes an MCAP file with Foxglove's own schemas (protobuf, through
foxglove-sdk). The recorder gives it every tick and each change of the task's activity,
the backend shows it the scans and camera frames the controller took
(:class:`~.backends.SensorObserver`), the mission kind lends it the task's map, costmap
and path (:meth:`~.missions.base.MissionKind.belief`), and the runner closes it on every
way out of a run, so a run that failed still leaves a readable file. Log times are the
run's time on the rover's clock (simulated or real), in ns from the first tick: the same
scenario and seed give the same messages.

Frames: ``site`` (x east, y north, z up, in m); ``rover_estimated``, the task's own
estimate (planar: x, y and yaw at z = 0); ``rover_true``, the true chassis pose
(simulation only, from the evaluation channel). Topics and default rates
(:class:`RunLogRates`)::

    /tf                    FrameTransforms  10 Hz: site -> rover_estimated [, rover_true]
    /rover/pose_estimated  PoseInFrame      10 Hz: the task's own estimate
    /rover/pose_true       PoseInFrame      10 Hz (simulation): the true chassis pose
    /events                Log              each change of the task's activity, then how
                                            the run ended (the rows of events.csv)
    /map/elevation         Grid             the controller's height map (height_m, float32,
                                            NaN unknown): when it changed, at most every 10 s
    /map/costmap           Grid             the costmap it last planned on (cost_pct uint8
                                            0-100, lethal uint8 0/1): when rebuilt, same rate
    /plan/path             PosesInFrame     the path it follows, when it changes (empty: none)
    /camera/image          CompressedImage  JPEG of a frame the controller read from its
                                            camera, at most one every 2 s
    /scan                  PointCloud       a range scan the controller took (x, y, z float32
                                            in the chassis frame, rover_true in simulation),
                                            at most one every 10 s
    /truth/terrain_height  Grid             the true ground height (height_m, float32), at
                                            the start; on deformable soil also when it moved
                                            by more than 1 mm, at most every 30 s, and at
                                            the end (simulation); past 100,000 cells as
                                            means of k x k blocks
    /metrics               JSON             metrics.json, at the end

The navigate mission has a map, a costmap and a path; the scripted missions have none,
and the camera and scans appear where the mission reads them (navigate, the wall fixes
of dig_and_dump and earthwork, the earthwork survey). Heights and points are rounded to
:data:`~.runlog_messages.QUANTUM_M`. A topic with nothing to say (no map on a scripted
dig, no truth on a serial rover) is left out. The log is an observer: if writing fails
(a full disk) it logs the error, stops writing and the run goes on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import foxglove
import numpy as np
import numpy.typing as npt
from foxglove import channels as ch
from foxglove.mcap import MCAPWriteOptions
from foxglove.messages import (
    CompressedImage,
    FrameTransform,
    FrameTransforms,
    Log,
    LogLevel,
    Pose,
    PoseInFrame,
    PosesInFrame,
)

from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import CameraFrame, Pose2

from .missions.base import Belief
from .runlog_messages import (
    coarsened,
    grid_message,
    log_time_ns,
    planar_pose,
    point_cloud,
    position_rotation,
    quantized,
    same_array,
    stamp_at,
)

if TYPE_CHECKING:
    from lunarsite.robot.planning.costmap import Costmap
    from lunarsite.sim.truth import TruePose

    from .backends import Truth

__all__ = ["RUN_LOG_NAME", "RunLog", "RunLogError", "RunLogRates"]

log = logging.getLogger(__name__)

RUN_LOG_NAME = "run.mcap"
SITE, ESTIMATED, TRUE = "site", "rover_estimated", "rover_true"
METRICS_SCHEMA = {"title": "lunarsite.Metrics", "type": "object"}
"""``metrics.json`` as it is: its keys depend on the mission (README, the run folder)."""
TIME_EPS_S = 1e-6
"""Times this close count as equal (ticks are sums of floats), in s."""


class RunLogError(OSError):
    """The run log could not be opened."""


@dataclass(frozen=True, slots=True)
class RunLogRates:
    """How often each kind of message is written at most, in s of run time (0: every
    time there is one)."""

    pose_period_s: float = 0.1
    map_period_s: float = 10.0
    image_period_s: float = 2.0
    scan_period_s: float = 10.0
    terrain_period_s: float = 30.0
    terrain_change_m: float = 0.001
    """Least height change anywhere on the true soil for it to be written again, in m."""
    terrain_max_cells: int = 100_000
    """A larger true terrain grid is written as the means of k × k blocks of cells, the
    least k that brings it under this (the earthwork sites: 2 cm cells written as 4 cm)."""
    jpeg_quality: int = 80


class RunLog:
    """Writes ``run.mcap`` while a run goes (see the module docstring).

    Args:
        path: the file (replaced if it exists).
        truth: the evaluation channel of a simulated run, or None.
        metadata: written once as the MCAP metadata record ``run`` (scenario, seed...).

    Raises:
        RunLogError: the file cannot be created.
    """

    def __init__(
        self,
        path: Path,
        *,
        truth: Truth | None,
        metadata: Mapping[str, str] | None = None,
        rates: RunLogRates | None = None,
    ) -> None:
        self.path = path
        self.truth = truth
        self.belief: Callable[[], Belief | None] = lambda: None
        """The task's map, costmap and path (:meth:`MissionKind.belief`), from :meth:`begin`."""
        self.rates = rates or RunLogRates()
        self.counts: dict[str, int] = {}
        """Messages written, by topic."""
        self._context = ctx = foxglove.Context()  # channels close when it goes
        try:
            self._writer: Any = foxglove.open_mcap(
                path,
                allow_overwrite=True,
                context=ctx,
                # One thread: the machine's cores belong to the simulation.
                writer_options=MCAPWriteOptions(compression_threads=0),
            )
        except Exception as exc:  # the SDK raises its own error types for I/O
            raise RunLogError(f"{path}: cannot write the run log: {exc}") from exc
        if metadata:
            self._writer.write_metadata("run", dict(metadata))
        self._tf = ch.FrameTransformsChannel("/tf", context=ctx)
        self._pose_est = ch.PoseInFrameChannel("/rover/pose_estimated", context=ctx)
        self._pose_true = ch.PoseInFrameChannel("/rover/pose_true", context=ctx)
        self._events = ch.LogChannel("/events", context=ctx)
        self._elevation = ch.GridChannel("/map/elevation", context=ctx)
        self._costmap = ch.GridChannel("/map/costmap", context=ctx)
        self._path = ch.PosesInFrameChannel("/plan/path", context=ctx)
        self._image = ch.CompressedImageChannel("/camera/image", context=ctx)
        self._scan = ch.PointCloudChannel("/scan", context=ctx)
        self._terrain = ch.GridChannel("/truth/terrain_height", context=ctx)
        self._metrics = foxglove.Channel("/metrics", schema=METRICS_SCHEMA, context=ctx)
        self.start_s: float | None = None
        """The rover's clock at the first tick, in s (None before :meth:`begin`)."""
        self._next: dict[str, float] = {}
        self._map_version: int | None = None
        self._costmap_seen: Costmap | None = None
        self._path_xy: npt.NDArray[np.float64] | None = None
        self._frame_stamp_s = math.nan
        self._terrain_m: npt.NDArray[np.float64] | None = None
        self._soil = False

    # ------------------------------------------------------------------ writing
    def begin(self, start_s: float, belief: Callable[[], Belief | None]) -> None:
        """The run's first tick is at ``start_s`` on the rover's clock, and ``belief`` gives
        what the task believes; writes the true terrain (simulation)."""
        self.start_s = start_s
        self.belief = belief
        if self.truth is not None:
            self._guard(self._begin_truth)

    def on_tick(self, t_s: float, estimate: Pose2, true: TruePose | None) -> None:
        """One control tick at run time ``t_s``: poses, and what the task believes."""
        self._guard(lambda: self._tick(t_s, estimate, true))

    def event(self, t_s: float, text: str, *, warning: bool = False) -> None:
        """A line of the task timeline."""
        self._guard(lambda: self._event(t_s, text, warning))

    def scan_seen(self, scan: RangeScan) -> None:
        self._guard(lambda: self._scan_seen(scan))

    def frame_seen(self, frame: CameraFrame) -> None:
        self._guard(lambda: self._frame_seen(frame))

    def end(self, t_s: float, text: str, *, ok: bool) -> None:
        """How the run ended (the last line of the timeline); the true soil as it is left."""
        self.event(t_s, text, warning=not ok)
        if self._soil:
            self._guard(lambda: self._terrain_now(t_s, final=True))

    def write_metrics(self, t_s: float, data: Mapping[str, Any]) -> None:
        """``metrics.json``, as one JSON message."""
        self._guard(lambda: self._count(self._metrics, dict(data), t_s))

    def close(self) -> None:
        """Finish the file (idempotent)."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.close()
        except Exception:
            log.exception("could not finish the run log %s", self.path)
            return
        total = sum(self.counts.values())
        size = self.path.stat().st_size if self.path.exists() else 0
        log.info("run log written: %s (%d messages, %d bytes)", self.path, total, size)

    def _guard(self, write: Callable[[], None]) -> None:
        if self._writer is None:
            return
        try:
            write()
        except Exception:
            log.exception("run log %s failed; nothing more is written to it", self.path)
            self.close()

    def _count(self, channel: Any, message: Any, t_s: float) -> None:
        channel.log(message, log_time=log_time_ns(t_s))
        topic = channel.topic()
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def _due(self, key: str, t_s: float, period_s: float) -> bool:
        """Whether ``key`` may be written at ``t_s`` (once every ``period_s``); if so,
        the next time it may."""
        if t_s < self._next.get(key, -math.inf) - TIME_EPS_S:
            return False
        self._next[key] = t_s + period_s
        return True

    # ---------------------------------------------------------------- each tick
    def _tick(self, t_s: float, est: Pose2, true: TruePose | None) -> None:
        stamp = stamp_at(t_s)
        if self._due("pose", t_s, self.rates.pose_period_s):
            frames = {ESTIMATED: position_rotation(est.x_m, est.y_m, 0.0, 0.0, 0.0, est.yaw_rad)}
            if true is not None:
                frames[TRUE] = position_rotation(
                    true.x_m, true.y_m, true.z_m, true.roll_rad, true.pitch_rad, true.yaw_rad
                )
            for child, (position, rotation) in frames.items():
                pose = Pose(position=position, orientation=rotation)
                channel = self._pose_est if child == ESTIMATED else self._pose_true
                self._count(channel, PoseInFrame(timestamp=stamp, frame_id=SITE, pose=pose), t_s)
            transforms = [
                FrameTransform(
                    timestamp=stamp,
                    parent_frame_id=SITE,
                    child_frame_id=child,
                    translation=position,
                    rotation=rotation,
                )
                for child, (position, rotation) in frames.items()
            ]
            self._count(self._tf, FrameTransforms(transforms=transforms), t_s)
        belief = self.belief()
        if belief is not None:
            self._belief(t_s, belief)
        if self._soil and self._due("terrain", t_s, self.rates.terrain_period_s):
            self._terrain_now(t_s, final=False)

    def _belief(self, t_s: float, belief: Belief) -> None:
        path = belief.path_xy_m
        if not same_array(path, self._path_xy):
            self._path_xy = None if path is None else np.array(path, copy=True)
            self._write_path(t_s, self._path_xy)
        elevation = belief.elevation
        map_due = self._next.get("map", -math.inf) - TIME_EPS_S <= t_s
        if elevation is not None and elevation.version != self._map_version and map_due:
            self._map_version = elevation.version
            heights = quantized(elevation.heights_m)
            self._count(
                self._elevation, grid_message(t_s, elevation.grid, {"height_m": heights}), t_s
            )
            self._next["map"] = t_s + self.rates.map_period_s
        costmap = belief.costmap
        cost_due = self._next.get("costmap", -math.inf) - TIME_EPS_S <= t_s
        if costmap is not None and costmap is not self._costmap_seen and cost_due:
            self._costmap_seen = costmap
            lethal = ~np.isfinite(costmap.cost)
            pct = np.where(lethal, 100.0, np.rint(100.0 * np.clip(costmap.cost, 0.0, 1.0)))
            layers = {"cost_pct": pct.astype(np.uint8), "lethal": lethal.astype(np.uint8)}
            self._count(self._costmap, grid_message(t_s, costmap.grid, layers), t_s)
            self._next["costmap"] = t_s + self.rates.map_period_s

    def _write_path(self, t_s: float, xy: npt.NDArray[np.float64] | None) -> None:
        poses: list[Pose] = []
        if xy is not None and len(xy):
            seg = np.diff(xy, axis=0)
            yaw = np.arctan2(seg[:, 1], seg[:, 0])
            yaw = np.append(yaw, yaw[-1]) if len(yaw) else np.zeros(1)
            poses = [
                planar_pose(float(x), float(y), float(a)) for (x, y), a in zip(xy, yaw, strict=True)
            ]
        msg = PosesInFrame(timestamp=stamp_at(t_s), frame_id=SITE, poses=poses)
        self._count(self._path, msg, t_s)

    def _event(self, t_s: float, text: str, warning: bool) -> None:
        level = LogLevel.Warning if warning else LogLevel.Info
        msg = Log(timestamp=stamp_at(t_s), level=level, message=text, name="task")
        self._count(self._events, msg, t_s)

    # ------------------------------------------------------------------ sensors
    def _run_time(self, stamp_s: float) -> float | None:
        if self.start_s is None:
            return None  # before the first tick (the rover settling)
        return max(0.0, stamp_s - self.start_s)

    def _scan_seen(self, scan: RangeScan) -> None:
        t_s = self._run_time(scan.stamp_s)
        if t_s is None or not self._due("scan", t_s, self.rates.scan_period_s):
            return
        ranges = np.asarray(scan.ranges_m, dtype=np.float64)
        hit = np.isfinite(ranges)
        origin = np.asarray(scan.origin_xyz_m, dtype=np.float64)
        points = origin + np.asarray(scan.directions)[hit] * ranges[hit, None]
        frame_id = TRUE if self.truth is not None else ESTIMATED
        self._count(self._scan, point_cloud(t_s, frame_id, points), t_s)

    def _frame_seen(self, frame: CameraFrame) -> None:
        if frame.stamp_s == self._frame_stamp_s:
            return  # the same frame read again
        self._frame_stamp_s = frame.stamp_s
        t_s = self._run_time(frame.stamp_s)
        if t_s is None or not self._due("image", t_s, self.rates.image_period_s):
            return
        bgr = np.ascontiguousarray(frame.rgb[:, :, ::-1])
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.rates.jpeg_quality])
        if not ok:
            raise ValueError(f"camera frame at {frame.stamp_s:.3f} s could not be encoded")
        msg = CompressedImage(
            timestamp=stamp_at(t_s), frame_id="camera", data=jpeg.tobytes(), format="jpeg"
        )
        self._count(self._image, msg, t_s)

    # -------------------------------------------------------------------- truth
    def _begin_truth(self) -> None:
        truth = self.truth
        assert truth is not None
        self._soil = truth.soil_mass_kg() is not None
        self._next["terrain"] = self.rates.terrain_period_s
        self._terrain_now(0.0, final=True)

    def _terrain_now(self, t_s: float, *, final: bool) -> None:
        """The true ground height, if it moved since the last one written (or ``final``)."""
        truth = self.truth
        assert truth is not None
        heights = truth.terrain_heights_m()
        last = self._terrain_m
        moved_m = math.inf if last is None else float(np.max(np.abs(heights - last)))
        if not final and moved_m <= self.rates.terrain_change_m:
            return
        self._terrain_m = heights
        grid = GridSpec(truth.terrain_origin_xy_m, truth.terrain_cell_size_m, heights.shape)
        coarse, coarse_grid = coarsened(heights, grid, self.rates.terrain_max_cells)
        msg = grid_message(t_s, coarse_grid, {"height_m": quantized(coarse)})
        self._count(self._terrain, msg, t_s)
