"""Reference firmware figures on the emulated boards (the Arduino binary in simavr):
flash and static RAM per board; with 100 Hz setpoints and 100 Hz telemetry for a few
seconds, the AVR's CPU share (1 - sleeping cycles / cycles) and its worst main-loop
iteration in cycles; then the watchdog stop time (last applied setpoint to wheels at
rest, on the rover's clock) after the host goes silent.

Run: python bench/bench_firmware.py [--seconds 5]
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from lunarsite.firmware_bridge.avr_build import BOARDS, build_avr_firmware
from lunarsite.firmware_bridge.avr_rover import AvrRover
from lunarsite.firmware_bridge.enums import Mode
from lunarsite.firmware_bridge.link import LinkConfig, SerialLink


def board_figures(board: str, seconds: float, folder: Path) -> dict[str, Any]:
    build = build_avr_firmware(board)
    log_path, stats_path = folder / f"{board}.jsonl", folder / f"{board}.stats.json"
    with (
        AvrRover(board=board, log_path=log_path, stats_path=stats_path) as rover,
        SerialLink(LinkConfig(port=rover.port, seed=1)) as link,
    ):
        link.wait_connected(5.0)
        link.set_mode(Mode.ARMED)
        t_end = time.monotonic() + seconds
        next_s = time.monotonic()
        while time.monotonic() < t_end:
            link.send_setpoint(0.2, 0.3)
            next_s += 0.01
            time.sleep(max(0.0, next_s - time.monotonic()))
        telemetry = link.counters().telemetry_frames
        time.sleep(0.6)  # silence: the watchdog stops the wheels
    stats = rover.read_stats()
    events = rover.read_log()
    stop_i = max(i for i, e in enumerate(events) if e["event"] == "wheels_stopped")
    last_sp = [e for e in events[:stop_i] if e["event"] == "setpoint"][-1]
    cycles_per_ms = stats["frequency_hz"] / 1000.0
    return {
        "board": board,
        "mcu": BOARDS[board].mcu,
        "flash_bytes": build.size.flash_bytes,
        "static_ram_bytes": build.size.ram_bytes,
        "cpu_share_100hz": stats["cpu_share"],
        "loop_max_cycles": stats["loop_max_cycles"],
        "loop_max_ms": round(stats["loop_max_cycles"] / cycles_per_ms, 3),
        "telemetry_frames_received": telemetry,
        "run_s_on_avr_clock": stats["sim_s"],
        "watchdog_stop_ms": stops_after(last_sp, events[stop_i]),
    }


def stops_after(setpoint: dict[str, Any], stopped: dict[str, Any]) -> int:
    return int(stopped["t_ms"]) - int(setpoint["t_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = [board_figures(b, args.seconds, Path(tmp)) for b in ("uno", "mega")]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
