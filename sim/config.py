"""Physics settings of a world, kept apart from :mod:`.world` so that reading a scenario
file (``lunarsite validate``, ``lunarsite link-check``) does not load PyBullet."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from lunarsite.robot.config import Positive, StrictModel
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2

__all__ = ["SimConfig"]


class SimConfig(StrictModel):
    """Physics settings of a world."""

    physics_hz: Annotated[int, Field(gt=0, le=10_000)] = 240
    control_hz: Annotated[int, Field(gt=0, le=1_000)] = 20
    gravity_mps2: Positive = LUNAR_GRAVITY_MPS2
    solver_iterations: Annotated[int, Field(gt=0, le=1000)] = 50
    render_camera: bool = False
    """Stream the rover camera at its rate (costs real time; off when nothing reads it)."""
    camera_culls_terrain: bool = True
    """The rover camera draws only the terrain tiles in its view, coarse beyond 5 m
    (:mod:`~lunarsite.sim.render_tiles`); False draws the whole heightfield every frame."""
    sensor_stops_s: dict[Literal["camera", "scanner", "imu"], Positive] = Field(
        default_factory=dict
    )
    """Fault rehearsal: when each named sensor stops delivering, in s of simulated time
    after the rover is activated (the start of a run). The camera keeps handing out its
    last frame, the scanner gives nothing, the IMU repeats its last reading (what a hung
    driver or bus does)."""

    @model_validator(mode="after")
    def _rates_commensurate(self) -> SimConfig:
        if self.physics_hz % self.control_hz != 0:
            raise ValueError(
                f"physics_hz ({self.physics_hz}) must be an integer multiple of "
                f"control_hz ({self.control_hz})"
            )
        return self

    @property
    def steps_per_control(self) -> int:
        return self.physics_hz // self.control_hz
