"""The physical-rover commands of the ``lunarsite`` CLI, and the steps-mission runner.

``lunarsite rover --port PORT SCENARIO``   run a scenario's steps on a rover over a port
``lunarsite teleop --port PORT``           drive with the keyboard (SPACE stops)
``lunarsite link-check --port PORT``       handshake, ping statistics, link counters
``lunarsite virtual-rover``                build and start the virtual rover, print its port
``lunarsite bench link``                   link rates and round trips (:func:`bench_link`)

:func:`add_rover_commands` registers the subcommands on the CLI's parser and
:func:`dispatch` runs them; both are called from :mod:`lunarsite.launch.cli`. Exit
status follows the CLI: 0 done, 1 fell short (a step failed, the link failed, pings were
lost), 2 bad input (a missing port, a simulation-only scenario).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import select
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.build import FirmwareBuildError
from lunarsite.firmware_bridge.link import LinkConfig, LinkError, PortError, SerialLink
from lunarsite.firmware_bridge.proxy import FaultConfig, FaultProxy
from lunarsite.firmware_bridge.serial_rover import SerialRover
from lunarsite.firmware_bridge.virtual_rover import VirtualRover, VirtualRoverError
from lunarsite.robot.config import RoverConfig
from lunarsite.robot.hardware import HardwareError, LoopRate
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand, SensedState, wrap_angle

from .schema import (
    DriveStep,
    GripperStep,
    StepsMission,
    ToolStep,
    TurnStep,
    WaitStep,
    load_rover,
    load_scenario,
)

__all__ = [
    "StepResult",
    "StepsOutcome",
    "TeleopState",
    "add_rover_commands",
    "apply_key",
    "bench_link",
    "check_steps",
    "dispatch",
    "expected_poses",
    "run_steps",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_SHORT = 1
EXIT_BAD_INPUT = 2

COMMANDS = ("rover", "teleop", "link-check", "virtual-rover")


# ===================================================================== steps
def _tool_joint(rover: RoverConfig, step: ToolStep | GripperStep) -> str | None:
    kinds = ("gripper",) if isinstance(step, GripperStep) else ("scoop", "bucket")
    if isinstance(step, ToolStep) and step.joint is not None:
        return step.joint
    for tool in rover.tools:
        if tool.kind in kinds:
            return tool.joints[0].name
    return None


def expected_poses(mission: StepsMission, start: Pose2) -> list[Pose2]:
    """The planned pose after each step, from ``start``, in the site frame."""
    out = []
    x, y, yaw = start.x_m, start.y_m, start.yaw_rad
    for step in mission.steps:
        if isinstance(step, DriveStep):
            x += step.distance_m * math.cos(yaw)
            y += step.distance_m * math.sin(yaw)
        elif isinstance(step, TurnStep):
            yaw += step.angle_rad
        out.append(Pose2(x, y, wrap_angle(yaw)))
    return out


def check_steps(
    mission: StepsMission,
    rover: RoverConfig,
    start: Any,
    size_m: tuple[float, float] | None,
) -> list[tuple[tuple[int | str, ...], str]]:
    """Problems of a steps mission for this rover, as ((step index, field), reason)."""
    problems: list[tuple[tuple[int | str, ...], str]] = []
    poses = expected_poses(mission, Pose2(start.x_m, start.y_m, start.yaw_rad))
    d = rover.drive
    for i, step in enumerate(mission.steps):
        if isinstance(step, DriveStep):
            if step.distance_m == 0.0:
                problems.append(((i, "distance_m"), "must not be zero"))
            if step.speed_mps > d.max_speed_mps:
                problems.append(
                    (
                        (i, "speed_mps"),
                        f"{step.speed_mps:g} m/s exceeds the rover's "
                        f"drive.max_speed_mps ({d.max_speed_mps:g})",
                    )
                )
            pose = poses[i]
            if size_m is not None and not (
                0.0 <= pose.x_m <= size_m[0] and 0.0 <= pose.y_m <= size_m[1]
            ):
                problems.append(
                    (
                        (i,),
                        f"ends at ({pose.x_m:.2f}, {pose.y_m:.2f}) m, outside the site "
                        f"(0..{size_m[0]:g} × 0..{size_m[1]:g} m)",
                    )
                )
        elif isinstance(step, TurnStep):
            if step.angle_rad == 0.0:
                problems.append(((i, "angle_rad"), "must not be zero"))
            if step.yaw_rate_radps > d.max_yaw_rate_radps:
                problems.append(
                    (
                        (i, "yaw_rate_radps"),
                        f"{step.yaw_rate_radps:g} rad/s exceeds the "
                        f"rover's drive.max_yaw_rate_radps ({d.max_yaw_rate_radps:g})",
                    )
                )
        elif isinstance(step, ToolStep | GripperStep):
            name = _tool_joint(rover, step)
            what = "gripper" if isinstance(step, GripperStep) else "scoop or bucket"
            if name is None:
                problems.append(((i,), f"rover {rover.name!r} has no {what}"))
                continue
            if name not in rover.joint_names:
                known = ", ".join(rover.joint_names) or "none"
                problems.append(((i, "joint"), f"rover has no joint {name!r} (has: {known})"))
                continue
            j = rover.joint(name)
            if not j.lower_rad <= step.position_rad <= j.upper_rad:
                problems.append(
                    (
                        (i, "position_rad"),
                        f"{step.position_rad:g} rad is outside joint "
                        f"{name!r} limits [{j.lower_rad:g}, {j.upper_rad:g}]",
                    )
                )
    return problems


@dataclass(frozen=True)
class StepResult:
    index: int
    kind: str
    status: str
    """succeeded or execution_failed."""
    reason: str
    duration_s: float
    error_m: float
    """Distance from the planned position to the rover's own estimate after the step."""


