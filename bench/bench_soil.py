"""Soil costs at 2 cm over the 6.88 × 5 m arena, and dig_and_dump with soil on vs rigid.

Run: python bench/bench_soil.py [--sim-seconds 120]   (same as `lunarsite bench soil`)
Prints JSON. Tests never assert on these figures.
"""

from __future__ import annotations

import sys

from lunarsite.launch.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "soil", *sys.argv[1:]]))
