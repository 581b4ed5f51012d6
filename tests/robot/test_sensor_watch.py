"""A sensor that stops (camera, scanner, IMU) ends the loop with the reason, the rover
stopped; live sensors never trip the watch."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.executive import (
    ActionResult,
    ActionStatus,
    Agent,
    ControlLoop,
    LoopEnd,
    Running,
    SensorLimits,
    SensorWatch,
    Skill,
    Step,
)
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.types import CameraFrame, DriveCommand, RoverCommand, SensedState

from .conftest import RoverFactory

HZ = 20.0
STOP_S = 1.0
"""When the faulty sensor stops, in s of the mock's clock."""


class _Cruise(Skill):
    """Drives forward, reading whatever sources it is given every tick, for ``ticks``."""

    def __init__(self, reads: list[Callable[[], object]], ticks: int = 400) -> None:
        super().__init__("cruise")
        self.reads, self.left = reads, ticks

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        for read in self.reads:
            read()
        if self.left == 0:
            return ActionResult(ActionStatus.SUCCEEDED, "done")
        self.left -= 1
        return Running(RoverCommand(DriveCommand(0.2, 0.0)))


def _frame(stamp_s: float) -> CameraFrame:
    return CameraFrame(
        stamp_s, np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32), math.radians(45.0)
    )


def _scan(stamp_s: float) -> RangeScan:
    dirs = np.array([[1.0, 0.0, 0.0]])
    return RangeScan(stamp_s, (0.0, 0.0, 0.0), dirs, np.array([1.0]), 5.0, 0.01)


class _Camera:
    """Frames at ``rate_hz`` stamped with their capture time; none after ``stop_s``."""

    def __init__(self, clock: ManualClock, rate_hz: float, stop_s: float = math.inf) -> None:
        self.clock, self.period_s, self.stop_s = clock, 1.0 / rate_hz, stop_s

    def __call__(self) -> CameraFrame:
        t = min(self.clock.now_s(), self.stop_s)
        return _frame(math.floor(t / self.period_s + 1e-9) * self.period_s)


def _run(rover: MockRover, skill: Skill, watch: SensorWatch) -> tuple[LoopEnd | str, str, float]:
    result = ControlLoop([Agent(rover, skill, "rover", watch)], rate_hz=HZ).run()
    return result.ended_by, result.results[0].reason, rover.clock.now_s()


NOISY_IMU = {"gyro_noise_std_radps": 1e-3, "accel_noise_std_mps2": 5e-3}


@pytest.fixture
def noisy_config(make_rover_config: RoverFactory) -> RoverConfig:
    return make_rover_config(imu=NOISY_IMU)


@pytest.fixture
def rover(noisy_config: RoverConfig) -> MockRover:
    r = MockRover(noisy_config, ManualClock(), rng=np.random.default_rng(3))
    r.configure()
    r.activate()
    return r


def test_a_camera_that_stops_ends_the_run_and_stops_the_rover(rover: MockRover) -> None:
    watch = SensorWatch(SensorLimits(max_frame_age_s=0.6))
    camera = watch.camera(_Camera(rover.clock, 5.0, stop_s=STOP_S))
    ended_by, reason, t_end = _run(rover, _Cruise([camera]), watch)
    assert ended_by == LoopEnd.FAULT
    assert reason.startswith("camera stopped: the newest frame was captured at 1.00 s")
    # The last frame (1.00 s) is too old from the first read after 1.6 s; the loop ends at
    # the next reading.
    assert 1.6 < t_end <= 1.6 + 2.0 / HZ + 1e-9
    assert rover.wheel_speeds_mps == (0.0, 0.0)


def test_a_live_camera_at_its_rate_never_trips(rover: MockRover) -> None:
    watch = SensorWatch(SensorLimits(max_frame_age_s=0.25))  # a 5 Hz frame is ≤ 0.2 s old
    camera = watch.camera(_Camera(rover.clock, 5.0))
    ended_by, reason, t_end = _run(rover, _Cruise([camera], ticks=200), watch)
    assert (ended_by, reason) == (LoopEnd.FINISHED, "done")
    assert t_end == pytest.approx(200 / HZ)


