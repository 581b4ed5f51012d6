"""Skills, their composition and the one control loop, on the mock rover."""

from __future__ import annotations

import math

import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.waypoints import FollowerParams
from lunarsite.robot.executive import (
    ActionResult,
    ActionStatus,
    Agent,
    ControlLoop,
    LoopEnd,
    Retry,
    Running,
    Script,
    ScriptBody,
    Sequence,
    Skill,
    Step,
    TickInfo,
)
from lunarsite.robot.executive.compose import ScriptError
from lunarsite.robot.hardware import HardwareError
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.tasks.waypoints import DriveToWaypoints
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand, SensedState

HZ = 20.0
OK = ActionResult(ActionStatus.SUCCEEDED, "ok")
FAILED = ActionResult(ActionStatus.EXECUTION_FAILED, "no")


class Drive(Skill):
    """Drives at ``speed`` for ``ticks`` ticks, then ends with ``result``; logs its ticks."""

    def __init__(
        self, speed: float, ticks: int, result: ActionResult = OK, log: list[str] | None = None
    ) -> None:
        super().__init__(f"drive {speed}")
        self.speed, self.left, self.end = speed, ticks, result
        self.log = log if log is not None else []
        self.seen: list[float] = []

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        self.seen.append(now_s)
        if self.left == 0:
            return self.end
        self.left -= 1
        self.log.append(self.name)
        return Running(RoverCommand(DriveCommand(self.speed, 0.0)))


def _tick_until_done(skill: Skill, rover: MockRover, limit: int = 1000) -> list[float]:
    """Run a skill by hand on the mock: the speeds commanded each tick."""
    speeds = []
    for _ in range(limit):
        step = skill.tick(rover.read(), rover.clock.now_s())
        if isinstance(step, ActionResult):
            return speeds
        speeds.append(step.command.drive.linear_mps)
        rover.write(step.command)
        rover.clock.sleep_s(1.0 / HZ)
    raise AssertionError("skill never ended")


# ------------------------------------------------------------------ the skill base
def test_a_finished_skill_answers_its_result_again(active_rover: MockRover) -> None:
    skill = Drive(0.1, 1, FAILED)
    s = active_rover.read()
    assert isinstance(skill.tick(s, 0.0), Running)
    assert skill.tick(s, 0.05) == FAILED
    assert skill.tick(s, 0.10) == FAILED
    assert skill.seen == [0.0, 0.05]  # never ticked again once finished
    assert skill.cancel("late") == FAILED  # canceling a finished skill changes nothing


def test_cancel_reports_canceled_with_the_reason(active_rover: MockRover) -> None:
    skill = Drive(0.1, 10)
    skill.tick(active_rover.read(), 0.0)
    result = skill.cancel("operator")
    assert result == ActionResult(ActionStatus.CANCELED, "operator")
    assert skill.result == result


# ----------------------------------------------------------------- composition
def test_sequence_runs_children_back_to_back_without_losing_a_tick(
    active_rover: MockRover,
) -> None:
    log: list[str] = []
    seq = Sequence([Drive(0.1, 2, log=log), Drive(0.2, 1, log=log), Drive(0.3, 2, log=log)])
    speeds = _tick_until_done(seq, active_rover)
    # Five commanding ticks in all: a child that ends hands over within the same tick.
    assert speeds == [0.1, 0.1, 0.2, 0.3, 0.3]
    assert seq.result == ActionResult(ActionStatus.SUCCEEDED)


def test_sequence_builds_a_factory_step_when_it_is_reached(active_rover: MockRover) -> None:
    built_at: list[float] = []

    def later() -> Skill:
        built_at.append(active_rover.clock.now_s())
        return Drive(0.2, 1)

    _tick_until_done(Sequence([Drive(0.1, 3), later]), active_rover)
    assert built_at == [pytest.approx(3 / HZ)]