@dataclass(frozen=True)
class StepsOutcome:
    succeeded: bool
    reason: str
    steps: tuple[StepResult, ...]
    final_error_m: float
    elapsed_s: float
    checks: dict[str, bool] = field(default_factory=dict)


class _StepFailed(Exception):
    pass


class _Runner:
    """Runs steps closed-loop on the rover's own dead reckoning (encoders + gyro)."""

    def __init__(
        self,
        rover: SerialRover,
        mission: StepsMission,
        start: Pose2,
        time_limit_s: float,
        progress: Callable[[int, str], None] | None,
    ) -> None:
        self.rover = rover
        self.mission = mission
        self.cfg = rover.config
        self.rate = LoopRate(rover.clock, mission.control_hz)
        self.estimator = DeadReckoning(rover.config, start)
        self.targets: dict[str, float] = {}
        self.deadline_s = rover.clock.now_s() + time_limit_s
        self.progress = progress
        self.state: SensedState | None = None
        self.yaw_travel_rad = 0.0
        self.last_yaw = start.yaw_rad
        self.disconnected_since: float | None = None

    def tick(self, drive: DriveCommand) -> Pose2:
        self.rover.write(RoverCommand(drive, self.targets))
        self.rate.sleep()
        state = self.rover.read()
        now = self.rover.clock.now_s()
        if "estop" in state.faults:
            raise _StepFailed("the rover reports an emergency stop")
        if "link_disconnected" in state.faults:
            self.disconnected_since = self.disconnected_since or now
            if now - self.disconnected_since > 2.0:
                raise _StepFailed("link to the rover lost for more than 2 s")
        else:
            self.disconnected_since = None
        if now > self.deadline_s:
            raise _StepFailed("time limit reached")
        if self.state is None or state.stamp_s > self.state.stamp_s:
            self.estimator.update(state)
            self.state = state
        pose = self.estimator.pose
        self.yaw_travel_rad += wrap_angle(pose.yaw_rad - self.last_yaw)
        self.last_yaw = pose.yaw_rad
        return pose

    def settle(self, duration_s: float = 0.3) -> Pose2:
        end = self.rover.clock.now_s() + duration_s
        pose = self.estimator.pose
        while self.rover.clock.now_s() < end:
            pose = self.tick(DriveCommand())
        return pose

    def drive(self, step: DriveStep, before: Pose2, after: Pose2) -> None:
        """Follow the planned segment ``before`` → ``after``: speed from the distance left
        along it, yaw rate from the heading and cross-track errors."""
        self.tick(DriveCommand())
        accel = 0.5 * self.cfg.drive.max_accel_mps2
        ux, uy = math.cos(before.yaw_rad), math.sin(before.yaw_rad)
        direction = math.copysign(1.0, step.distance_m)
        while True:
            pose = self.estimator.pose
            remaining = ((after.x_m - pose.x_m) * ux + (after.y_m - pose.y_m) * uy) * direction
            if remaining < 0.003:
                break
            cross = -(pose.x_m - after.x_m) * uy + (pose.y_m - after.y_m) * ux
            v = min(step.speed_mps, max(0.03, math.sqrt(2.0 * accel * remaining)))
            w = 2.0 * wrap_angle(before.yaw_rad - pose.yaw_rad) - 4.0 * cross * direction
            w = max(-0.5, min(0.5, w))
            self.tick(DriveCommand(direction * v, w))
        self.settle()

    def turn(self, step: TurnStep, before: Pose2) -> None:
        """Turn in place by the step's angle, plus whatever heading error is left over."""
        pose = self.tick(DriveCommand())
        start = self.yaw_travel_rad
        goal = step.angle_rad + wrap_angle(before.yaw_rad - pose.yaw_rad)
        alpha = 2.0
        while True:
            remaining = goal - (self.yaw_travel_rad - start)
            if abs(remaining) < 0.003 or remaining * goal < 0.0:
                break
            w = min(step.yaw_rate_radps, max(0.1, math.sqrt(2.0 * alpha * abs(remaining))))
            self.tick(DriveCommand(0.0, math.copysign(w, remaining)))
        self.settle()

    def joint(self, name: str, target_rad: float) -> None:
        j = self.cfg.joint(name)
        self.targets[name] = target_rad
        state = self.state
        now = self.rover.clock.now_s()
        start = state.tool_positions_rad.get(name, j.home_rad) if state else j.home_rad
        give_up = now + abs(target_rad - start) / j.max_speed_radps + 2.0
        while True:
            self.tick(DriveCommand())
            assert self.state is not None
            if abs(self.state.tool_positions_rad.get(name, math.inf) - target_rad) < 0.01:
                return
            rejected = self.rover.take_rejections()
            if rejected:
                raise _StepFailed("; ".join(rejected))
            if self.rover.clock.now_s() > give_up:
                raise _StepFailed(f"joint {name} did not reach {target_rad:g} rad in time")

    def wait(self, step: WaitStep) -> None:
        end = self.rover.clock.now_s() + step.duration_s
        while self.rover.clock.now_s() < end:
            self.tick(DriveCommand())

    def run(self) -> tuple[list[StepResult], str]:
        origin = self.estimator.pose
        planned = expected_poses(self.mission, origin)
        results: list[StepResult] = []
        self.tick(DriveCommand())
        for i, step in enumerate(self.mission.steps):
            before = planned[i - 1] if i > 0 else origin
            if self.progress is not None:
                self.progress(i, step.kind)
            t0 = self.rover.clock.now_s()
            try:
                if isinstance(step, DriveStep):
                    self.drive(step, before, planned[i])
                elif isinstance(step, TurnStep):
                    self.turn(step, before)
                elif isinstance(step, WaitStep):
                    self.wait(step)
                else:
                    name = _tool_joint(self.cfg, step)
                    assert name is not None, "checked by the schema"
                    self.joint(name, step.position_rad)
            except (_StepFailed, HardwareError) as exc:
                results.append(
                    StepResult(
                        i,
                        step.kind,
                        "execution_failed",
                        str(exc),
                        self.rover.clock.now_s() - t0,
                        math.nan,
                    )
                )
                self._stop()
                return results, f"step {i} ({step.kind}) failed: {exc}"
            pose = self.estimator.pose
            error = math.hypot(pose.x_m - planned[i].x_m, pose.y_m - planned[i].y_m)
            results.append(
                StepResult(i, step.kind, "succeeded", "", self.rover.clock.now_s() - t0, error)
            )
        self._stop()
        return results, "all steps done"

    def _stop(self) -> None:
        with contextlib.suppress(HardwareError):
            self.rover.write(RoverCommand(DriveCommand(), self.targets))


