"""Tests for lunarsite.launch.video: frames into an MP4, H.264 through ffmpeg or mp4v."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from lunarsite.launch.pictures import PictureError
from lunarsite.launch.video import VideoRecorder, h264_encoder

needs_ffmpeg = pytest.mark.skipif(
    h264_encoder() is None, reason="ffmpeg with libx264 not installed (Debian package: ffmpeg)"
)
CODECS = [pytest.param("h264", marks=needs_ffmpeg), "mp4v"]


def probe(path: Path) -> dict[str, object]:
    """ffprobe's view of the first video stream of ``path``."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe not installed (Debian package: ffmpeg)")
    out = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json", path],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    streams = json.loads(out)["streams"]
    assert streams, f"{path} has no video stream"
    stream: dict[str, object] = streams[0]
    return stream


def _square_frame(k: int, width: int, height: int) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    x0 = 4 * k
    frame[40:70, x0 : x0 + 30] = (255, 40, 40)  # a red square moving east
    return frame


def _read_all(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        assert capture.isOpened()
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(bgr)
    finally:
        capture.release()
    return frames


@pytest.mark.parametrize("codec", CODECS)
def test_video_of_a_moving_square(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "v.mp4"
    width, height = 160, 120
    with VideoRecorder(path, 10.0, (width, height), codec=codec) as video:  # type: ignore[arg-type]
        assert video.codec == codec
        for k in range(30):
            video.add_frame(_square_frame(k, width, height))
        assert video.frames_written == 30
    video.close()  # idempotent

    frames = _read_all(path)
    assert len(frames) == 30
    assert frames[0].shape == (height, width, 3)
    # RGB went in, BGR comes out: the square is red, and it moved east.
    square = frames[10][45:65, 45:65].reshape(-1, 3).mean(axis=0)
    assert square[2] > 180  # red channel
    assert square[0] < 100  # blue channel
    assert frames[0][55, 10, 2] > 180
    assert frames[29][55, 10, 2] < 60


@needs_ffmpeg
def test_auto_writes_browser_playable_h264(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    with VideoRecorder(path, 20.0, (64, 48)) as video:
        for k in range(5):
            video.add_frame(_square_frame(k, 64, 48))
    stream = probe(path)
    assert stream["codec_name"] == "h264"
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (64, 48)
    # +faststart: the index (moov) comes before the frames (mdat)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")


def test_auto_without_ffmpeg_falls_back_to_mp4v_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("lunarsite.launch.video.h264_encoder", lambda: None)
    with VideoRecorder(tmp_path / "f.mp4", 5.0, (64, 48)) as video:
        video.add_frame(np.zeros((48, 64, 3), np.uint8))
    assert video.codec == "mp4v"
    assert "Debian package: ffmpeg" in caplog.text
    with pytest.raises(PictureError, match="Debian package: ffmpeg"):
        VideoRecorder(tmp_path / "g.mp4", 5.0, (64, 48), codec="h264")


@pytest.mark.parametrize("codec", CODECS)
def test_video_resizes_frames_of_another_size(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "r.mp4"
    with VideoRecorder(path, 5.0, (64, 48), codec=codec) as video:  # type: ignore[arg-type]
        video.add_frame(np.full((97, 131, 3), 200, np.uint8))
        video.add_frame(np.full((20, 30, 3), 200, np.uint8))
    frames = _read_all(path)
    assert frames
    assert frames[0].shape == (48, 64, 3)


@pytest.mark.parametrize("codec", CODECS)
def test_video_rejects_bad_frames_and_frames_after_close(tmp_path: Path, codec: str) -> None:
    video = VideoRecorder(tmp_path / "b.mp4", 5.0, (64, 48), codec=codec)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"uint8 \(h, w, 3\) RGB array, got float64"):
        video.add_frame(np.zeros((48, 64, 3)))
    with pytest.raises(ValueError, match=r"got uint8 \(48, 64\)"):
        video.add_frame(np.zeros((48, 64), np.uint8))
    video.close()
    with pytest.raises(PictureError, match="is closed"):
        video.add_frame(np.zeros((48, 64, 3), np.uint8))


@pytest.mark.parametrize("codec", ["auto", "mp4v"])
def test_video_in_missing_folder_raises_picture_error(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "no_such_dir" / "v.mp4"
    with pytest.raises(PictureError, match="no_such_dir"):
        VideoRecorder(path, 10.0, (160, 120), codec=codec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fps", "size", "message"),
    [
        (0.0, (64, 48), "fps must be a finite positive number"),
        (10.0, (0, 48), "frame_size_px must be positive integers"),
        (10.0, (64.5, 48), "frame_size_px must be positive integers"),
    ],
)
def test_video_rejects_bad_settings(
    tmp_path: Path, fps: float, size: tuple[int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        VideoRecorder(tmp_path / "x.mp4", fps, size)
