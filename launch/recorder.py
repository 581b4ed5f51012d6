"""The one recorder: every tick of every run, on any backend.

Each tick it records the time, the task's own estimate, the command written and the
mission's channels (:meth:`~lunarsite.launch.missions.base.MissionKind.channels`); in
simulation also the true pose, rocks touched, tilt and closeness to the site edge from
the evaluation channel, and video frames; with a run log (``run.mcap``,
:mod:`~lunarsite.launch.runlog`) it hands each tick and each change of activity on. It
reports progress about once a simulated second, and asks the loop to stop a rover that
has tipped over or left the site (its centre past the edge of the terrain, where it
would fall for as long as the run lasts).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lunarsite.robot.executive import TickInfo

from .backends import Truth
from .missions.base import KnowsItsError, MissionKind, RunRecord, Task
from .runlog import RunLog
from .video import VideoRecorder

if TYPE_CHECKING:
    from lunarsite.sim.truth import TruePose

__all__ = ["Progress", "ProgressFn", "Recorder"]

log = logging.getLogger(__name__)

VIDEO_FRAME_PERIOD_S = 0.5
VIDEO_FPS = 20.0
VIDEO_SIZE_PX = (640, 480)
PROGRESS_PERIOD_S = 1.0
"""Simulated (or rover) time between progress reports, in s."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a run is: for the progress line on the terminal."""

    elapsed_s: float
    """Time since the run began, on the rover's clock (simulated or real), in s."""
    time_limit_s: float
    wall_s: float
    """Wall time since the run began, in s."""
    activity: str
    """What the task is doing (``goal 3/20``, ``dig 4 (layer 1, lane 2)``)."""

    @property
    def real_time_factor(self) -> float:
        return self.elapsed_s / self.wall_s if self.wall_s > 0.0 else math.inf


ProgressFn = Callable[[Progress], None]


class Recorder:
    """Observes every tick for one run (see the module docstring)."""

    def __init__(
        self,
        record: RunRecord,
        kind: MissionKind,
        task: Task,
        truth: Truth | None,
        *,
        start_s: float,
        site_size_m: tuple[float, float] | None,
        progress: ProgressFn | None = None,
        video: VideoRecorder | None = None,
        runlog: RunLog | None = None,
    ) -> None:
        self.record = record
        self.kind = kind
        self.task = task
        self.truth = truth
        self.start_s = start_s
        self.site_size_m = site_size_m
        self.progress = progress
        self.video = video
        self.runlog = runlog
        if runlog is not None:
            runlog.begin(start_s, lambda: kind.belief(record.task))
        self._wall0 = time.perf_counter()
        self._next_frame_s = 0.0
        self._next_progress_s = 0.0
        self._tip_rad = truth.rover.config.limits.tip_over_rad if truth is not None else math.inf

    def on_tick(self, tick: TickInfo) -> None:
        rec = self.record
        t = tick.stamp_s - self.start_s
        rec.t_s.append(t)
        est = self.task.pose
        rec.est_xyyaw.append((est.x_m, est.y_m, est.yaw_rad))
        if isinstance(self.task, KnowsItsError):
            P = self.task.pose_covariance
            rec.est_cov.append((float(P[0, 0]), float(P[0, 1]), float(P[1, 1]), float(P[2, 2])))
        drive = tick.command.drive
        rec.cmd.append((drive.linear_mps, drive.angular_radps))
        activity = self.task.activity
        if not rec.events or rec.events[-1][1] != activity:
            rec.events.append((t, activity))
            if self.runlog is not None:
                self.runlog.event(t, activity)
        for name, value in self.kind.channels(rec.task, self.truth).items():
            rec.channels.setdefault(name, []).append(value)
        true = self._observe_truth(t) if self.truth is not None else None
        if self.runlog is not None:
            self.runlog.on_tick(t, est, true)
        if self.progress is not None and t >= self._next_progress_s:
            self._next_progress_s = t + PROGRESS_PERIOD_S
            self.report_progress(t)

    def report_progress(self, elapsed_s: float) -> None:
        if self.progress is not None:
            wall = time.perf_counter() - self._wall0
            self.progress(Progress(elapsed_s, self.record.time_limit_s, wall, self.task.activity))

    def _observe_truth(self, t: float) -> TruePose:
        truth = self.truth
        assert truth is not None
        rec = self.record
        pose = truth.pose()
        rec.true_xyzyaw.append((pose.x_m, pose.y_m, pose.z_m, pose.yaw_rad))
        rec.rocks_touched |= truth.rock_contacts()
        rec.energy_wh.append(truth.energy_used_wh())
        if pose.tilt_rad > self._tip_rad:
            rec.tipped_over = True
        if self.site_size_m is not None:
            clearance = self._edge_clearance_m(pose.x_m, pose.y_m)
            rec.min_edge_clearance_m = min(rec.min_edge_clearance_m, clearance)
            rec.left_site = rec.left_site or clearance < 0.0
        if self.video is not None and t >= self._next_frame_s:
            self._next_frame_s = t + VIDEO_FRAME_PERIOD_S
            self.video.add_frame(truth.chase_view(*VIDEO_SIZE_PX))
        return pose

    def should_cancel(self) -> str | None:
        if self.record.tipped_over:
            return "rover tipped over"
        if self.record.left_site:  # asked every tick: the last pose is where it left
            x, y = self.record.true_xyzyaw[-1][:2]
            return (
                f"rover left the site: its centre {-self._edge_clearance_m(x, y):.2f} m past "
                f"the edge at ({x:.2f}, {y:.2f})"
            )
        return None

    def _edge_clearance_m(self, x_m: float, y_m: float) -> float:
        """How far inside the site's nearest edge (x, y) is, in m (negative: outside)."""
        assert self.site_size_m is not None
        sx, sy = self.site_size_m
        return min(x_m, y_m, sx - x_m, sy - y_m)
