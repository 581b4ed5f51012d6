"""The link through the fault-injection proxy: corrupted and stale commands never act,
discrete commands act exactly once, a cut line stops the wheels and reconnects."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.enums import AckStatus, Mode
from lunarsite.firmware_bridge.framing import encode_frame, parse_frame
from lunarsite.firmware_bridge.link import LinkConfig, LinkError, LinkState, SerialLink
from lunarsite.firmware_bridge.proxy import FaultConfig, FaultProxy
from lunarsite.firmware_bridge.serial_rover import SerialRover
from lunarsite.firmware_bridge.virtual_rover import VirtualRover
from lunarsite.robot.config import RoverConfig
from lunarsite.robot.types import DriveCommand, RoverCommand

from .conftest import RoverFactory


def _wait(cond, timeout_s: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def _events(vr: VirtualRover, kind: str) -> list[dict[str, Any]]:
    return [e for e in vr.read_log() if e["event"] == kind]


def test_proxy_faults_are_deterministic_given_a_seed() -> None:
    from lunarsite.firmware_bridge.proxy import _Direction

    faults = FaultConfig(corrupt_prob=0.05, drop_prob=0.05, duplicate_prob=0.05, reorder_prob=0.05)
    data = bytes(range(256)) * 20
    outs = []
    for _ in range(2):
        import random

        d = _Direction("x", faults, random.Random(11))
        for i in range(0, len(data), 37):  # chunking must not matter
            d.take(data[i : i + 37], 0.0)
        outs.append((bytes(d.queue), vars(d.stats)))
    assert outs[0] == outs[1]
    stats = outs[0][1]
    assert stats["corrupted"] > 100 and stats["dropped"] > 100 and stats["duplicated"] > 100
    assert stats["reordered"] > 100
    one_chunk = _Direction("y", faults, random.Random(11))
    one_chunk.take(data, 0.0)
    assert bytes(one_chunk.queue) == outs[0][0]


def test_frame_faults_replay_and_swap_whole_intact_frames() -> None:
    import random

    from lunarsite.firmware_bridge.cobs import FrameSplitter
    from lunarsite.firmware_bridge.proxy import _Direction

    faults = FaultConfig(frame_replay_prob=0.2, frame_reorder_prob=0.1)
    frames = [encode_frame(p.Setpoint(1, k, k, 0), k & 0xFF) for k in range(1, 301)]
    stream = b"".join(frames)
    outs = []
    for chunk in (7, 1000):  # chunking must not matter
        d = _Direction("x", faults, random.Random(5))
        for i in range(0, len(stream), chunk):
            d.take(stream[i : i + chunk], 0.0)
        outs.append(bytes(d.queue))
    assert outs[0] == outs[1]
    splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
    counters = [parse_frame(raw).message.counter for raw in splitter.feed(outs[0])]  # type: ignore[union-attr]
    assert splitter.framing_errors == 0  # every frame intact
    assert sorted(set(counters)) == list(range(1, 301))  # none lost
    assert d.stats.frames_replayed > 30 and d.stats.frames_reordered > 15
    assert len(counters) == 300 + d.stats.frames_replayed
    backwards = sum(b < a for a, b in itertools.pairwise(counters))
    assert backwards >= d.stats.frames_replayed  # stale and out-of-order frames on the wire


@pytest.mark.slow
def test_ten_thousand_setpoints_through_corruption_and_drops(
    tmp_path: Path, virtual_rover_exe: Path
) -> None:
    byte_faults = FaultConfig(
        corrupt_prob=0.01, drop_prob=0.005, duplicate_prob=0.001, reorder_prob=0.001
    )
    # Byte faults almost never make a frame with a valid CRC, so on their own they never
    # offer the rover a stale setpoint or a repeated command. Replayed and swapped whole
    # frames do: without them the "stale" and "exactly once" checks below could not fail.
    to_rover = replace(byte_faults, frame_replay_prob=0.03, frame_reorder_prob=0.01)
    with (
        VirtualRover(log_path=tmp_path / "applied.jsonl", executable=virtual_rover_exe) as vr,
        FaultProxy(vr.port, to_rover=to_rover, to_host=byte_faults, seed=7) as proxy,
        SerialLink(
            # No baud throttle here (a pty has none): the link's own rate limit at a
            # nominal 2 Mbaud paces the writes. Round trips take ~1 ms, so resend an
            # unacknowledged command after 20 ms rather than the 80 ms default (twelve
            # tries: a quarter of a second, plenty on a loaded machine).
            LinkConfig(
                port=proxy.port,
                baudrate=2_000_000,
                seed=7,
                silence_timeout_s=1.0,
                command_timeout_s=0.02,
            )
        ) as link,
    ):
        link.wait_connected(5.0)
        link.set_mode(Mode.ARMED)
        sent: dict[tuple[int, int], tuple[int, int]] = {}
        acked: list[tuple[int, int]] = []  # (channel, target_mrad) acknowledged OK
        unanswered: list[tuple[int, int]] = []  # no acknowledgement: applied at most once
        i = 0
        while i < 10_000:
            linear_mmps = (i * 37) % 601 - 300
            angular_mradps = (i * 53) % 1001 - 500
            session = link.session
            counter = link.send_setpoint(linear_mmps / 1000.0, angular_mradps / 1000.0)
            if counter is None or link.session != session:
                if link.state is not LinkState.CONNECTED:
                    link.wait_connected(5.0)
                    link.set_mode(Mode.ARMED)
                time.sleep(0.0005)
                continue  # rate-limited or reconnected meanwhile: not counted
            sent[(session, counter)] = (linear_mmps, angular_mradps)
            i += 1
            if i % 100 == 0:
                channel, target = (i // 100) % 2, 100 + i // 100
                try:
                    status = link.set_servo(channel, target / 1000.0)
                except LinkError:  # CommandFailed, or the link was lost meanwhile
                    unanswered.append((channel, target))
                else:
                    assert status is AckStatus.OK
                    acked.append((channel, target))
        stats = proxy.stats()
        counters = link.counters()
        applied = []
        # The rover's own count of applied setpoints must match its log: the log is the
        # record of what moved the motors. LINK_STATUS comes at 2 Hz and may be lost.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            time.sleep(0.25)
            applied = _events(vr, "setpoint")
            rover = link.counters().rover
            if rover is not None and rover.setpoints_applied == len(applied):
                break
        rover = link.counters().rover
    # The faults happened, in both directions.
    for direction in ("to_rover", "to_host"):
        st = stats[direction]
        assert st.bytes_in > 10_000
        assert st.corrupted > 0.007 * st.bytes_in and st.dropped > 0.003 * st.bytes_in
    assert stats["to_rover"].corrupted > 1000
    assert stats["to_rover"].frames_replayed > 200 and stats["to_rover"].frames_reordered > 50
    assert counters.crc_errors + counters.framing_errors > 100
    assert rover is not None and rover.crc_errors > 100
    # Stale setpoints and repeated commands did reach the rover intact, and were refused.
    assert rover.stale_setpoints > 100 and rover.dup_commands > 0
    assert rover.setpoints_applied == len(applied)
    # Zero corrupted or stale setpoints applied: each applied one is one that was sent,
    # with its values, and counters only increase within a session.
    assert len(applied) > 0.6 * len(sent)
    last: dict[int, int] = {}
    for e in applied:
        key = (e["session"], e["counter"])
        assert key in sent, f"applied a setpoint that was never sent: {e}"
        assert sent[key] == (e["linear_mmps"], e["angular_mradps"]), f"corrupted: {e}"
        assert e["counter"] > last.get(e["session"], 0), f"stale or out of order: {e}"
        last[e["session"]] = e["counter"]
    # Every discrete command applied exactly once when acknowledged, at most once when
    # not, and in order; replays of old commands were acknowledged, not applied.
    servo = [e for e in _events(vr, "command") if e["type"] == "servo"]
    ids: defaultdict[tuple[int, int], int] = defaultdict(int)
    for e in servo:
        ids[(e["session"], e["cmd_id"])] += 1
    assert max(ids.values()) == 1
    applied_ok = [(e["a"], e["b"]) for e in servo if e["status"] == 0]
    assert [c for c in applied_ok if c in acked] == acked
    assert set(applied_ok) - set(acked) <= set(unanswered)
    assert len(acked) + len(unanswered) == 100 and len(unanswered) <= 2
    assert counters.command_retries > 0  # some acknowledgements were lost and resent


@pytest.mark.slow
def test_cut_line_stops_wheels_reports_disconnected_and_resumes_on_new_command(
    tmp_path: Path, make_rover: RoverFactory, lab_rover: RoverConfig
) -> None:
    drive = RoverCommand(DriveCommand(0.25, 0.0))
    with (
        make_rover(log_path=tmp_path / "applied.jsonl") as vr,
        FaultProxy(vr.port, seed=1) as proxy,
    ):
        link = SerialLink(LinkConfig(port=proxy.port, seed=5, silence_timeout_s=0.3))
        with SerialRover(lab_rover, link) as rover:
            rover.configure()
            rover.activate()
            for _ in range(25):  # 0.5 s at 50 Hz
                rover.write(drive)
                time.sleep(0.02)
            assert _events(vr, "wheels_moving")
            proxy.cut()
            t_cut = time.monotonic()
            while link.state is LinkState.CONNECTED and time.monotonic() - t_cut < 3.0:
                rover.write(drive)  # the host does not know yet
                time.sleep(0.02)
            assert link.state is LinkState.DISCONNECTED
            # Silence timeout 0.3 s; the rest is slack for a loaded machine.
            assert time.monotonic() - t_cut < 2.0
            assert "link_disconnected" in rover.read().faults
            for _ in range(10):
                rover.write(drive)  # dropped on the host side
                time.sleep(0.02)
            # The wheels stopped within 250 ms of the last valid (applied) setpoint, on
            # the rover's own clock (the virtual rover replays any milliseconds it was
            # held off the CPU, so this holds on a loaded machine too).
            events = vr.read_log()
            stop_i = max(i for i, e in enumerate(events) if e["event"] == "wheels_stopped")
            last_setpoint = [e for e in events[:stop_i] if e["event"] == "setpoint"][-1]
            stopped = events[stop_i]
            assert 0 < stopped["t_ms"] - last_setpoint["t_ms"] <= 250
            assert any(e["event"] == "watchdog" for e in events[:stop_i])
            old_session = last_setpoint["session"]
            assert rover.dropped_writes >= 10

            proxy.restore()
            assert link.wait_state(LinkState.CONNECTED, 5.0)
            assert link.session != old_session
            # Configured and armed again in the new session, but not moving.
            assert _wait(
                lambda: any(
                    e["type"] == "mode" and e["session"] == link.session and e["a"] == 1
                    for e in _events(vr, "command")
                )
            )
            time.sleep(0.3)
            after = vr.read_log()[stop_i + 1 :]
            assert not any(e["event"] in ("wheels_moving", "setpoint") for e in after)
            # A new command moves it again.
            for _ in range(10):
                rover.write(drive)
                time.sleep(0.02)
            after = vr.read_log()[stop_i + 1 :]
            first_move = next(i for i, e in enumerate(after) if e["event"] == "wheels_moving")
            first_set = next(i for i, e in enumerate(after) if e["event"] == "setpoint")
            assert first_set < first_move
            assert after[first_set]["session"] == link.session
            assert link.counters().disconnects == 1


def test_unplug_and_replug_under_a_stable_name(tmp_path: Path, make_rover: RoverFactory) -> None:
    stable = tmp_path / "lunarsite-rover"
    with (
        make_rover() as vr,
        FaultProxy(vr.port, host_link=stable) as proxy,
        SerialLink(LinkConfig(port=str(stable), seed=9, backoff_max_s=0.2)) as link,
    ):
        link.wait_connected(3.0)
        boot_id = link.hello.boot_id if link.hello else None
        proxy.unplug()
        assert link.wait_state(LinkState.DISCONNECTED, 2.0)
        assert link.send_setpoint(0.2, 0.0) is None  # no motion while disconnected
        time.sleep(0.3)  # reopen attempts fail: the device is gone
        assert link.state is not LinkState.CONNECTED
        second = proxy.replug()
        assert second == str(stable) and stable.resolve() == Path(proxy.host_port)
        link.wait_connected(3.0)
        assert link.hello is not None and link.hello.boot_id == boot_id
        assert link.counters().handshakes >= 2