def test_sequence_stops_at_the_first_failure_unless_told(active_rover: MockRover) -> None:
    log: list[str] = []
    seq = Sequence([Drive(0.1, 1, FAILED, log), Drive(0.2, 1, log=log)])
    _tick_until_done(seq, active_rover)
    assert seq.result == FAILED and log == ["drive 0.1"]
    log.clear()
    seq = Sequence([Drive(0.1, 1, FAILED, log), Drive(0.2, 1, log=log)], stop_on_failure=False)
    _tick_until_done(seq, active_rover)
    assert seq.result is not None and seq.result.succeeded
    assert log == ["drive 0.1", "drive 0.2"]


def test_script_gets_each_result_and_decides(active_rover: MockRover) -> None:
    seen: list[ActionStatus] = []

    def body() -> ScriptBody:
        r = yield Drive(0.1, 1, FAILED)
        seen.append(r.status)
        tries = 0
        while True:
            tries += 1
            r = yield Drive(0.2, 1, OK if tries == 3 else FAILED)
            if r.succeeded:
                break
        return ActionResult(ActionStatus.SUCCEEDED, f"after {tries} tries")

    script = Script(body(), stop_on_failure=False)
    speeds = _tick_until_done(script, active_rover)
    assert speeds == [0.1, 0.2, 0.2, 0.2]
    assert seen == [ActionStatus.EXECUTION_FAILED]
    assert script.result == ActionResult(ActionStatus.SUCCEEDED, "after 3 tries")


def test_script_that_never_commands_is_an_error(active_rover: MockRover) -> None:
    def body() -> ScriptBody:
        while True:
            yield Drive(0.1, 0)  # ends at once, every time

    with pytest.raises(ScriptError, match="without a command"):
        Script(body()).tick(active_rover.read(), 0.0)


def test_canceling_a_script_cancels_its_child_and_closes_it(active_rover: MockRover) -> None:
    closed: list[bool] = []
    child = Drive(0.1, 10)

    def body() -> ScriptBody:
        try:
            yield child
        finally:
            closed.append(True)
        return None

    script = Script(body())
    script.tick(active_rover.read(), 0.0)
    script.cancel("stop")
    assert child.result is not None and child.result.status is ActionStatus.CANCELED
    assert closed == [True]


@pytest.mark.parametrize(
    ("ends", "attempts", "runs", "status"),
    [
        ([FAILED, FAILED, OK], 3, 3, ActionStatus.SUCCEEDED),
        ([FAILED, FAILED, OK], 2, 2, ActionStatus.EXECUTION_FAILED),
        ([OK], 5, 1, ActionStatus.SUCCEEDED),
        ([ActionResult(ActionStatus.PLANNING_FAILED)], 5, 1, ActionStatus.PLANNING_FAILED),
    ],
)
def test_retry(
    active_rover: MockRover,
    ends: list[ActionResult],
    attempts: int,
    runs: int,
    status: ActionStatus,
) -> None:
    made: list[int] = []

    def make(attempt: int) -> Skill:
        made.append(attempt)
        return Drive(0.1, 1, ends[attempt])

    retry = Retry(make, attempts)
    _tick_until_done(retry, active_rover)
    assert made == list(range(runs))
    assert retry.result is not None and retry.result.status is status


# ------------------------------------------------------------------------ the loop
def _loop(rover: MockRover, skill: Skill, **kw: object) -> ControlLoop:
    return ControlLoop([Agent(rover, skill)], rate_hz=HZ, **kw)  # type: ignore[arg-type]


def test_loop_runs_a_skill_to_its_end_and_stops_the_rover(active_rover: MockRover) -> None:
    ticks: list[TickInfo] = []
    result = _loop(active_rover, Drive(0.2, 10), on_tick=ticks.append).run()
    assert result.results == (OK,)
    assert result.ended_by == LoopEnd.FINISHED
    # Ten commanding ticks, one each period, then the end (a stop) on the eleventh.
    assert [t.command.drive.linear_mps for t in ticks] == [0.2] * 10 + [0.0]
    assert result.elapsed_s == pytest.approx(10 / HZ)
    assert active_rover.wheel_speeds_mps == (0.0, 0.0)
    assert active_rover.true_pose.x_m == pytest.approx(0.2 * 10 / HZ)


