"""The physical-rover commands of the ``lunarsite`` CLI.

``lunarsite rover --port PORT SCENARIO``   run a scenario's mission on a rover over a port
``lunarsite teleop --port PORT``           drive with the keyboard (SPACE stops)
``lunarsite link-check --port PORT``       handshake, ping statistics, link counters
``lunarsite virtual-rover``                build and start the virtual rover, print its port
``lunarsite bench link``                   link rates and round trips (:func:`bench_link`)

:func:`add_rover_commands` registers the subcommands on the CLI's parser and
:func:`dispatch` runs them; both are called from :mod:`lunarsite.launch.cli`. The serial
link (pyserial) is imported only when one of them runs. Exit status follows the CLI: 0
done, 1 fell short (the mission, the link, lost pings), 2 bad input (a missing port, a
mission the rover cannot run), 130 interrupted (the rover stopped, the run folder
written).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.hardware import HardwareError, LoopRate
from lunarsite.robot.types import DriveCommand, RoverCommand

from .files import load_rover
from .schema import load_scenario

if TYPE_CHECKING:
    from lunarsite.firmware_bridge.link import SerialLink

__all__ = [
    "TeleopState",
    "add_rover_commands",
    "apply_key",
    "dispatch",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_SHORT = 1
EXIT_BAD_INPUT = 2

COMMANDS = ("rover", "teleop", "link-check", "virtual-rover")


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

    rover = sub.add_parser("rover", help="run a scenario's mission on a rover over a port")
    rover.add_argument("scenario", help="a scenario (name or YAML path) the rover can run")
    link_args(rover)
    rover.add_argument("--out", type=Path, default=None, help="run folder (default runs/NAME-TIME)")
    rover.add_argument("--quiet", action="store_true", help="no progress output")

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


def dispatch(args: argparse.Namespace, out: Console, console: Console) -> int:
    """Run a command registered by :func:`add_rover_commands`."""
    from lunarsite.firmware_bridge.link import LinkError, PortError

    handlers: dict[str, Callable[[argparse.Namespace, Console, Console], int]] = {
        "rover": _cmd_rover,
        "teleop": _cmd_teleop,
        "link-check": _cmd_link_check,
        "virtual-rover": _cmd_virtual_rover,
    }
    handler = handlers[args.command]
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
    from lunarsite.firmware_bridge.link import LinkConfig, SerialLink

    return SerialLink(LinkConfig(port=args.port, baudrate=args.baud))


def _cmd_rover(args: argparse.Namespace, out: Console, console: Console) -> int:
    from .cli import prepare_out_dir, report_outcome
    from .progress import progress_reporter
    from .runner import refuse_backend, run_serial

    scenario = load_scenario(args.scenario)
    refuse_backend(scenario, "serial")
    bad = _check_port(args, console)
    if bad is not None:
        return bad
    out_dir = prepare_out_dir(args.out, scenario.config.name)
    console.print(
        f"running [bold]{scenario.config.name}[/] on the rover at {escape(args.port)} → {out_dir}",
        highlight=False,
    )
    with progress_reporter(console, scenario.config.name, quiet=args.quiet) as progress:
        outcome = run_serial(
            scenario,
            out_dir,
            port=args.port,
            baud=args.baud,
            connect_timeout_s=args.connect_timeout,
            progress=progress,
        )
    return report_outcome(out, outcome.metrics, outcome.judgement.lines, out_dir, outcome)


def _cmd_link_check(args: argparse.Namespace, out: Console, console: Console) -> int:
    from lunarsite.firmware_bridge.enums import ResetCause
    from lunarsite.firmware_bridge.link import LinkError

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
        "reset_cause": ResetCause(hello.reset_cause).name.lower()
        if hello.reset_cause in ResetCause._value2member_map_
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
    from lunarsite.firmware_bridge.build import FirmwareBuildError
    from lunarsite.firmware_bridge.virtual_rover import VirtualRover, VirtualRoverError

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


def _wait_forever(vr: Any) -> int:
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

    from lunarsite.firmware_bridge.enums import Mode
    from lunarsite.firmware_bridge.serial_rover import SerialRover

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
                        rover.link.set_mode(Mode.ARMED)
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
