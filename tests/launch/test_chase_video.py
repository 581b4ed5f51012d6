"""The video of a real run: the chase camera keeps the rover in frame, under a black sky,
and the file is H.264 a browser plays."""

from __future__ import annotations

import pytest

from lunarsite.launch.recorder import VIDEO_FRAME_PERIOD_S, VIDEO_SIZE_PX
from lunarsite.launch.video import h264_encoder
from tests.launch.conftest import SQUARE_SECONDS, VideoRun
from tests.launch.test_video import probe


@pytest.mark.slow
def test_chase_camera_keeps_the_rover_in_frame_through_drive_and_turn(
    square_video_run: VideoRun,
) -> None:
    frames = square_video_run.frames
    # a frame every 0.5 s of simulated time, from t = 0 (and t = 8 s if the loop ticks it)
    assert len(frames) in (16, 17)
    assert round(SQUARE_SECONDS / VIDEO_FRAME_PERIOD_S) == 16
    width, height = VIDEO_SIZE_PX
    for k, frame in enumerate(frames):
        assert frame.shape == (height, width)
        assert frame.rover_box is not None, f"frame {k}: rover not in sight"
        top, bottom, left, right = frame.rover_box
        # the whole rover inside the frame, clear of its edges (not cut off)
        assert top > 0.1 * height and bottom < 0.9 * height, f"frame {k}: {frame.rover_box}"
        assert left > 0.1 * width and right < 0.9 * width, f"frame {k}: {frame.rover_box}"
        assert frame.rover_pixels > 0.005 * width * height, f"frame {k}: rover too small"
        assert frame.sky_share > 0.05, f"frame {k}: no sky"  # the horizon is in view


@pytest.mark.slow
def test_run_video_is_h264_for_the_browser(square_video_run: VideoRun) -> None:
    if h264_encoder() is None:
        pytest.skip("ffmpeg with libx264 not installed (Debian package: ffmpeg)")
    video = square_video_run.folder / "video.mp4"
    stream = probe(video)
    assert stream["codec_name"] == "h264"
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == VIDEO_SIZE_PX
    assert int(str(stream["nb_frames"])) == len(square_video_run.frames)
    assert square_video_run.outcome.metrics["video_frames"] == len(square_video_run.frames)