def run_steps(
    rover: SerialRover,
    mission: StepsMission,
    *,
    start: Pose2,
    time_limit_s: float,
    max_step_error_m: float | None,
    max_final_error_m: float | None,
    progress: Callable[[int, str], None] | None = None,
) -> StepsOutcome:
    """Run ``mission`` on an ACTIVE rover; judge each drive step's end and the final
    position against the plan, on the rover's own dead reckoning (a physical rover has
    no ground truth). A limit of None is not judged (its check is left out)."""
    t0 = rover.clock.now_s()
    runner = _Runner(rover, mission, start, time_limit_s, progress)
    results, reason = runner.run()
    done = len(results) == len(mission.steps) and all(r.status == "succeeded" for r in results)
    final = results[-1].error_m if done else math.nan
    drive_errors = [r.error_m for r in results if r.kind == "drive" and r.status == "succeeded"]
    checks = {"all_steps_done": done}
    if max_step_error_m is not None:
        checks["step_error"] = done and all(e <= max_step_error_m for e in drive_errors)
    if max_final_error_m is not None:
        checks["final_error"] = done and final <= max_final_error_m
    return StepsOutcome(
        succeeded=all(checks.values()),
        reason=reason,
        steps=tuple(results),
        final_error_m=final,
        elapsed_s=rover.clock.now_s() - t0,
        checks=checks,
    )


