"""Video for a run folder: RGB frames into an MP4 a browser can play.

With ``ffmpeg`` on the PATH (Debian package ``ffmpeg``) frames are piped to it as raw
RGB and encoded as H.264 (``libx264``, ``yuv420p``, ``+faststart``: the index at the
front, so a browser starts playing before the whole file has arrived), which every
browser plays in a ``<video>`` element. ffmpeg runs beside the simulation as a separate
process. Without it (or without its ``libx264`` encoder) OpenCV writes MPEG-4 Part 2
(``mp4v``), which video players read but browsers do not, and a warning says so.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Literal

import cv2
import numpy as np

from .pictures import PictureError

__all__ = ["VideoRecorder", "h264_encoder"]

_log = logging.getLogger(__name__)

Codec = Literal["auto", "h264", "mp4v"]

_H264_ARGS: Final = (
    "-an",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-crf",
    "23",
    "-pix_fmt",
    "yuv420p",
    "-movflags",
    "+faststart",
)


@functools.cache
def h264_encoder() -> str | None:
    """The ffmpeg executable when it is on the PATH and has ``libx264``, else None."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    try:
        proc = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _log.warning("cannot run %s: %s", ffmpeg, exc)
        return None
    return ffmpeg if "libx264" in proc.stdout else None


class VideoRecorder:
    """Writes RGB frames to an MP4; use as a context manager.

    Args:
        path: the video file to write (its folder must exist).
        fps: frames per second, > 0.
        frame_size_px: (width, height) of the video in pixels; frames of another size
            are resized. H.264 in yuv420p needs even sizes: an odd one is refused.
        codec: ``"h264"`` through ffmpeg, ``"mp4v"`` through OpenCV, or ``"auto"``
            (H.264 when ffmpeg can, else mp4v with a warning).

    Attributes:
        codec: the codec being written (``"h264"`` or ``"mp4v"``).

    Raises:
        PictureError: the file cannot be opened for writing, or ffmpeg failed (the
            message names the file and carries ffmpeg's own).
    """

    def __init__(
        self,
        path: Path,
        fps: float,
        frame_size_px: tuple[int, int],
        *,
        codec: Codec = "auto",
    ) -> None:
        if not np.isfinite(fps) or fps <= 0.0:
            raise ValueError(f"fps must be a finite positive number, got {fps!r}")
        width, height = (int(v) for v in frame_size_px)
        if width <= 0 or height <= 0 or (width, height) != tuple(frame_size_px):
            raise ValueError(
                f"frame_size_px must be positive integers (width, height), got {frame_size_px!r}"
            )
        self.path = Path(path)
        self.fps = float(fps)
        self.frame_size_px = (width, height)
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._ffmpeg: subprocess.Popen[bytes] | None = None
        self._ffmpeg_log: IO[bytes] | None = None
        self._closed = False
        if not self.path.parent.is_dir():
            raise PictureError(
                f"cannot open video {self.path} for writing: folder {self.path.parent} "
                "does not exist"
            )
        ffmpeg = h264_encoder() if codec in ("auto", "h264") else None
        if codec == "h264" and ffmpeg is None:
            raise PictureError(
                f"cannot write H.264 video {self.path}: ffmpeg with libx264 is not on the "
                "PATH (Debian package: ffmpeg)"
            )
        if ffmpeg is not None and width % 2 == 0 and height % 2 == 0:
            self.codec = "h264"
            self._start_ffmpeg(ffmpeg)
        else:
            if codec == "auto":
                _log.warning(
                    "%s: ffmpeg with libx264 not found (Debian package: ffmpeg) or an odd "
                    "frame size; writing mp4v, which browsers do not play",
                    self.path,
                )
            self.codec = "mp4v"
            self._start_opencv()
        _log.debug(
            "recording %s (%s) at %g fps, %dx%d px", self.path, self.codec, self.fps, width, height
        )

    def _start_opencv(self) -> None:
        width, height = self.frame_size_px
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (width, height))
        if not writer.isOpened():
            writer.release()
            raise PictureError(
                f"cannot open video {self.path} for writing "
                f"(codec mp4v, {width}x{height} px at {self.fps:g} fps)"
            )
        self._writer = writer

    def _start_ffmpeg(self, ffmpeg: str) -> None:
        width, height = self.frame_size_px
        # ffmpeg's messages, read when it fails (a file: a pipe nobody reads can fill up)
        self._ffmpeg_log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        args = [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            f"{self.fps:g}",
            "-i",
            "-",
            *_H264_ARGS,
            str(self.path),
        ]
        try:
            self._ffmpeg = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._ffmpeg_log,
            )
        except OSError as exc:
            self._ffmpeg_log.close()
            raise PictureError(f"cannot start {ffmpeg} for video {self.path}: {exc}") from exc

    def _ffmpeg_said(self) -> str:
        log = self._ffmpeg_log
        if log is None:
            return ""
        log.seek(0)
        return log.read().decode(errors="replace").strip()

    def add_frame(self, rgb: np.ndarray) -> None:
        """Append one uint8 (h, w, 3) RGB frame, resized to the video size if needed."""
        if self._closed:
            raise PictureError(f"video {self.path} is closed")
        frame = np.asarray(rgb)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(
                f"a frame must be a uint8 (h, w, 3) RGB array, got {frame.dtype} {frame.shape}"
            )
        width, height = self.frame_size_px
        if frame.shape[:2] != (height, width):
            shrink = frame.shape[0] > height or frame.shape[1] > width
            frame = cv2.resize(
                frame,
                (width, height),
                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
            )
        frame = np.ascontiguousarray(frame)
        if self._ffmpeg is not None:
            assert self._ffmpeg.stdin is not None
            try:
                self._ffmpeg.stdin.write(frame.tobytes())
            except (BrokenPipeError, OSError) as exc:
                self._ffmpeg.wait(timeout=30)
                raise PictureError(
                    f"ffmpeg stopped while writing video {self.path}: {self._ffmpeg_said()}"
                ) from exc
        elif self._writer is not None:
            self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file; calling it again does nothing.

        Raises:
            PictureError: ffmpeg failed to finish the file.
        """
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._ffmpeg is not None:
            proc, self._ffmpeg = self._ffmpeg, None
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError, OSError):  # ffmpeg already gone
                proc.stdin.close()
            try:
                status = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
            said = self._ffmpeg_said()
            if self._ffmpeg_log is not None:
                self._ffmpeg_log.close()
            if status != 0 and self.frames_written > 0:
                raise PictureError(f"ffmpeg could not finish video {self.path}: {said}")
        _log.debug("wrote video %s (%d frames, %s)", self.path, self.frames_written, self.codec)

    def __enter__(self) -> VideoRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
