"""Real-time factor of the drive_test_dr world, headless, with and without camera rendering;
then of traverse with its camera drawing the terrain whole or culled to its view.

Run: python bench/bench_sim.py [--sim-seconds 60]   (same as `lunarsite bench sim`)
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import sys

from lunarsite.launch.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "sim", *sys.argv[1:]]))