# ==================================================================== teleop
@dataclass(frozen=True)
class TeleopState:
    """What teleop commands: body speeds and servo targets; ``quit`` ends the session."""

    linear_mps: float = 0.0
    angular_radps: float = 0.0
    tool_rad: float | None = None
    gripper_rad: float | None = None
    estop: bool = False
    quit: bool = False


TELEOP_HELP = (
    "w/s faster/slower   a/d turn left/right   SPACE STOP   "
    "i/k scoop up/down   o/l gripper open/close   x emergency stop   r reset stop   q quit"
)


def apply_key(state: TeleopState, key: str, rover: RoverConfig) -> TeleopState:
    """The teleop state after one key press (SPACE stops at once)."""
    d = rover.drive
    dv = d.max_speed_mps / 5.0
    dw = d.max_yaw_rate_radps / 5.0

    def clamp(v: float, m: float) -> float:
        return max(-m, min(m, v))

    if key == " ":
        return replace(state, linear_mps=0.0, angular_radps=0.0)
    if state.estop and key in ("w", "s", "a", "d"):
        return state  # no speed builds up behind a latched stop
    if key == "w":
        return replace(state, linear_mps=clamp(state.linear_mps + dv, d.max_speed_mps))
    if key == "s":
        return replace(state, linear_mps=clamp(state.linear_mps - dv, d.max_speed_mps))
    if key == "a":
        return replace(state, angular_radps=clamp(state.angular_radps + dw, d.max_yaw_rate_radps))
    if key == "d":
        return replace(state, angular_radps=clamp(state.angular_radps - dw, d.max_yaw_rate_radps))
    if key in "ikol" and key:
        tool = key in "ik"
        kinds = ("scoop", "bucket") if tool else ("gripper",)
        joint = next((t.joints[0] for t in rover.tools if t.kind in kinds), None)
        if joint is None:
            return state
        current = state.tool_rad if tool else state.gripper_rad
        value = joint.home_rad if current is None else current
        value += 0.1 if key in "io" else -0.1
        value = max(joint.lower_rad, min(joint.upper_rad, value))
        return replace(state, tool_rad=value) if tool else replace(state, gripper_rad=value)
    if key == "x":
        return replace(state, linear_mps=0.0, angular_radps=0.0, estop=True)
    if key == "r":  # unlatch, standing still: motion needs a new key press
        return replace(state, linear_mps=0.0, angular_radps=0.0, estop=False)
    if key in ("q", "\x03", "\x04"):
        return replace(state, linear_mps=0.0, angular_radps=0.0, quit=True)
    return state


