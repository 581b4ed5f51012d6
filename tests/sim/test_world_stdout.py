"""PyBullet's C code prints to standard output on import and on connect; the world keeps
it from reaching the process's stdout (which carries the JSON of ``lunarsite bench``)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json
print(json.dumps({"before": True}), flush=True)
from lunarsite.sim.world import LunarWorld
from lunarsite.sim.soil_config import SoilConfig
from lunarsite.sim.terrain import Terrain
import numpy as np
with LunarWorld(Terrain(np.zeros((11, 11)), 0.1), soil=SoilConfig()) as w:
    w.step(2)
with LunarWorld(Terrain(np.zeros((11, 11)), 0.1)) as w:
    w.step(2)
print(json.dumps({"after": True}))
"""


def test_building_worlds_prints_nothing_but_what_python_prints() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    lines = out.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [{"before": True}, {"after": True}]
    assert "argv[0]" not in out.stdout
