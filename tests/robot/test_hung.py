"""A hung rover is told from its own readings (issue 16: "a rover hung on a rock stays
hung"): wheels turning a turn in place while the gyro reads nothing; a turning body, a
slipping turn, straight driving and standing still are not hung."""

from __future__ import annotations

import math

import pytest

from lunarsite.robot.navigation.hung import HungParams, HungWatch
from lunarsite.robot.types import SensedState

TRACK_M = 1.0
M_PER_TICK = 0.001
DT = 0.05


def _readings(
    seconds: float, wheel_turn_radps: float, body_turn_radps: float, speed_mps: float = 0.0
) -> list[SensedState]:
    """Readings of a rover whose wheels ask for ``wheel_turn_radps`` of turn (and
    ``speed_mps`` of travel) while its body turns at ``body_turn_radps``."""
    out = []
    left = right = 0.0
    for k in range(round(seconds / DT) + 1):
        out.append(
            SensedState(
                stamp_s=k * DT,
                left_ticks=math.floor(left / M_PER_TICK),
                right_ticks=math.floor(right / M_PER_TICK),
                gyro_radps=(0.0, 0.0, body_turn_radps + 0.0003),  # a gyro bias
                accel_mps2=(0.0, 0.0, 1.62),
                tool_positions_rad={},
                battery_v=12.0,
            )
        )
        left += (speed_mps - 0.5 * wheel_turn_radps * TRACK_M) * DT
        right += (speed_mps + 0.5 * wheel_turn_radps * TRACK_M) * DT
    return out


def _first_alarm(readings: list[SensedState]) -> tuple[float, str] | None:
    watch = HungWatch(TRACK_M, M_PER_TICK, HungParams())
    for r in readings:
        why = watch.reading(r)
        if why is not None:
            return r.stamp_s, why
    return None


def test_wheels_turning_a_still_body_is_hung_once_the_window_is_full() -> None:
    alarm = _first_alarm(_readings(40.0, 0.5, 0.0))
    assert alarm is not None
    t, why = alarm
    # 0.5 rad/s of wheel turning passes 3 rad in 6 s; the window must first span 18 s.
    assert 0.9 * HungParams().window_s <= t <= HungParams().window_s + DT
    assert why.startswith("hung: in the last 20 s the wheels turned as for")


@pytest.mark.parametrize(
    ("wheel", "body", "speed"),
    [
        (0.5, 0.5, 0.0),  # a turn in place that turns
        (0.5, 0.15, 0.0),  # a stalled, slipping turn: 30% of it
        (0.0, 0.0, 0.3),  # straight on (the gyro cannot judge it)
        (0.0, 0.0, 0.0),  # standing still
        (0.1, 0.0, 0.0),  # wheels asking for too little turning to judge (2 rad in 20 s)
    ],
)
def test_what_is_not_hung(wheel: float, body: float, speed: float) -> None:
    assert _first_alarm(_readings(60.0, wheel, body, speed)) is None


def test_a_watch_needs_the_rovers_geometry() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        HungWatch(0.0, M_PER_TICK)
