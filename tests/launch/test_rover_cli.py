"""The physical-rover commands against the virtual rover: rover_square, link-check,
virtual-rover, teleop keys, and the refusals (simulation-only missions, bad ports)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lunarsite.firmware_bridge.link import LinkConfig, SerialLink
from lunarsite.firmware_bridge.virtual_rover import VirtualRover, read_log
from lunarsite.launch.cli import main
from lunarsite.launch.missions.steps import robot_steps
from lunarsite.launch.rover_cli import TeleopState, apply_key
from lunarsite.launch.schema import ScenarioError, load_scenario
from lunarsite.robot.config import RoverConfig
from lunarsite.robot.tasks.steps import expected_poses
from lunarsite.robot.types import Pose2


@pytest.fixture
def vrover(tmp_path: Path) -> VirtualRover:
    rover = VirtualRover(log_path=tmp_path / "applied.jsonl")
    rover.start()
    yield rover  # type: ignore[misc]
    rover.stop()


def test_rover_square_plan_is_a_closed_1m_square() -> None:
    scenario = load_scenario("rover_square")
    poses = expected_poses(robot_steps(scenario.mission, scenario.rover), Pose2(1.0, 1.0, 0.0))
    corners = [
        (round(q.x_m, 6), round(q.y_m, 6))
        for q, s in zip(poses, scenario.mission.steps, strict=True)
        if s.kind == "drive"
    ]
    assert corners == [(2.0, 1.0), (2.0, 2.0), (1.0, 2.0), (1.0, 1.0)]
    kinds = [s.kind for s in scenario.mission.steps]
    assert kinds.count("tool") == 2 and kinds.count("gripper") == 2


@pytest.mark.slow
def test_rover_square_runs_on_the_virtual_rover(
    vrover: VirtualRover, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    assert main(["rover", "--port", vrover.port, "rover_square", "--out", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "rover_square seed 0 on serial: succeeded" in out
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["backend"] == "serial" and metrics["steps_done"] == 12
    assert "final_true_pose" not in metrics  # no ground truth on a rover
    header = (folder / "trajectory.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["t_s", "est_x_m", "est_y_m", "est_yaw_rad"]
    events = vrover.read_log()
    servo = [
        (e["a"], e["b"])
        for e in events
        if e["event"] == "command" and e["type"] == "servo" and e["status"] == 0
    ]
    assert servo == [(0, 1200), (0, 200), (1, 600), (1, 0)]
    setpoints = [e for e in events if e["event"] == "setpoint"]
    assert max(e["linear_mmps"] for e in setpoints) == 300
    assert max(e["angular_mradps"] for e in setpoints) == 1200
    wheels = [e["event"] for e in events if e["event"].startswith("wheels_")]
    assert wheels[-1] == "wheels_stopped" and "wheels_moving" in wheels
    assert [e["a"] for e in events if e["event"] == "command" and e["type"] == "mode"] == [1, 0]


@pytest.mark.parametrize(
    ("scenario", "needs"),
    [
        ("drive_test", "'navigate' mission: it needs a range scanner and a camera"),
        ("dig_and_dump", "'dig_and_dump' mission: it needs deformable soil"),
    ],
)
def test_rover_refuses_missions_it_lacks_the_sensors_for(
    capsys: pytest.CaptureFixture[str], scenario: str, needs: str, tmp_path: Path
) -> None:
    out = tmp_path / "never"
    assert main(["rover", "--port", "/dev/null", scenario, "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"scenario '{scenario}' has a {needs}" in err
    assert not out.exists()  # refused before anything was made


def test_rover_and_link_check_refuse_a_missing_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rover", "--port", "/dev/no-such-rover", "rover_square"]) == 2
    assert main(["link-check", "--port", "/dev/no-such-rover"]) == 2
    err = capsys.readouterr().err
    assert err.count("--port /dev/no-such-rover: no such device") == 2


def test_link_check_refuses_a_port_that_is_not_a_serial_device_or_is_busy(
    tmp_path: Path, vrover: VirtualRover, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "not-a-tty"
    plain.write_text("")
    assert main(["link-check", "--port", str(plain), "--connect-timeout", "20"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {plain}: not a serial device" in err
    assert "[bold red]" not in err  # the message is printed as text, markup applied once
    with SerialLink(LinkConfig(port=vrover.port, seed=8)) as holder:  # opens exclusively
        holder.wait_connected(3.0)
        assert main(["link-check", "--port", vrover.port, "--connect-timeout", "20"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{vrover.port}: busy, another program has it open" in err


@pytest.mark.slow
def test_steps_run_in_simulation_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", "rover_square"]) == 0
    assert "12 steps" in capsys.readouterr().out
    folder = tmp_path / "sim"
    assert main(["run", "rover_square", "--out", str(folder), "--quiet"]) == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["backend"] == "sim" and metrics["steps_done"] == 12
    # Judged on its own odometry; the truth is reported beside it: the lab rover on a
    # flat sand box ends within a few centimetres of where it started.
    assert metrics["final_error_m"] <= 0.05
    assert metrics["final_true_error_m"] < 0.2


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("speed_mps: 0.3}", "speed_mps: 0.9}", "mission.steps[0].speed_mps: 0.9 m/s exceeds"),
        ("kind: wait", "kind: sleep", "mission.steps[11]: kind must be one of: drive, turn"),
        ("position_rad: 1.2}", "position_rad: 3.2}", "outside joint 'scoop_lift' limits"),
        ("distance_m: 1.0, speed", "distance_m: 5.0, speed", "outside the site"),
        ("kind: steps", "kind: step", "mission.kind must be one of: "),
        ("yaw_rate_radps: 1.2}", "yaw_rate_radps: 9.0}", "exceeds the rover's drive.max_yaw"),
    ],
)
def test_bad_steps_are_refused_with_field_and_reason(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = load_scenario("rover_square").path.read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert any(message in line and str(path) in line for line in err.value.problems), (
        err.value.problems
    )


def test_link_check_reports_handshake_pings_and_counters(
    vrover: VirtualRover, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["link-check", "--port", vrover.port, "--pings", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["firmware_version"] == "1.0.0" and report["reset_cause"] == "power_on"
    assert report["pings_lost"] == 0 and 0 < report["rtt_s"]["p50"] <= report["rtt_s"]["max"]
    assert report["counters"]["rtt_samples"] >= 20
    assert report["counters"]["rover"]["crc_errors"] == 0
    assert main(["link-check", "--port", vrover.port, "--pings", "5"]) == 0
    text = capsys.readouterr().out
    assert "handshake ok" in text and "5/5 answered" in text


def test_link_check_on_a_schema_mismatch_names_both_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with VirtualRover(schema_hash=0x12345678) as vr:
        assert main(["link-check", "--port", vr.port, "--connect-timeout", "2"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "schema hash mismatch" in err and "firmware 1.0.0" in err and "0x12345678" in err
    assert "host lunarsite" in err and "refusing motion" in err


def test_virtual_rover_command_prints_its_port_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    log = tmp_path / "vr.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunarsite.launch.cli", "virtual-rover", "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60.0)
        assert ready, "no device path printed"
        port = proc.stdout.readline().decode().strip()
        assert port.startswith("/dev/") and os.path.exists(port)
        with SerialLink(LinkConfig(port=port, seed=4)) as link:
            assert link.wait_connected(3.0).firmware_version == "1.0.0"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10.0) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    time.sleep(0.1)
    assert [e["event"] for e in read_log(log)][:1] == ["session"]


def test_teleop_needs_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["teleop", "--port", "/dev/null"]) == 2
    assert "run it in a terminal" in capsys.readouterr().err


def test_teleop_keys_and_the_stop_key(lab_rover: RoverConfig) -> None:
    s = TeleopState()
    for key in "www":
        s = apply_key(s, key, lab_rover)
    assert s.linear_mps == pytest.approx(3 * 0.3 / 5)
    for _ in range(10):
        s = apply_key(s, "w", lab_rover)
    assert s.linear_mps == pytest.approx(0.3)  # capped at max_speed_mps
    s = apply_key(s, "a", lab_rover)
    assert s.angular_radps == pytest.approx(1.5 / 5)
    s = apply_key(s, " ", lab_rover)
    assert (s.linear_mps, s.angular_radps) == (0.0, 0.0)
    s = apply_key(s, "i", lab_rover)
    assert s.tool_rad == pytest.approx(0.3)  # home 0.2 + 0.1
    s = apply_key(s, "l", lab_rover)
    assert s.gripper_rad == pytest.approx(-0.1)
    s = apply_key(apply_key(s, "w", lab_rover), "x", lab_rover)
    assert s.estop and s.linear_mps == 0.0
    for key in "wwad":  # no speed builds up behind a latched stop
        s = apply_key(s, key, lab_rover)
    assert (s.linear_mps, s.angular_radps) == (0.0, 0.0)
    reset = apply_key(s, "r", lab_rover)
    assert not reset.estop and (reset.linear_mps, reset.angular_radps) == (0.0, 0.0)
    assert apply_key(s, "q", lab_rover).quit


def _rover_run(port: str, out: Path) -> subprocess.Popen[str]:
    """``lunarsite rover --port PORT rover_square`` as a separate process."""
    args = ["rover", "--port", port, "rover_square", "--out", str(out)]
    return subprocess.Popen(
        [sys.executable, "-m", "lunarsite.launch.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_moving(vrover: VirtualRover, timeout_s: float = 30.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if any(e["event"] == "wheels_moving" for e in vrover.read_log()):
            return
        time.sleep(0.1)
    raise AssertionError("the rover never moved")


@pytest.mark.slow
def test_ctrl_c_stops_the_rover_first_then_writes_the_run_folder(
    vrover: VirtualRover, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    proc = _rover_run(vrover.port, out)
    try:
        _wait_until_moving(vrover)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30.0)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "canceled" and "interrupted (Ctrl-C)" in metrics["reason"]
    assert metrics["ended_by"] == "interrupted" and metrics["success"] is False
    assert (out / "trajectory.csv").is_file() and (out / "map.png").is_file()
    events = vrover.read_log()
    setpoints = [e for e in events if e["event"] == "setpoint"]
    assert (setpoints[-1]["linear_mmps"], setpoints[-1]["angular_mradps"]) == (0, 0)
    # A zero setpoint reached the rover before it was disarmed (mode 0).
    disarm = next(
        e["t_ms"] for e in events if e["event"] == "command" and e["type"] == "mode" and e["a"] == 0
    )
    zero = [e["t_ms"] for e in setpoints if (e["linear_mmps"], e["angular_mradps"]) == (0, 0)]
    assert zero and zero[0] <= disarm
    assert [e["event"] for e in events if e["event"].startswith("wheels_")][-1] == "wheels_stopped"


@pytest.mark.slow
def test_a_rover_that_vanishes_mid_run_fails_the_run_and_keeps_the_folder(
    tmp_path: Path,
) -> None:
    vr = VirtualRover(log_path=tmp_path / "applied.jsonl")
    vr.start()
    out = tmp_path / "run"
    proc = _rover_run(vr.port, out)
    try:
        _wait_until_moving(vr)
        vr.stop()  # the board loses power: the link goes silent
        stdout, stderr = proc.communicate(timeout=60.0)
    finally:
        if proc.poll() is None:
            proc.kill()
        vr.stop()
    assert proc.returncode == 1, stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "execution_failed" and metrics["ended_by"] == "fault"
    assert "link to lab_rover lost for more than 2 s" in metrics["reason"]
    assert "failed checks: all_steps_done" in stdout