def test_time_limit_cancels_with_the_reason(active_rover: MockRover) -> None:
    result = _loop(active_rover, Drive(0.2, 1000), time_limit_s=2.0).run()
    assert result.ended_by == LoopEnd.TIME_LIMIT
    assert result.results[0] == ActionResult(ActionStatus.CANCELED, "time limit of 2 s reached")
    assert active_rover.clock.now_s() == pytest.approx(2.0)
    assert active_rover.wheel_speeds_mps == (0.0, 0.0)


def test_cancel_from_outside(active_rover: MockRover) -> None:
    loop = _loop(active_rover, Drive(0.2, 1000))

    def on_tick(t: TickInfo) -> None:
        if t.stamp_s >= 1.0:
            loop.cancel("operator pressed stop")

    loop.on_tick = on_tick
    result = loop.run()
    assert result.ended_by == LoopEnd.CANCELED
    assert result.results[0].reason == "operator pressed stop"
    assert active_rover.clock.now_s() == pytest.approx(1.0 + 1 / HZ)
    assert active_rover.wheel_speeds_mps == (0.0, 0.0)


class _Flaky(MockRover):
    """A mock whose reads fail, or report faults, from a given time on."""

    fail_at_s = math.inf
    faults_at_s = math.inf
    faults: tuple[str, ...] = ()

    def _on_read(self) -> SensedState:
        now = self.clock.now_s()
        if now >= self.fail_at_s:
            raise HardwareError("serial port vanished")
        s = super()._on_read()
        if now >= self.faults_at_s:
            return SensedState(**{**_fields(s), "faults": self.faults})
        return s


def _fields(s: SensedState) -> dict[str, object]:
    return {k: getattr(s, k) for k in SensedState.__slots__}


@pytest.mark.parametrize(
    ("fail_at", "faults", "reason"),
    [
        (1.0, (), "hardware: serial port vanished"),
        (math.inf, ("estop",), "rover reports estop"),
        (math.inf, ("link_disconnected",), "link to rover lost for more than 2 s"),
    ],
)
def test_hardware_faults_stop_the_rover_and_fail(
    rover_config: RoverConfig,
    clock: ManualClock,
    fail_at: float,
    faults: tuple[str, ...],
    reason: str,
) -> None:
    rover = _Flaky(rover_config, clock)
    rover.fail_at_s, rover.faults_at_s, rover.faults = fail_at, 1.0, faults
    rover.configure()
    rover.activate()
    result = _loop(rover, Drive(0.2, 1000)).run()
    assert result.ended_by == LoopEnd.FAULT
    assert result.results[0] == ActionResult(ActionStatus.EXECUTION_FAILED, reason)
    assert rover.wheel_speeds_mps == (0.0, 0.0)
    # The link outage is tolerated for 2 s; the others end the run at once.
    assert clock.now_s() == pytest.approx(1.0 + (2.0 + 1 / HZ if "link" in reason else 0.0))


def test_a_passing_fault_is_tolerated(rover_config: RoverConfig, clock: ManualClock) -> None:
    rover = _Flaky(rover_config, clock)
    rover.faults_at_s, rover.faults = 1.0, ("low_battery",)
    rover.configure()
    rover.activate()
    assert _loop(rover, Drive(0.2, 40)).run().results == (OK,)


def test_ctrl_c_stops_the_rover_and_reports(active_rover: MockRover) -> None:
    def on_tick(t: TickInfo) -> None:
        if t.stamp_s >= 0.5:
            raise KeyboardInterrupt

    result = _loop(active_rover, Drive(0.2, 1000), on_tick=on_tick).run()
    assert result.ended_by == LoopEnd.INTERRUPTED
    assert result.results[0] == ActionResult(ActionStatus.CANCELED, "interrupted (Ctrl-C)")
    assert active_rover.wheel_speeds_mps == (0.0, 0.0)


def test_a_skill_bug_stops_the_rover_then_raises(active_rover: MockRover) -> None:
    class Broken(Drive):
        def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
            if now_s > 0.3:
                raise ZeroDivisionError("oops")
            return super()._on_tick(sensed, now_s)

    with pytest.raises(ZeroDivisionError):
        _loop(active_rover, Broken(0.2, 1000)).run()
    assert active_rover.wheel_speeds_mps == (0.0, 0.0)


