"""The host link and the serial rover against the virtual rover on a pty."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.enums import AckStatus, HelloStatus, Mode, Param, ResetCause
from lunarsite.firmware_bridge.framing import encode_frame
from lunarsite.firmware_bridge.link import (
    HandshakeError,
    LinkConfig,
    LinkError,
    LinkState,
    SerialLink,
    host_version,
)
from lunarsite.firmware_bridge.serial_rover import SerialRover, default_servo_channels
from lunarsite.firmware_bridge.virtual_rover import VirtualRover, VirtualRoverError
from lunarsite.robot.config import RoverConfig
from lunarsite.robot.hardware import LifecycleError, LifecycleState
from lunarsite.robot.types import DriveCommand, RoverCommand


def _wait(cond, timeout_s: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_handshake_commands_params_and_ping(vrover: VirtualRover) -> None:
    with SerialLink(LinkConfig(port=vrover.port, seed=3)) as link:
        hello = link.wait_connected(3.0)
        assert hello.status == HelloStatus.ACCEPTED
        assert hello.schema_hash == p.SCHEMA_HASH and hello.protocol == p.PROTOCOL_VERSION
        assert hello.reset_cause == ResetCause.POWER_ON
        assert hello.firmware_version == "1.0.0"
        link.set_param(Param.TRACK_M, 0.2)
        assert link.get_param(Param.TRACK_M) == pytest.approx(0.2, abs=1e-6)
        assert link.set_servo(0, 0.5) is AckStatus.WRONG_STATE  # not armed yet
        link.set_mode(Mode.ARMED)
        assert link.set_servo(0, 0.5) is AckStatus.OK
        assert link.ping() < 0.5
        assert _wait(lambda: link.telemetry is not None)
        c = link.counters()
        assert c.state == "connected" and c.crc_errors == 0 and c.command_failures == 0
    events = vrover.read_log()
    commands = [e for e in events if e["event"] == "command"]
    assert [(e["type"], e["status"]) for e in commands] == [
        ("param_set", 0),
        ("servo", AckStatus.WRONG_STATE),
        ("mode", 0),
        ("servo", 0),
    ]


def test_schema_mismatch_refuses_motion_naming_both_versions(
    tmp_path: Path, virtual_rover_exe: Path, lab_rover: RoverConfig
) -> None:
    log_path = tmp_path / "applied.jsonl"
    with VirtualRover(
        log_path=log_path, schema_hash=0x0BADF00D, executable=virtual_rover_exe
    ) as vr:
        link = SerialLink(LinkConfig(port=vr.port, seed=1))
        rover = SerialRover(lab_rover, link, connect_timeout_s=3.0)
        with pytest.raises(HandshakeError) as err:
            rover.configure()
        msg = str(err.value)
        assert f"host lunarsite {host_version()}" in msg
        assert f"schema 0x{p.SCHEMA_HASH:08X}" in msg
        assert "rover firmware 1.0.0" in msg and "schema 0x0BADF00D" in msg
        assert "refusing motion" in msg
        assert link.state is LinkState.REFUSED
        assert rover.lifecycle_state is LifecycleState.UNCONFIGURED
        assert link.send_setpoint(0.3, 0.0) is None
        rover.close()
    assert [e for e in vr.read_log() if e["event"] in ("session", "setpoint", "command")] == []


def test_serial_rover_drives_reads_and_stops(vrover: VirtualRover, lab_rover: RoverConfig) -> None:
    assert default_servo_channels(lab_rover) == {"scoop_lift": 0, "gripper_jaw": 1}
    link = SerialLink(LinkConfig(port=vrover.port, seed=2))
    cmd = RoverCommand(DriveCommand(0.2, 0.0), {"scoop_lift": 1.0, "gripper_jaw": 0.5})
    with SerialRover(lab_rover, link) as rover:
        with pytest.raises(LifecycleError, match="unconfigured, not active"):
            rover.write(cmd)
        rover.configure()
        assert link.get_param(Param.WHEEL_RADIUS_M) == pytest.approx(0.033, abs=1e-6)
        assert link.get_param(Param.SERVO1_MAX_RAD) == pytest.approx(0.8, abs=1e-6)
        with pytest.raises(LifecycleError, match="inactive, not active"):
            rover.write(cmd)
        assert not [e for e in vrover.read_log() if e["event"] in ("setpoint", "wheels_moving")]
        rover.activate()
        start = rover.read()
        for _ in range(50):  # 1 s at 50 Hz
            rover.write(cmd)
            time.sleep(0.02)
        moving = rover.read()
        assert "watchdog" not in moving.faults and "link_disconnected" not in moving.faults
        # 0.2 m/s for ~1 s (minus the ramp): ~1.5 revolutions of 1496 ticks.
        travelled_m = (moving.left_ticks - start.left_ticks) / 1496 * 2 * 3.14159 * 0.033
        assert 0.1 < travelled_m < 0.3
        assert moving.left_ticks - start.left_ticks == pytest.approx(
            moving.right_ticks - start.right_ticks, abs=15
        )
        assert moving.tool_positions_rad["scoop_lift"] == pytest.approx(1.0, abs=1e-3)
        assert moving.tool_positions_rad["gripper_jaw"] == pytest.approx(0.5, abs=1e-3)
        assert moving.accel_mps2[2] == pytest.approx(9.807, abs=0.01)
        assert 7.0 < moving.battery_v < 8.0
        rover.deactivate()
        with pytest.raises(LifecycleError, match="inactive, not active"):
            rover.write(cmd)
        time.sleep(0.1)
        a = rover.read()
        time.sleep(0.1)
        b = rover.read()
        assert a.left_ticks == b.left_ticks and a.right_ticks == b.right_ticks
    events = vrover.read_log()
    assert events[-1]["event"] == "wheels_stopped"


def test_a_stale_hello_request_that_steals_the_session_is_recovered_from(
    vrover: VirtualRover,
) -> None:
    # A HELLO_REQ delayed from an earlier session (here: written by a second opener of
    # the same device) makes the rover switch sessions; the host's setpoints would then
    # be dropped for good unless it notices and handshakes again.
    with SerialLink(LinkConfig(port=vrover.port, seed=6, silence_timeout_s=2.0)) as link:
        link.wait_connected(3.0)
        first = link.session
        stale = (first + 1) & 0xFFFF or 1
        fd = os.open(vrover.port, os.O_WRONLY | os.O_NOCTTY)
        try:
            os.write(fd, encode_frame(p.HelloRequest(p.PROTOCOL_VERSION, p.SCHEMA_HASH, stale), 0))
        finally:
            os.close(fd)
        assert _wait(lambda: link.counters().handshakes >= 2 and link.state is LinkState.CONNECTED)
        assert link.session not in (first, stale)
        link.set_mode(Mode.ARMED)
        for _ in range(5):
            link.send_setpoint(0.1, 0.0)
            time.sleep(0.02)
    sessions = [e["session"] for e in vrover.read_log() if e["event"] == "session"]
    assert sessions[:2] == [first, stale] and sessions[-1] == link.session
    applied = [e for e in vrover.read_log() if e["event"] == "setpoint"]
    assert applied and all(e["session"] == link.session for e in applied)


def test_a_failed_configure_leaves_no_thread_or_port_behind(lab_rover: RoverConfig) -> None:
    link = SerialLink(LinkConfig(port="/dev/lunarsite-no-such-rover", seed=1))
    rover = SerialRover(lab_rover, link, connect_timeout_s=0.3)
    with pytest.raises(LinkError, match="/dev/lunarsite-no-such-rover: no such device"):
        rover.configure()
    assert rover.lifecycle_state is LifecycleState.UNCONFIGURED
    assert link.state is LinkState.CLOSED
    assert not any(t.name == "lunarsite-link" and t.is_alive() for t in threading.enumerate())


def test_virtual_rover_start_gives_up_on_a_silent_process(tmp_path: Path) -> None:
    fake = tmp_path / "silent_rover"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    vr = VirtualRover(executable=fake)
    with pytest.raises(VirtualRoverError, match=r"no device path within 0\.5 s"):
        vr.start(timeout_s=0.5)
    assert not vr.running
