"""The RoverInterface base: lifecycle state machine and command checks, through MockRover."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from lunarsite.robot.hardware import (
    CommandError,
    HardwareError,
    LifecycleError,
    LifecycleState,
    LoopRate,
    NoCameraError,
)
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand

GO = RoverCommand(DriveCommand(0.1, 0.0))


def to_state(rover: MockRover, state: LifecycleState) -> MockRover:
    """Walk the rover through the lifecycle into ``state``."""
    if state is LifecycleState.UNCONFIGURED:
        return rover
    rover.configure()
    if state is LifecycleState.ACTIVE:
        rover.activate()
    elif state is LifecycleState.ERROR:
        rover.fault("motor driver over-temperature")
    return rover


Action = Callable[[MockRover], object]

LIFECYCLE_ERRORS: list[tuple[LifecycleState, str, Action, str]] = [
    (LifecycleState.UNCONFIGURED, "read", MockRover.read, "cannot read: rover is unconfigured"),
    (
        LifecycleState.UNCONFIGURED,
        "write",
        lambda r: r.write(GO),
        "cannot write: rover is unconfigured, not active",
    ),
    (
        LifecycleState.INACTIVE,
        "write",
        lambda r: r.write(GO),
        "cannot write: rover is inactive, not active",
    ),
    (
        LifecycleState.UNCONFIGURED,
        "activate",
        MockRover.activate,
        "cannot activate: rover is unconfigured, expected inactive",
    ),
    (
        LifecycleState.UNCONFIGURED,
        "deactivate",
        MockRover.deactivate,
        "cannot deactivate: rover is unconfigured, expected active",
    ),
    (
        LifecycleState.INACTIVE,
        "configure",
        MockRover.configure,
        "cannot configure: rover is inactive, expected unconfigured",
    ),
    (
        LifecycleState.INACTIVE,
        "deactivate",
        MockRover.deactivate,
        "cannot deactivate: rover is inactive, expected active",
    ),
    (
        LifecycleState.ACTIVE,
        "activate",
        MockRover.activate,
        "cannot activate: rover is active, expected inactive",
    ),
    (
        LifecycleState.ACTIVE,
        "configure",
        MockRover.configure,
        "cannot configure: rover is active, expected unconfigured",
    ),
    (LifecycleState.ERROR, "read", MockRover.read, "cannot read: rover is error"),
    (LifecycleState.ERROR, "write", lambda r: r.write(GO), "cannot write: rover is error"),
    (LifecycleState.ERROR, "activate", MockRover.activate, "cannot activate: rover is error"),
    (
        LifecycleState.UNCONFIGURED,
        "read_camera",
        MockRover.read_camera,
        "cannot read camera: rover is unconfigured",
    ),
]


@pytest.mark.parametrize(
    ("state", "action", "fragment"),
    [(s, a, f) for s, _, a, f in LIFECYCLE_ERRORS],
    ids=[f"{s.value}-{name}" for s, name, _, _ in LIFECYCLE_ERRORS],
)
def test_lifecycle_refusals(
    mock_rover: MockRover, state: LifecycleState, action: Action, fragment: str
) -> None:
    rover = to_state(mock_rover, state)
    with pytest.raises(LifecycleError, match=fragment):
        action(rover)
    assert rover.lifecycle_state is state  # a refused transition leaves the state alone


def test_lifecycle_happy_path(mock_rover: MockRover) -> None:
    assert mock_rover.lifecycle_state is LifecycleState.UNCONFIGURED
    mock_rover.configure()
    assert mock_rover.lifecycle_state is LifecycleState.INACTIVE
    mock_rover.read()  # reading is allowed while inactive
    mock_rover.activate()
    assert mock_rover.lifecycle_state is LifecycleState.ACTIVE
    mock_rover.write(GO)
    mock_rover.deactivate()
    assert mock_rover.lifecycle_state is LifecycleState.INACTIVE
    mock_rover.activate()
    assert mock_rover.wheel_speeds_mps == (0.0, 0.0)  # activation starts from a stop


COMMAND_ERRORS: list[tuple[str, RoverCommand, str]] = [
    ("nan-linear", RoverCommand(DriveCommand(math.nan, 0.0)), "drive command is not finite"),
    ("inf-linear", RoverCommand(DriveCommand(math.inf, 0.0)), "drive command is not finite"),
    ("nan-angular", RoverCommand(DriveCommand(0.0, math.nan)), "drive command is not finite"),
    (
        "unknown-joint",
        RoverCommand(tool_targets_rad={"gripper": 0.0}),
        r"unknown tool joint 'gripper' \(this rover has: curl, lift\)",
    ),
    ("nan-joint", RoverCommand(tool_targets_rad={"lift": math.nan}), "'lift' is not finite"),
    ("inf-joint", RoverCommand(tool_targets_rad={"curl": -math.inf}), "'curl' is not finite"),
]


@pytest.mark.parametrize(
    ("command", "fragment"),
    [(c, f) for _, c, f in COMMAND_ERRORS],
    ids=[name for name, _, _ in COMMAND_ERRORS],
)
def test_malformed_commands_are_refused_whole(
    active_rover: MockRover, command: RoverCommand, fragment: str
) -> None:
    with pytest.raises(CommandError, match=fragment) as info:
        active_rover.write(command)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, HardwareError)
    assert active_rover.wheel_speeds_mps == (0.0, 0.0)
    active_rover.clock.sleep_s(1.0)
    assert active_rover.true_pose == Pose2(0.0, 0.0, 0.0)
    assert active_rover.read().tool_positions_rad == {"lift": 0.0, "curl": 0.0}
    assert active_rover.lifecycle_state is LifecycleState.ACTIVE  # a bad command is no fault


def test_fault_stops_and_records_the_reason(active_rover: MockRover) -> None:
    active_rover.write(RoverCommand(DriveCommand(0.2, 0.3), {"lift": 1.0}))
    active_rover.clock.sleep_s(0.5)
    active_rover.fault("wheel stall")
    assert active_rover.lifecycle_state is LifecycleState.ERROR
    assert active_rover.error_reason == "wheel stall"
    pose = active_rover.true_pose
    active_rover.clock.sleep_s(1.0)
    assert active_rover.true_pose == pose


def test_mock_has_no_camera(active_rover: MockRover) -> None:
    with pytest.raises(NoCameraError, match="MockRover has no camera"):
        active_rover.read_camera()


# --------------------------------------------------------------------------- LoopRate
def test_loop_rate_ticks_on_a_manual_clock() -> None:
    clock = ManualClock()
    rate = LoopRate(clock, 20.0)
    for _ in range(100):
        clock.sleep_s(0.01)  # work inside the cycle takes 10 ms
        rate.sleep()
    assert clock.now_s() == pytest.approx(5.0)
    assert rate.overruns == 0


def test_loop_rate_restarts_after_an_overrun() -> None:
    clock = ManualClock()
    rate = LoopRate(clock, 10.0)
    clock.sleep_s(0.5)  # a stall of five periods
    rate.sleep()
    assert rate.overruns == 1
    rate.sleep()
    assert clock.now_s() == pytest.approx(0.6)


@pytest.mark.parametrize("rate_hz", [0.0, -5.0, math.nan, math.inf])
def test_loop_rate_refuses_bad_rates(rate_hz: float) -> None:
    with pytest.raises(ValueError, match="rate_hz must be positive and finite"):
        LoopRate(ManualClock(), rate_hz)