# ================================================================ bench link
def bench_link(
    *, seconds: float = 5.0, baud: int = 115200, rate_hz: float = 100.0, pings: int = 300
) -> dict[str, Any]:
    """Sustained setpoint and telemetry rates at ``baud`` through a throttled pty, and
    round-trip percentiles through the raw pty and the throttled one.

    The virtual rover streams TELEMETRY at 100 Hz; the host streams SETPOINTs at
    ``rate_hz`` for ``seconds``. A proxy holds each direction to baud / 10 bytes per
    second (a pty alone has no baud rate). Link use is bytes per second over baud / 10.
    """
    result: dict[str, Any] = {"benchmark": "link", "baud": baud, "setpoint_rate_hz": rate_hz}
    line_bps = baud / 10.0
    with VirtualRover() as vr:
        throttle = FaultConfig(baud=baud)
        with (
            FaultProxy(vr.port, to_rover=throttle, to_host=throttle) as proxy,
            SerialLink(
                LinkConfig(port=proxy.port, baudrate=baud, ping_period_s=0.0, seed=0)
            ) as link,
        ):
            link.wait_connected(5.0)
            link.set_mode(p.Mode.ARMED)
            time.sleep(0.6)
            c0 = link.counters()
            r0 = c0.rover
            t0 = time.monotonic()
            period = 1.0 / rate_hz
            k = 0
            while time.monotonic() - t0 < seconds:
                link.send_setpoint(0.1 * math.sin(0.5 * k * period), 0.0)
                k += 1
                time.sleep(max(0.0, t0 + k * period - time.monotonic()))
            time.sleep(0.6)  # one more LINK_STATUS from the rover
            elapsed = time.monotonic() - t0
            c1 = link.counters()
            r1 = c1.rover
            tel = c1.telemetry_frames - c0.telemetry_frames
            result["throttled_115200"] = {
                "seconds": round(seconds, 2),
                "setpoints_sent_hz": round((c1.setpoints_sent - c0.setpoints_sent) / seconds, 1),
                "setpoints_applied_hz": round(
                    (r1.setpoints_applied - r0.setpoints_applied) / seconds, 1
                )
                if r0 is not None and r1 is not None
                else None,
                "setpoints_rate_limited": c1.setpoints_rate_limited - c0.setpoints_rate_limited,
                "telemetry_received_hz": round(tel / elapsed, 1),
                "host_to_rover_link_use": round(
                    (c1.tx_bytes - c0.tx_bytes) / elapsed / line_bps, 3
                ),
                "rover_to_host_link_use": round(
                    (c1.rx_bytes - c0.rx_bytes) / elapsed / line_bps, 3
                ),
                "rover_tx_drops": (r1.tx_drops - r0.tx_drops) if r0 and r1 else None,
                "crc_errors": c1.crc_errors,
            }
            result["rtt_throttled_115200_s"] = _rtt(link, pings)
        with SerialLink(LinkConfig(port=vr.port, ping_period_s=0.0, seed=1)) as raw:
            raw.wait_connected(5.0)
            result["rtt_raw_pty_s"] = _rtt(raw, pings)
    return result


def _rtt(link: SerialLink, n: int) -> dict[str, float | int]:
    samples = sorted(link.ping(timeout_s=1.0) for _ in range(n))

    def pct(q: float) -> float:
        return round(samples[max(0, math.ceil(q / 100.0 * n) - 1)], 6)

    return {"n": n, "p50": pct(50), "p90": pct(90), "p99": pct(99), "max": round(samples[-1], 6)}