def test_a_scanner_gone_silent_ends_the_run(rover: MockRover) -> None:
    watch = SensorWatch(SensorLimits(max_scan_silence_s=0.5))
    clock = rover.clock

    def scans() -> RangeScan | None:
        return _scan(clock.now_s()) if clock.now_s() < STOP_S else None

    ended_by, reason, t_end = _run(rover, _Cruise([watch.scanner(scans)]), watch)
    assert ended_by == LoopEnd.FAULT
    assert "scanner stopped: nothing new since 0.95 s" in reason
    assert 0.95 + 0.5 < t_end <= 0.95 + 0.5 + 2.0 / HZ + 1e-9


def test_a_scanner_repeating_its_last_scan_is_silent_too(rover: MockRover) -> None:
    watch = SensorWatch(SensorLimits(max_scan_silence_s=0.5))
    old = _scan(0.0)
    ended_by, reason, _ = _run(rover, _Cruise([watch.scanner(lambda: old)]), watch)
    assert ended_by == LoopEnd.FAULT and "scanner stopped" in reason


class _FrozenImu(MockRover):
    """A noisy mock whose IMU repeats its reading from ``STOP_S`` on (a hung bus)."""

    held: SensedState | None = None

    def _on_read(self) -> SensedState:
        s = super()._on_read()
        if self.clock.now_s() < STOP_S:
            return s
        if self.held is None:
            self.held = s
        fields = {k: getattr(s, k) for k in SensedState.__slots__}
        fields.update(gyro_radps=self.held.gyro_radps, accel_mps2=self.held.accel_mps2)
        return SensedState(**fields)  # type: ignore[arg-type]


def test_a_frozen_imu_ends_the_run(noisy_config: RoverConfig) -> None:
    rover = _FrozenImu(noisy_config, ManualClock(), rng=np.random.default_rng(3))
    rover.configure()
    rover.activate()
    watch = SensorWatch(SensorLimits(max_frozen_imu_s=0.5))
    ended_by, reason, t_end = _run(rover, _Cruise([]), watch)
    assert ended_by == LoopEnd.FAULT
    assert reason.startswith("IMU stopped: its six channels have read the same values")
    assert STOP_S + 0.5 < t_end <= STOP_S + 0.5 + 2.0 / HZ + 1e-9
    assert rover.wheel_speeds_mps == (0.0, 0.0)


def test_a_noisy_imu_never_trips_and_a_quiet_one_is_not_watched(
    rover: MockRover, rover_config: RoverConfig
) -> None:
    watch = SensorWatch(SensorLimits(max_frozen_imu_s=0.1))
    assert _run(rover, _Cruise([], ticks=200), watch)[0] == LoopEnd.FINISHED
    quiet = MockRover(rover_config, ManualClock())  # no noise: still, it repeats exactly
    quiet.configure()
    quiet.activate()
    assert _run(quiet, _Cruise([], ticks=200), SensorWatch())[0] == LoopEnd.FINISHED


def test_a_reading_that_did_not_advance_is_not_a_frozen_imu() -> None:
    watch = SensorWatch(SensorLimits(max_frozen_imu_s=0.5))
    base = SensedState(1.0, 0, 0, (0.01, 0.0, 0.0), (0.0, 0.0, 1.62), {}, 12.0)
    for _ in range(100):
        watch.reading(base)  # a link repeating one telemetry frame
    assert watch.fault() is None
    later = SensedState(1.6, 0, 0, (0.01, 0.0, 0.0), (0.0, 0.0, 1.62), {}, 12.0)
    watch.reading(later)
    assert watch.fault() is not None and "IMU stopped" in str(watch.fault())


@pytest.mark.parametrize("field", ["max_frame_age_s", "max_scan_silence_s", "max_frozen_imu_s"])
@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf])
def test_limits_must_be_positive(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        SensorLimits(**{field: value})


def test_a_camera_with_latency_is_given_its_latency_on_top() -> None:
    """A 5 Hz camera: five periods are 1 s; a frame that arrives 0.4 s after its capture
    may be 1.4 s old when read, the scanner still 1 s."""
    limits = SensorLimits.for_camera_rate(5.0, imu_noisy=True, latency_s=0.4)
    assert limits.max_frame_age_s == pytest.approx(1.4)
    assert limits.max_scan_silence_s == pytest.approx(1.0)
    assert SensorLimits.for_camera_rate(2.0, imu_noisy=False).max_frame_age_s == 2.5
    assert SensorLimits.for_camera_rate(2.0, imu_noisy=False).max_frozen_imu_s is None
