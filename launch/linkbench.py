"""Serial link figures (``lunarsite bench link``, ``bench/bench_link.py``): setpoint and
telemetry rates sustained at 115200 baud through a pty held to that rate by the fault
proxy's throttle, link use per direction, and round-trip percentiles through the raw pty
and the throttled one, against the virtual rover. Tests never assert on these figures.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunarsite.firmware_bridge.link import SerialLink

__all__ = ["bench_link", "cli_bench_link"]


def bench_link(
    *, seconds: float = 5.0, baud: int = 115200, rate_hz: float = 100.0, pings: int = 300
) -> dict[str, Any]:
    """Sustained setpoint and telemetry rates at ``baud`` through a throttled pty, and
    round-trip percentiles through the raw pty and the throttled one.

    The virtual rover streams TELEMETRY at 100 Hz; the host streams SETPOINTs at
    ``rate_hz`` for ``seconds``. A proxy holds each direction to baud / 10 bytes per
    second (a pty alone has no baud rate). Link use is bytes per second over baud / 10.
    """
    from lunarsite.firmware_bridge.enums import Mode
    from lunarsite.firmware_bridge.link import LinkConfig, SerialLink
    from lunarsite.firmware_bridge.proxy import FaultConfig, FaultProxy
    from lunarsite.firmware_bridge.virtual_rover import VirtualRover

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
            link.set_mode(Mode.ARMED)
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


def cli_bench_link(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``bench/bench_link.py`` options and run :func:`bench_link`."""
    parser = argparse.ArgumentParser(description="Link rates and round trips (JSON).")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--rate-hz", type=float, default=100.0)
    parser.add_argument("--pings", type=int, default=300)
    ns = parser.parse_args(argv)
    return bench_link(seconds=ns.seconds, baud=ns.baud, rate_hz=ns.rate_hz, pings=ns.pings)
