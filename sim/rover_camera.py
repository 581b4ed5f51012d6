"""A simulated rover's camera: pictures rendered from its mount, streamed at its rate.

RGB and depth come from one PyBullet TinyRenderer picture on the camera's pinhole. The
depth is made into what the rover file's camera gives (a flat error, or a stereo
camera's, :mod:`.depth_noise`). Streaming (``SimConfig.render_camera``), a frame is
taken every ``1 / rate_hz`` of simulated time, whether or not anyone reads it, and is
delivered ``latency_s`` after its capture, stamped with its capture time; without a
stream each read takes a picture then. The terrain is drawn culled to the view
(:mod:`.render_tiles`). A camera the scenario's fault rehearsal has stopped keeps
handing out its last frame.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from lunarsite.robot.config import CameraConfig
from lunarsite.robot.types import CameraFrame

from .depth_noise import stereo_depth
from .quiet import c_stdout_silenced

with c_stdout_silenced():
    import pybullet as pb

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .world import LunarWorld

__all__ = ["CAMERA_LIGHTING", "RoverCamera", "pinhole_projection"]

CAMERA_LIGHTING: dict[str, Any] = {
    "lightDirection": [-50.0, 30.0, 100.0],
    "lightColor": [1.0, 1.0, 1.0],
    "lightDistance": 2.0,
    "lightAmbientCoeff": 0.6,
    "lightDiffuseCoeff": 0.35,
    "lightSpecularCoeff": 0.05,
}
"""The light of the rover camera's pictures: TinyRenderer's defaults (z up), given on every
call because PyBullet keeps whatever lighting the last ``getCameraImage`` of the world
asked for (a video's low sun would otherwise light what the rover sees)."""

ChassisFrame = Callable[[], "tuple[NDArray[np.float64], NDArray[np.float64]]"]


def pinhole_projection(client: Any, cam: CameraConfig) -> list[float]:
    """PyBullet's projection matrix (column-major) for the camera, shifted so that the
    picture TinyRenderer draws is the pinhole the controller assumes: principal point at
    the image centre, ``((w - 1) / 2, (h - 1) / 2)`` with pixel centres on integers
    (:func:`~lunarsite.robot.perception.fiducials.camera_matrix`).

    TinyRenderer samples at pixel corners, not centres: unshifted, a marker on the
    optical axis is found at (160, 119) in a 320 × 240 picture, half a pixel right of
    and above the centre (159.5, 119.5), which put a constant 1.7 mrad on every bearing
    at 320 × 240 (measured; ``tests/sim/test_beacons.py``). Half a pixel is ``1 / w``
    of normalised device coordinates across and ``1 / h`` up.
    """
    proj = list(
        client.computeProjectionMatrixFOV(
            fov=math.degrees(cam.vertical_fov_rad),
            aspect=cam.width_px / cam.height_px,
            nearVal=cam.near_m,
            farVal=cam.far_m,
        )
    )
    proj[8] += 1.0 / cam.width_px  # column 2, row 0: x_ndc shifts by this per unit depth
    proj[9] += 1.0 / cam.height_px  # column 2, row 1
    return proj


class RoverCamera:
    """The camera of one rover (module docstring).

    Args:
        world: the world it renders.
        config: the rover file's camera.
        chassis_frame: the chassis position and rotation matrix now (site frame).
        rng: the rover's sensor noise stream.
        stopped: whether the fault rehearsal has stopped the camera by now.
    """

    def __init__(
        self,
        world: LunarWorld,
        config: CameraConfig,
        chassis_frame: ChassisFrame,
        rng: np.random.Generator,
        stopped: Callable[[], bool],
    ) -> None:
        self.world = world
        self.config = config
        self._chassis_frame = chassis_frame
        self._rng = rng
        self._stopped = stopped
        self._latest: CameraFrame | None = None
        self._in_flight: deque[CameraFrame] = deque()
        """Frames captured and not yet delivered, oldest first."""
        self.frames_rendered = 0
        self.render_wall_s = 0.0
        """Wall time spent rendering, in s (for ``lunarsite bench sim``)."""
        if world.config.render_camera:
            self._frame_every = max(1, round(world.config.physics_hz / config.rate_hz))
            world.add_step_hook(self._on_step)

    def read(self) -> CameraFrame:
        """The newest frame delivered by now (without a stream: a picture taken now)."""
        now = self.world.sim_time_s
        while self._in_flight and self._in_flight[0].stamp_s + self.config.latency_s <= now:
            self._latest = self._in_flight.popleft()
        if self._latest is None or not (self._stopped() or self.world.config.render_camera):
            # No stream: each read takes a picture now (a stopped camera keeps its last).
            self._latest = self.render()
        return self._latest

    def _on_step(self) -> None:
        if self.world.step_count % self._frame_every == 0 and not self._stopped():
            if self.config.latency_s > 0.0:
                self._in_flight.append(self.render())  # delivered latency_s after capture
            else:
                self._latest = self.render()

    def render(self) -> CameraFrame:
        """A picture taken now, stamped now."""
        t0 = time.perf_counter()
        frame = self._render()
        self.frames_rendered += 1
        self.render_wall_s += time.perf_counter() - t0
        return frame

    def _render(self) -> CameraFrame:
        cam = self.config
        c = self.world.client
        pos, rot = self._chassis_frame()
        eye = pos + rot @ np.asarray(cam.mount_xyz_m)
        p = cam.mount_pitch_rad
        forward = rot @ np.array([math.cos(p), 0.0, -math.sin(p)])
        up = rot @ np.array([math.sin(p), 0.0, math.cos(p)])
        view = c.computeViewMatrix(eye.tolist(), (eye + forward).tolist(), up.tolist())
        proj = pinhole_projection(c, cam)
        tiles = self.world.render_tiles()
        with nullcontext() if tiles is None else tiles.culled(view, proj, (eye[0], eye[1])):
            _, _, rgba, depth_buf, _ = c.getCameraImage(
                cam.width_px,
                cam.height_px,
                viewMatrix=view,
                projectionMatrix=proj,
                renderer=pb.ER_TINY_RENDERER,
                shadow=0,
                flags=pb.ER_NO_SEGMENTATION_MASK,
                **CAMERA_LIGHTING,
            )
        rgb = np.reshape(np.asarray(rgba, dtype=np.uint8), (cam.height_px, cam.width_px, 4))[
            :, :, :3
        ]
        zbuf = np.reshape(np.asarray(depth_buf, dtype=np.float64), (cam.height_px, cam.width_px))
        depth = cam.far_m * cam.near_m / (cam.far_m - (cam.far_m - cam.near_m) * zbuf)
        if cam.stereo is not None:
            depth = stereo_depth(depth, cam.vertical_fov_rad, cam.stereo, self._rng)
        elif cam.depth_noise_std_m > 0.0:
            depth = depth + self._rng.normal(0.0, cam.depth_noise_std_m, depth.shape)
        return CameraFrame(
            stamp_s=self.world.sim_time_s,
            rgb=np.ascontiguousarray(rgb),
            depth_m=depth.astype(np.float32),
            vertical_fov_rad=cam.vertical_fov_rad,
        )
