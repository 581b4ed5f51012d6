"""Fixtures of the launch tests: one short real run with video, shared by the tests of
the chase camera and of the run folder's report.html."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from lunarsite.launch.runner import RunOutcome, run_sim
from lunarsite.launch.schema import load_scenario
from lunarsite.sim.chase_camera import ChaseCamera
from lunarsite.sim.lunar_view import LunarView

SQUARE_SECONDS = 8.0
"""Simulated time of the short rover_square run: its first side, the scoop, the first
quarter turn and the start of the second side (~2 s wall with video)."""


@dataclass(frozen=True)
class ChaseFrameFacts:
    """What one video frame showed, from the chase camera's own segmentation."""

    rover_pixels: int
    rover_box: tuple[int, int, int, int] | None
    """(top, bottom, left, right) rows and columns of the rover's pixels."""
    sky_share: float
    shape: tuple[int, int]


@dataclass
class VideoRun:
    folder: Path
    outcome: RunOutcome
    frames: list[ChaseFrameFacts] = field(default_factory=list)


def _facts(view: LunarView, rover_body: int) -> ChaseFrameFacts:
    mask = view.mask(rover_body)
    rows, cols = np.nonzero(mask)
    box = (
        (int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())) if rows.size else None
    )
    sky = float(np.mean(view.body_ids < 0))
    return ChaseFrameFacts(int(mask.sum()), box, sky, mask.shape)


@pytest.fixture(scope="session")
def square_video_run(tmp_path_factory: pytest.TempPathFactory) -> VideoRun:
    """rover_square for 8 simulated seconds with video, its run folder written; every
    chase camera frame's rover pixels recorded on the way."""
    folder = tmp_path_factory.mktemp("square") / "run"
    folder.mkdir()
    frames: list[ChaseFrameFacts] = []
    original: Callable[[ChaseCamera, int, int], LunarView] = ChaseCamera.frame

    def watched(camera: ChaseCamera, width_px: int, height_px: int) -> LunarView:
        view = original(camera, width_px, height_px)
        frames.append(_facts(view, camera.rover.body))
        return view

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ChaseCamera, "frame", watched)
        outcome = run_sim(
            load_scenario("rover_square"),
            folder,
            seed=0,
            time_limit_s=SQUARE_SECONDS,
            video_path=folder / "video.mp4",
        )
    return VideoRun(folder, outcome, frames)
