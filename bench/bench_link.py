"""Serial link figures: setpoint and telemetry rates sustained at 115200 baud through a
pty held to that baud rate by the fault proxy's throttle, link use per direction, and
round-trip time percentiles through the raw pty and the throttled one.

Run: python bench/bench_link.py [--seconds 5] [--baud 115200] [--rate-hz 100] [--pings 300]
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import json

from lunarsite.launch.linkbench import cli_bench_link

if __name__ == "__main__":
    print(json.dumps(cli_bench_link(), indent=2))
