"""The one control loop's own cost: microseconds per tick on the mock rover (no physics),
for one rover and for several sharing a clock, each driving a waypoint square on dead
reckoning. What remains of a tick in simulation is the world's stepping.

Run: python bench/bench_loop.py [--ticks 20000] [--rovers 1 2 4 8]
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import yaml

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.waypoints import FollowerParams
from lunarsite.robot.executive import Agent, ControlLoop
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.tasks.waypoints import DriveToWaypoints
from lunarsite.robot.types import Pose2

HZ = 20.0
ROVER = Path(__file__).resolve().parents[1] / "launch" / "rovers" / "excavator_66kg.yaml"


def per_tick_us(rovers: int, ticks: int) -> float:
    config = RoverConfig.model_validate_json(json.dumps(yaml.safe_load(ROVER.read_text())))
    clock = ManualClock()
    agents = []
    for k in range(rovers):
        start = Pose2(2.0 + 3.0 * k, 2.0, 0.0)
        rover = MockRover(config, clock, start)
        rover.configure()
        rover.activate()
        square = [(start.x_m + dx, start.y_m + dy) for dx, dy in ((2, 0), (2, 2), (0, 2), (0, 0))]
        laps = square * 1000  # never finishes: the time limit ends it
        skill = DriveToWaypoints(
            FollowerParams.for_rover(config), DeadReckoning(config, start), laps, control_hz=HZ
        )
        agents.append(Agent(rover, skill, f"r{k}"))
    loop = ControlLoop(agents, rate_hz=HZ, time_limit_s=ticks / HZ)
    t0 = time.perf_counter()
    result = loop.run()
    wall = time.perf_counter() - t0
    return 1e6 * wall / max(result.ticks, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=20000)
    ap.add_argument("--rovers", type=int, nargs="+", default=[1, 2, 4, 8])
    args = ap.parse_args(argv)
    out = {
        "benchmark": "loop",
        "plant": "mock (excavator_66kg), DriveToWaypoints on dead reckoning",
        "control_hz": HZ,
        "ticks": args.ticks,
        "python": platform.python_version(),
        "us_per_tick": {str(n): round(per_tick_us(n, args.ticks), 1) for n in args.rovers},
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
