"""The Arduino firmware's binary in simavr as a bridge target: what HELLO carries on the
AVR (reset cause, boot id from EEPROM), 1% corruption both ways on the real UART path,
and the host's figures. The shared protocol tests (handshake, commands, driving, the
watchdog stop, reconnect) run on this target through the ``make_rover`` fixture."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.avr_rover import AvrRover
from lunarsite.firmware_bridge.enums import AckStatus, Mode, ResetCause
from lunarsite.firmware_bridge.link import LinkConfig, LinkError, LinkState, SerialLink
from lunarsite.firmware_bridge.proxy import FaultConfig, FaultProxy

from .conftest import require_avr

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _avr() -> None:
    require_avr()


@pytest.mark.parametrize("board", ["uno", "mega"])
def test_hello_carries_power_on_and_a_boot_id_from_eeprom(board: str) -> None:
    ids = []
    for count in (41, 42):
        with (
            AvrRover(board=board, boot_count=count) as rover,
            SerialLink(LinkConfig(port=rover.port, seed=1)) as link,
        ):
            hello = link.wait_connected(5.0)
        assert hello.reset_cause == ResetCause.POWER_ON
        assert hello.schema_hash == p.SCHEMA_HASH
        ids.append(hello.boot_id)
    # The firmware adds one to the stored count and scrambles it (lunarsite_rover.ino).
    assert ids == [((n + 1) * 2654435761 & 0xFFFFFFFF) ^ 0x5A5A0000 for n in (41, 42)]


def test_one_percent_corruption_applies_nothing_corrupted_stale_or_twice(tmp_path: Path) -> None:
    byte_faults = FaultConfig(corrupt_prob=0.01, drop_prob=0.005)
    to_rover = FaultConfig(corrupt_prob=0.01, drop_prob=0.005, frame_replay_prob=0.03)
    log_path = tmp_path / "applied.jsonl"
    sent: dict[tuple[int, int], tuple[int, int]] = {}
    acked: list[int] = []
    unanswered: list[int] = []
    with (
        AvrRover(log_path=log_path) as rover,
        FaultProxy(rover.port, to_rover=to_rover, to_host=byte_faults, seed=3) as proxy,
        SerialLink(LinkConfig(port=proxy.port, seed=3, silence_timeout_s=1.0)) as link,
    ):
        link.wait_connected(5.0)
        link.set_mode(Mode.ARMED)
        i = 0
        while i < 800:  # 8 s at 100 Hz
            linear, angular = (i * 37) % 601 - 300, (i * 53) % 1001 - 500
            session = link.session
            counter = link.send_setpoint(linear / 1000.0, angular / 1000.0)
            time.sleep(0.01)
            if counter is None or link.session != session:
                if link.state is not LinkState.CONNECTED:
                    link.wait_connected(5.0)
                    link.set_mode(Mode.ARMED)
                continue
            sent[(session, counter)] = (linear, angular)
            i += 1
            if i % 80 == 0:
                target = 100 + i // 80
                try:
                    assert link.set_servo(0, target / 1000.0) is AckStatus.OK
                    acked.append(target)
                except LinkError:
                    unanswered.append(target)
        time.sleep(0.6)
        rover_counts = link.counters().rover
        stats = proxy.stats()
    events = rover.read_log()
    applied = [e for e in events if e["event"] == "setpoint"]
    assert stats["to_rover"].corrupted > 50 and stats["to_rover"].frames_replayed > 10
    assert rover_counts is not None and rover_counts.crc_errors > 10
    assert rover_counts.stale_setpoints > 5
    assert len(applied) > 0.6 * len(sent)
    last: dict[int, int] = {}
    for e in applied:
        key = (e["session"], e["counter"])
        assert sent.get(key) == (e["linear_mmps"], e["angular_mradps"]), e
        assert e["counter"] > last.get(e["session"], 0), e
        last[e["session"]] = e["counter"]
    servo = [e for e in events if e["event"] == "command" and e["type"] == "servo"]
    times: defaultdict[tuple[int, int], int] = defaultdict(int)
    for e in servo:
        times[(e["session"], e["cmd_id"])] += 1
    assert max(times.values()) == 1
    applied_ok = [e["b"] for e in servo if e["status"] == 0]
    assert [t for t in applied_ok if t in acked] == acked
    assert set(applied_ok) - set(acked) <= set(unanswered)


def test_host_reports_cycles_sleep_and_the_worst_loop(tmp_path: Path) -> None:
    stats_path = tmp_path / "stats.json"
    with (
        AvrRover(stats_path=stats_path) as rover,
        SerialLink(LinkConfig(port=rover.port, seed=2)) as link,
    ):
        link.wait_connected(5.0)
        link.set_mode(Mode.ARMED)
        for _ in range(30):
            link.send_setpoint(0.1, 0.0)
            time.sleep(0.01)
    s = rover.read_stats()
    assert s["frequency_hz"] == 16_000_000 and s["mcu"].startswith("atmega328")
    assert 0 < s["sleep_cycles"] < s["cycles"]
    assert 0.0 < s["cpu_share"] < 1.0 and s["loops"] > 100
    # A loop that handles a control tick and telemetry does float maths: thousands of
    # cycles, and less than the 10 ms control period.
    assert 2_000 < s["loop_max_cycles"] < 160_000
