"""One plant: the host's skid-steer mixer is the firmware core's, sample for sample.

The simulated and the mock rover mix with :func:`lunarsite.robot.hardware.skid_steer.
mix_skid_steer`; the firmware mixes with ``ls_mix_skid_steer`` in C (single precision).
Both are called here on the same commands and rover geometries and must agree to float
precision, saturated or not.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunarsite.firmware_bridge.build import build_core_library
from lunarsite.robot.config import RoverConfig
from lunarsite.robot.hardware.skid_steer import mix_skid_steer
from lunarsite.robot.types import DriveCommand


@pytest.fixture(scope="module")
def c_mix() -> Any:
    lib = ctypes.CDLL(str(build_core_library()))
    fn = lib.ls_mix_skid_steer
    fn.restype = None
    fn.argtypes = [ctypes.c_float] * 6 + [ctypes.POINTER(ctypes.c_float)] * 2
    return fn


def _rover(radius_m: float, track_m: float, factor: float, top_radps: float) -> RoverConfig:
    return RoverConfig(
        name="mixer",
        chassis={"length_m": 0.5, "width_m": 0.3, "height_m": 0.1, "mass_kg": 5.0},
        wheels={
            "radius_m": radius_m,
            "width_m": 0.01,
            "mass_kg": 0.2,
            "wheelbase_m": 2.5 * radius_m + 0.01,
            "track_m": track_m,
        },
        drive={
            "max_wheel_torque_nm": 1.0,
            "max_wheel_speed_radps": top_radps,
            "max_speed_mps": 0.5 * top_radps * radius_m,
            "max_yaw_rate_radps": 1.0,
            "effective_track_factor": factor,
        },
        encoders={"ticks_per_rev": 1000},
        imu={},
        limits={"max_slope_rad": 0.3, "max_step_m": 0.05},
        battery={"nominal_v": 12.0, "capacity_wh": 10.0},
    )


def _c(fn: Any, v: float, w: float, cfg: RoverConfig) -> tuple[float, float]:
    left, right = ctypes.c_float(), ctypes.c_float()
    fn(
        v,
        w,
        cfg.wheels.radius_m,
        cfg.wheels.track_m,
        cfg.drive.effective_track_factor,
        cfg.drive.max_wheel_speed_radps,
        ctypes.byref(left),
        ctypes.byref(right),
    )
    return left.value, right.value


@settings(max_examples=300, deadline=None)
@given(
    v=st.floats(-2.0, 2.0),
    w=st.floats(-4.0, 4.0),
    radius=st.floats(0.02, 0.3),
    track=st.floats(0.1, 1.0),
    factor=st.floats(1.0, 4.0),
    top=st.floats(1.0, 60.0),
)
def test_host_mixer_matches_the_firmware(
    c_mix: Any,
    v: float,
    w: float,
    radius: float,
    track: float,
    factor: float,
    top: float,
) -> None:
    cfg = _rover(radius, track, factor, top)
    py_left, py_right = mix_skid_steer(DriveCommand(v, w), cfg)
    c_left, c_right = _c(c_mix, v, w, cfg)
    scale = max(1.0, abs(py_left), abs(py_right))
    assert c_left == pytest.approx(py_left, abs=2e-5 * scale)
    assert c_right == pytest.approx(py_right, abs=2e-5 * scale)


def test_saturation_keeps_the_path_on_both(c_mix: Any) -> None:
    # 0.4 m/s and 2 rad/s on a 0.1 m wheel, 0.4 m track: sides 0 and 8 rad/s ask for more
    # than the 5 rad/s top; both must scale to (0, 5), keeping v/ω (a circle of 0.2 m).
    cfg = _rover(0.1, 0.4, 1.0, 5.0)
    for left, right in (mix_skid_steer(DriveCommand(0.4, 2.0), cfg), _c(c_mix, 0.4, 2.0, cfg)):
        assert left == pytest.approx(0.0, abs=1e-6)
        assert right == pytest.approx(5.0, rel=1e-6)
        assert max(abs(left), abs(right)) <= 5.0 + 1e-6
    assert math.isclose(mix_skid_steer(DriveCommand(0.1, 0.0), cfg)[0], 1.0)