def test_a_rover_that_is_not_active_is_refused(mock_rover: MockRover) -> None:
    mock_rover.configure()
    skill = Drive(0.2, 10)
    result = _loop(mock_rover, skill).run()
    assert result.results[0].status is ActionStatus.PRECONDITION_FAILED
    assert not skill.started


def test_rovers_on_two_clocks_cannot_share_a_loop(rover_config: RoverConfig) -> None:
    a = MockRover(rover_config, ManualClock())
    b = MockRover(rover_config, ManualClock())
    with pytest.raises(ValueError, match="different clocks"):
        ControlLoop([Agent(a, Drive(0.1, 1), "a"), Agent(b, Drive(0.1, 1), "b")], rate_hz=HZ)


def test_two_rovers_tick_together_on_one_clock(rover_config: RoverConfig) -> None:
    clock = ManualClock()
    a = MockRover(rover_config, clock, Pose2(0.0, 0.0, 0.0))
    b = MockRover(rover_config, clock, Pose2(0.0, 1.0, 0.0))
    for r in (a, b):
        r.configure()
        r.activate()
    seen: list[tuple[int, float]] = []
    result = ControlLoop(
        [Agent(a, Drive(0.1, 5), "a"), Agent(b, Drive(0.3, 20), "b")],
        rate_hz=HZ,
        on_tick=lambda t: seen.append((t.agent, t.stamp_s)),
    ).run()
    assert result.results == (OK, OK)
    assert clock.now_s() == pytest.approx(20 / HZ)  # one clock, stepped once per tick
    assert a.true_pose.x_m == pytest.approx(0.1 * 5 / HZ)  # a stood still once done
    assert b.true_pose.x_m == pytest.approx(0.3 * 20 / HZ)
    assert seen[:4] == [(0, 0.0), (1, 0.0), (0, 1 / HZ), (1, 1 / HZ)]


# ------------------------------------------------------------ drive to waypoints
def test_drive_to_waypoints_through_the_loop(rover_config: RoverConfig) -> None:
    clock = ManualClock()
    start = Pose2(0.0, 0.0, 0.0)
    rover = MockRover(rover_config, clock, start)
    rover.configure()
    rover.activate()
    square = [(1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]
    params = FollowerParams.for_rover(rover_config, arrival_tolerance_m=0.05)
    skill = DriveToWaypoints(params, DeadReckoning(rover_config, start), square, control_hz=HZ)
    result = ControlLoop([Agent(rover, skill)], rate_hz=HZ, time_limit_s=120.0).run()
    assert result.results[0] == ActionResult(ActionStatus.SUCCEEDED, "reached all 4 waypoints")
    assert [a.index for a in skill.arrivals] == [0, 1, 2, 3]
    end = rover.true_pose
    assert math.hypot(end.x_m, end.y_m) < 0.08  # back at the start, on an exact plant
    assert rover.wheel_speeds_mps == (0.0, 0.0)


def test_drive_to_waypoints_reports_progress_when_time_runs_out(
    active_rover: MockRover, rover_config: RoverConfig
) -> None:
    params = FollowerParams.for_rover(rover_config)
    far = [(1.0, 0.0), (50.0, 0.0)]
    skill = DriveToWaypoints(
        params, DeadReckoning(rover_config, Pose2(0, 0, 0)), far, control_hz=HZ
    )
    result = _loop(active_rover, skill, time_limit_s=10.0).run()
    assert result.results[0] == ActionResult(
        ActionStatus.CANCELED, "time limit of 10 s reached with 1/2 waypoints"
    )


def test_drive_to_no_waypoints_fails_to_plan(
    active_rover: MockRover, rover_config: RoverConfig
) -> None:
    params = FollowerParams.for_rover(rover_config)
    skill = DriveToWaypoints(params, DeadReckoning(rover_config, Pose2(0, 0, 0)), [], control_hz=HZ)
    result = _loop(active_rover, skill).run()
    assert result.results[0].status is ActionStatus.PLANNING_FAILED