# ======================================================================= CLI
def add_rover_commands(sub: Any) -> None:
    """Register ``rover``, ``teleop``, ``link-check`` and ``virtual-rover`` on the CLI's
    subparsers object."""
    port_help = "serial device (a stable name: /dev/serial/by-id/... or /dev/lunarsite-rover)"

    def link_args(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--port", required=True, help=port_help)
        cmd.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
        cmd.add_argument(
            "--connect-timeout",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="wait this long for the rover's handshake (default 5)",
        )

    rover = sub.add_parser("rover", help="run a scenario's steps on a physical rover")
    rover.add_argument("scenario", help="a scenario with a 'steps' mission (name or YAML path)")
    link_args(rover)

    teleop = sub.add_parser("teleop", help="drive a rover with the keyboard (SPACE stops)")
    link_args(teleop)
    teleop.add_argument("--rover", default="lab_rover", help="rover file (default lab_rover)")

    check = sub.add_parser("link-check", help="handshake, ping statistics and link counters")
    link_args(check)
    check.add_argument("--pings", type=int, default=50, help="pings to send (default 50)")
    check.add_argument("--json", action="store_true", help="print JSON instead of text")

    virt = sub.add_parser(
        "virtual-rover", help="build and start the virtual rover; print its device path"
    )
    virt.add_argument("--log", type=Path, default=None, help="write applied commands (JSON lines)")
    virt.add_argument("--link", type=Path, default=None, help="also make this symlink to the pty")
    virt.add_argument(
        "--schema-hash",
        default=None,
        metavar="HEX",
        help="pretend to run firmware with another message table (tests a mismatch)",
    )


def dispatch(args: argparse.Namespace, out: Console, console: Console) -> int | None:
    """Run a command registered by :func:`add_rover_commands`; None if not one of them."""
    handlers: dict[str, Callable[[argparse.Namespace, Console, Console], int]] = {
        "rover": _cmd_rover,
        "teleop": _cmd_teleop,
        "link-check": _cmd_link_check,
        "virtual-rover": _cmd_virtual_rover,
    }
    handler = handlers.get(args.command)
    if handler is None:
        return None
    try:
        return handler(args, out, console)
    except PortError as exc:  # not a serial device, permission denied, busy
        return _bad(console, str(exc))
    except (LinkError, HardwareError) as exc:  # handshake refused, link lost, timed out
        _error(console, str(exc))
        return EXIT_SHORT


def _error(console: Console, message: str) -> None:
    # The message is text, not markup: a port or path may contain brackets.
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def _bad(console: Console, message: str) -> int:
    _error(console, message)
    return EXIT_BAD_INPUT


def _check_port(args: argparse.Namespace, console: Console) -> int | None:
    if not os.path.exists(args.port):
        return _bad(console, f"--port {args.port}: no such device")
    if args.baud <= 0:
        return _bad(console, f"--baud {args.baud}: must be positive")
    if not (math.isfinite(args.connect_timeout) and args.connect_timeout > 0.0):
        return _bad(console, f"--connect-timeout {args.connect_timeout}: must be positive")
    return None


def _link(args: argparse.Namespace) -> SerialLink:
    return SerialLink(LinkConfig(port=args.port, baudrate=args.baud))


def _cmd_rover(args: argparse.Namespace, out: Console, console: Console) -> int:
    scenario = load_scenario(args.scenario)
    mission = scenario.config.mission
    if not isinstance(mission, StepsMission):
        return _bad(
            console,
            f"{scenario.path}: scenario {scenario.config.name!r} has a {mission.kind!r} "
            "mission, which runs in simulation only; 'lunarsite rover' runs 'steps' "
            "missions (drive, turn, tool, gripper, wait)",
        )
    bad = _check_port(args, console)
    if bad is not None:
        return bad
    cfg = scenario.config
    start = Pose2(cfg.rover.start.x_m, cfg.rover.start.y_m, cfg.rover.start.yaw_rad)
    with SerialRover(scenario.rover, _link(args), connect_timeout_s=args.connect_timeout) as rover:
        rover.configure()
        hello = rover.link.hello
        assert hello is not None
        console.print(
            f"connected to firmware {hello.firmware_version} on {args.port} "
            f"(boot id 0x{hello.boot_id:08X}); running [bold]{cfg.name}[/], "
            f"{len(mission.steps)} steps",
            highlight=False,
        )
        rover.activate()

        def progress(i: int, kind: str) -> None:
            console.print(f"  step {i + 1}/{len(mission.steps)}: {kind}", highlight=False)

        outcome = run_steps(
            rover,
            mission,
            start=start,
            time_limit_s=cfg.time_limit_s,
            max_step_error_m=cfg.acceptance.max_waypoint_error_m,
            max_final_error_m=cfg.acceptance.max_final_error_m,
            progress=progress,
        )
        rover.deactivate()
        counters = rover.link.counters()
    verdict = "[green]succeeded[/]" if outcome.succeeded else "[red]fell short[/]"
    failed = [k for k, ok in outcome.checks.items() if not ok]
    out.print(
        f"{cfg.name}: {verdict} ({outcome.reason}) in {outcome.elapsed_s:.1f} s\n"
        f"  final position {outcome.final_error_m:.3f} m from the plan (rover's own "
        f"odometry), link: {counters.crc_errors} CRC errors, "
        f"{counters.command_retries} command retries, {counters.disconnects} disconnects"
        + (f"\n  failed checks: {', '.join(failed)}" if failed else ""),
        highlight=False,
    )
    return EXIT_OK if outcome.succeeded else EXIT_SHORT


def _cmd_link_check(args: argparse.Namespace, out: Console, console: Console) -> int:
    bad = _check_port(args, console)
    if bad is not None:
        return bad
    if args.pings < 1:
        return _bad(console, f"--pings {args.pings}: must be at least 1")
    with _link(args) as link:
        hello = link.wait_connected(args.connect_timeout)
        rtts = []
        lost = 0
        for _ in range(args.pings):
            try:
                rtts.append(link.ping(timeout_s=0.5))
            except LinkError:
                lost += 1
        time.sleep(0.6)  # one LINK_STATUS from the rover
        counters = link.counters()
    rtts.sort()

    def pct(q: float) -> float | None:
        return rtts[max(0, math.ceil(q / 100.0 * len(rtts)) - 1)] if rtts else None

    report = {
        "port": args.port,
        "firmware_version": hello.firmware_version,
        "protocol": hello.protocol,
        "schema_hash": f"0x{hello.schema_hash:08X}",
        "boot_id": f"0x{hello.boot_id:08X}",
        "reset_cause": p.ResetCause(hello.reset_cause).name.lower()
        if hello.reset_cause in p.ResetCause._value2member_map_
        else hello.reset_cause,
        "pings": args.pings,
        "pings_lost": lost,
        "rtt_s": {
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "max": rtts[-1] if rtts else None,
        },
        "counters": counters.as_dict(),
    }
    if args.json:
        out.print_json(json.dumps(report))
    else:
        rtt = report["rtt_s"]

        def ms(v: float | None) -> str:
            return "-" if v is None else f"{1000.0 * v:.2f} ms"

        rover_status = counters.rover
        out.print(
            f"[green]handshake ok[/] {args.port}: firmware {hello.firmware_version}, protocol "
            f"{hello.protocol}, schema {report['schema_hash']}, boot id {report['boot_id']}, "
            f"reset cause {report['reset_cause']}\n"
            f"  ping: {args.pings - lost}/{args.pings} answered, p50 {ms(rtt['p50'])}, "
            f"p90 {ms(rtt['p90'])}, p99 {ms(rtt['p99'])}, max {ms(rtt['max'])}\n"
            f"  host: {counters.rx_frames} frames in, {counters.crc_errors} CRC errors, "
            f"{counters.framing_errors} framing errors, {counters.overflows} overflows, "
            f"{counters.rx_drops} frames lost\n"
            + (
                f"  rover: {rover_status.rx_frames} frames in, {rover_status.crc_errors} CRC "
                f"errors, {rover_status.framing_errors} framing errors, "
                f"{rover_status.tx_drops} send drops, {rover_status.watchdog_trips} watchdog trips"
                if rover_status is not None
                else "  rover: no LINK_STATUS received"
            ),
            highlight=False,
        )
    return EXIT_OK if lost == 0 else EXIT_SHORT


def _cmd_virtual_rover(args: argparse.Namespace, out: Console, console: Console) -> int:
    schema = None
    if args.schema_hash is not None:
        try:
            schema = int(args.schema_hash, 16)
        except ValueError:
            return _bad(console, f"--schema-hash {args.schema_hash!r}: expected hexadecimal")
        if not 0 <= schema <= 0xFFFFFFFF:
            return _bad(console, f"--schema-hash {args.schema_hash!r}: must fit 32 bits")
    vr = VirtualRover(log_path=args.log, link_path=args.link, schema_hash=schema)
    try:
        console.print("building the virtual rover (cached after the first time)...")
        port = vr.start()
    except (VirtualRoverError, FirmwareBuildError) as exc:
        _error(console, str(exc))
        return EXIT_SHORT
    try:
        print(port, flush=True)  # the CLI's one machine-readable line: the device path
        console.print(
            f"virtual rover on {port}"
            + (f" (also {args.link})" if args.link else "")
            + (f", logging to {args.log}" if args.log else "")
            + "; Ctrl-C stops it",
            highlight=False,
        )
        return _wait_forever(vr)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        vr.stop()


def _wait_forever(vr: VirtualRover) -> int:
    while vr.running:
        time.sleep(0.2)
    return EXIT_SHORT  # it ended by itself


def _cmd_teleop(args: argparse.Namespace, out: Console, console: Console) -> int:
    if not sys.stdin.isatty():
        return _bad(console, "teleop reads single key presses: run it in a terminal")
    bad = _check_port(args, console)
    if bad is not None:
        return bad
    rover_cfg, _ = load_rover(args.rover)
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    state = TeleopState()
    with SerialRover(rover_cfg, _link(args), connect_timeout_s=args.connect_timeout) as rover:
        rover.configure()
        rover.activate()
        console.print(f"[bold]teleop[/] {args.port}: {TELEOP_HELP}", highlight=False)
        rate = LoopRate(rover.clock, 20.0)
        try:
            tty.setcbreak(fd)
            while not state.quit:
                while select.select([fd], [], [], 0.0)[0]:
                    key = os.read(fd, 1).decode(errors="ignore").lower()
                    was_stopped = state.estop
                    state = apply_key(state, key, rover_cfg)
                    if state.estop and not was_stopped:
                        rover.link.emergency_stop()
                    elif was_stopped and not state.estop:
                        rover.link.stop_reset()
                        rover.link.set_mode(p.Mode.ARMED)
                targets = {}
                for tool in rover_cfg.tools:
                    value = state.gripper_rad if tool.kind == "gripper" else state.tool_rad
                    if value is not None:
                        targets[tool.joints[0].name] = value
                drive = (
                    DriveCommand()
                    if state.estop
                    else DriveCommand(state.linear_mps, state.angular_radps)
                )
                rover.write(RoverCommand(drive, targets))
                sensed = rover.read()
                console.print(
                    f"\r v {drive.linear_mps:+.2f} m/s  ω {drive.angular_radps:+.2f} rad/s  "
                    f"battery {sensed.battery_v:.2f} V  faults {','.join(sensed.faults) or '-'}  "
                    f"[SPACE stops]" + " " * 8,
                    end="",
                    highlight=False,
                    markup=False,
                )
                rate.sleep()
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            console.print()
        rover.deactivate()
    return EXIT_OK


def cli_bench_link(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``bench/bench_link.py`` options and run :func:`bench_link`."""
    parser = argparse.ArgumentParser(description="Link rates and round trips (JSON).")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--rate-hz", type=float, default=100.0)
    parser.add_argument("--pings", type=int, default=300)
    ns = parser.parse_args(argv)
    return bench_link(seconds=ns.seconds, baud=ns.baud, rate_hz=ns.rate_hz, pings=ns.pings)
