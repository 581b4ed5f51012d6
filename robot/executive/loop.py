"""The one control loop: read, tick every skill, write, wait for the next period.

The loop owns time. Each period it reads every rover, hands each rover's skill the reading
and the time, writes what the skills answered, reports the tick to an observer and waits
on the rovers' shared clock: in simulation the wait steps the world once for all rovers,
on hardware it sleeps. It also owns what no skill should decide alone:

- the time limit (skills still running are canceled with the reason);
- cancellation from outside (:meth:`ControlLoop.cancel`, a ``should_cancel`` hook, Ctrl-C);
- hardware faults: a read or write that raises, an emergency stop or IMU fault the rover
  reports, a link down for longer than ``max_link_outage_s``, a sensor that stopped
  (an agent's :class:`~.sensor_watch.SensorWatch`).

Whatever ends the loop, every rover it drove is sent a zero drive command before
:meth:`ControlLoop.run` returns (tool servos keep their targets). A reading whose stamp has
not advanced (a link that stalled) is not given to the skill: the rover is held still
until fresh data arrives.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..hardware.clock import LoopRate
from ..hardware.interface import HardwareError, LifecycleState, RoverInterface
from ..types import STOP, RoverCommand, SensedState
from .sensor_watch import SensorWatch
from .skill import ActionResult, ActionStatus, Running, Skill

__all__ = ["Agent", "ControlLoop", "LoopEnd", "LoopResult", "TickInfo"]

log = logging.getLogger(__name__)

FATAL_FAULTS = frozenset({"estop", "imu_fault"})
"""Faults a rover reports that end its skill at once."""
LINK_FAULTS = frozenset({"link_disconnected", "telemetry_stale"})
"""Faults that are tolerated for ``max_link_outage_s`` (the rover's watchdog holds it)."""


@dataclass
class Agent:
    """One rover and the skill it runs."""

    rover: RoverInterface
    skill: Skill
    name: str = "rover"
    sensors: SensorWatch | None = None
    """The watch over the camera, scanner and IMU the skill reads, if any."""


@dataclass(frozen=True, slots=True)
class TickInfo:
    """What one agent saw and did in one tick, for observers (recorders, progress)."""

    agent: int
    stamp_s: float
    """Loop time of the tick, in s (the rovers' clock)."""
    sensed: SensedState
    command: RoverCommand
    """What was written this tick."""


class LoopEnd:
    """Why a loop ended (the values of :attr:`LoopResult.ended_by`)."""

    FINISHED = "finished"
    TIME_LIMIT = "time_limit"
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class LoopResult:
    results: tuple[ActionResult, ...]
    """How each agent's skill ended, in agent order."""
    ended_by: str
    """One of :class:`LoopEnd`'s values."""
    ticks: int
    elapsed_s: float
    """Clock time from the first read to the last, in s."""


@dataclass
class _AgentState:
    agent: Agent
    result: ActionResult | None = None
    last_stamp_s: float = -math.inf
    outage_since_s: float | None = None
    warned: set[str] = field(default_factory=set)


class ControlLoop:
    """Runs agents' skills at ``rate_hz`` until all end, time runs out, or something stops
    them (see the module docstring).

    Args:
        agents: the rovers (ACTIVE, all on one clock) and their skills.
        rate_hz: control rate, in Hz; the clock must be able to wait one period.
        time_limit_s: clock time allowed from the first read, in s; None: no limit.
        max_link_outage_s: longest a rover may report a link fault before its skill
            fails, in s.
        on_tick: called for every agent every tick, after the write.
        should_cancel: asked once a tick; a reason (not None) cancels every skill.
    """

    def __init__(
        self,
        agents: Sequence[Agent],
        *,
        rate_hz: float,
        time_limit_s: float | None = None,
        max_link_outage_s: float = 2.0,
        on_tick: Callable[[TickInfo], None] | None = None,
        should_cancel: Callable[[], str | None] | None = None,
    ) -> None:
        if not agents:
            raise ValueError("ControlLoop needs at least one agent")
        clock = agents[0].rover.clock
        for a in agents[1:]:
            if a.rover.clock is not clock:
                raise ValueError(
                    f"agents {agents[0].name!r} and {a.name!r} run on different clocks: one "
                    "loop steps one world (or one wall clock) for all its rovers"
                )
        if not (math.isfinite(rate_hz) and rate_hz > 0.0):
            raise ValueError(f"rate_hz must be positive and finite, got {rate_hz}")
        if time_limit_s is not None and not time_limit_s > 0.0:
            raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
        self.clock = clock
        self.period_s = 1.0 / rate_hz
        clock.check_period(self.period_s)  # a simulated clock waits whole physics steps
        self.rate_hz = rate_hz
        self.time_limit_s = time_limit_s
        self.max_link_outage_s = max_link_outage_s
        self.on_tick = on_tick
        self.should_cancel = should_cancel
        self._states = [_AgentState(a) for a in agents]
        self._cancel_reason: str | None = None
        self.ticks = 0

    def cancel(self, reason: str) -> None:
        """Ask the loop to stop every skill at the next tick (safe from another thread)."""
        self._cancel_reason = reason

    # ------------------------------------------------------------------------ run
    def run(self) -> LoopResult:
        """Run until every skill has ended; returns how each ended and why the loop did."""
        clock = self.clock
        t0 = clock.now_s()
        now = t0
        for st in self._states:
            rover = st.agent.rover
            if rover.lifecycle_state is not LifecycleState.ACTIVE:
                st.result = ActionResult(
                    ActionStatus.PRECONDITION_FAILED,
                    f"{st.agent.name} is {rover.lifecycle_state.value}, not active",
                )
        if all(st.result is not None for st in self._states):
            return self._end(LoopEnd.FINISHED, t0, t0)
        rate = LoopRate(clock, self.rate_hz)
        ended_by = LoopEnd.FINISHED
        try:
            while True:
                now = clock.now_s()
                readings = self._read_all(now)
                if readings is None:
                    ended_by = LoopEnd.FAULT
                    break
                reason, ended_by = self._stop_reason(now - t0)
                if reason is not None:
                    self._cancel_all(reason)
                    break
                commands = self._tick_all(readings, now)
                if not self._write_all(commands):
                    ended_by = LoopEnd.FAULT
                    self._report(readings, commands, now)
                    break
                self._report(readings, commands, now)
                self.ticks += 1
                if all(st.result is not None for st in self._states):
                    ended_by = LoopEnd.FINISHED
                    break
                rate.sleep()
        except KeyboardInterrupt:
            log.warning("interrupted: stopping every rover")
            ended_by = LoopEnd.INTERRUPTED
            for st in self._states:
                if st.result is None:
                    st.result = st.agent.skill.cancel("interrupted (Ctrl-C)")
            now = clock.now_s()
        except BaseException:
            self._stop_all()
            raise
        return self._end(ended_by, t0, now)

    # ------------------------------------------------------------------ the parts
    def _read_all(self, now_s: float) -> list[SensedState | None] | None:
        """Every active agent's reading (None for agents that are done); None when a read
        failed or a rover reports a fatal fault, after failing that agent's skill."""
        out: list[SensedState | None] = []
        for st in self._states:
            if st.result is not None:
                out.append(None)
                continue
            try:
                sensed = st.agent.rover.read()
            except HardwareError as exc:
                self._fault(st, f"hardware: {exc}")
                return None
            fault = self._check_faults(st, sensed, now_s)
            if fault is not None:
                self._fault(st, fault)
                return None
            out.append(sensed)
        return out

    def _check_faults(self, st: _AgentState, sensed: SensedState, now_s: float) -> str | None:
        faults = set(sensed.faults)
        fatal = sorted(faults & FATAL_FAULTS)
        if fatal:
            return f"{st.agent.name} reports {', '.join(fatal)}"
        if faults & LINK_FAULTS:
            if st.outage_since_s is None:
                st.outage_since_s = now_s
                log.warning("%s: %s", st.agent.name, ", ".join(sorted(faults & LINK_FAULTS)))
            if now_s - st.outage_since_s > self.max_link_outage_s:
                return f"link to {st.agent.name} lost for more than {self.max_link_outage_s:g} s"
        else:
            st.outage_since_s = None
        for other in sorted(faults - FATAL_FAULTS - LINK_FAULTS - st.warned):
            st.warned.add(other)
            log.warning("%s reports %s", st.agent.name, other)
        watch = st.agent.sensors
        if watch is not None:
            watch.reading(sensed)
            return watch.fault()
        return None

    def _stop_reason(self, elapsed_s: float) -> tuple[str | None, str]:
        if self._cancel_reason is not None:
            return self._cancel_reason, LoopEnd.CANCELED
        if self.should_cancel is not None:
            reason = self.should_cancel()
            if reason:
                return reason, LoopEnd.CANCELED
        limit = self.time_limit_s
        if limit is not None and elapsed_s >= limit - 1e-9:
            return f"time limit of {limit:g} s reached", LoopEnd.TIME_LIMIT
        return None, LoopEnd.FINISHED

    def _tick_all(self, readings: list[SensedState | None], now_s: float) -> list[RoverCommand]:
        commands: list[RoverCommand] = []
        for st, sensed in zip(self._states, readings, strict=True):
            if st.result is not None or sensed is None:
                commands.append(RoverCommand(STOP))
                continue
            if sensed.stamp_s <= st.last_stamp_s:
                commands.append(RoverCommand(STOP))  # no fresh data: hold still
                continue
            st.last_stamp_s = sensed.stamp_s
            step = st.agent.skill.tick(sensed, now_s)
            if isinstance(step, Running):
                commands.append(step.command)
            else:
                st.result = step
                log.info("%s: %s (%s)", st.agent.name, step.status.value, step.reason)
                commands.append(RoverCommand(STOP))
        return commands

    def _write_all(self, commands: list[RoverCommand]) -> bool:
        for st, command in zip(self._states, commands, strict=True):
            try:
                st.agent.rover.write(command)
            except HardwareError as exc:
                self._fault(st, f"hardware: {exc}")
                return False
        return True

    def _report(
        self, readings: list[SensedState | None], commands: list[RoverCommand], now_s: float
    ) -> None:
        if self.on_tick is None:
            return
        for i, (sensed, command) in enumerate(zip(readings, commands, strict=True)):
            if sensed is not None:
                self.on_tick(TickInfo(i, now_s, sensed, command))

    def _cancel_all(self, reason: str) -> None:
        """Cancel every running skill. The reading that found the reason is given to no
        skill and reported to no observer: what a skill saw last and what observers saw
        last are the same tick."""
        log.info("stopping: %s", reason)
        for st in self._states:
            if st.result is None:
                st.result = st.agent.skill.cancel(reason)

    def _fault(self, st: _AgentState, reason: str) -> None:
        log.error("%s: %s", st.agent.name, reason)
        st.agent.skill.cancel(reason)
        st.result = ActionResult(ActionStatus.EXECUTION_FAILED, reason)
        for other in self._states:
            if other.result is None:
                other.result = other.agent.skill.cancel(f"{st.agent.name} failed: {reason}")

    def _stop_all(self) -> None:
        """A zero drive command to every rover that can take one (tools hold)."""
        for st in self._states:
            rover = st.agent.rover
            if rover.lifecycle_state is LifecycleState.ACTIVE:
                with contextlib.suppress(HardwareError):
                    rover.write(RoverCommand(STOP))

    def _end(self, ended_by: str, t0_s: float, now_s: float) -> LoopResult:
        self._stop_all()
        results = tuple(
            st.result or ActionResult(ActionStatus.CANCELED, "loop ended") for st in self._states
        )
        return LoopResult(results, ended_by, self.ticks, now_s - t0_s)
