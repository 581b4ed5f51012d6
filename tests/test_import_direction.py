"""DESIGN.md: imports point launch → sim, firmware_bridge → robot; robot is pure."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_importing_robot_loads_no_simulator_serial_or_other_package() -> None:
    code = (
        "import sys, lunarsite.robot, lunarsite.robot.executive, lunarsite.robot.hardware.mock, "
        "lunarsite.robot.perception.estimation, lunarsite.robot.control.waypoints\n"
        "bad = [m for m in sys.modules"
        " if m.split('.')[0] in ('pybullet', 'serial', 'pybullet_utils')"
        " or m.startswith(('lunarsite.sim', 'lunarsite.launch', 'lunarsite.firmware_bridge'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert out.stdout.strip() == ""


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        (
            "robot",
            (
                "pybullet",
                "pybullet_utils",
                "serial",
                "lunarsite.sim",
                "lunarsite.launch",
                "lunarsite.firmware_bridge",
            ),
        ),
        ("sim", ("lunarsite.launch", "lunarsite.firmware_bridge", "serial")),
        ("firmware_bridge", ("lunarsite.launch", "lunarsite.sim", "pybullet")),
    ],
)
def test_package_imports_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_no_bare_top_level_packages_installed() -> None:
    code = (
        "import importlib.util as u\n"
        "print([n for n in ('robot', 'sim', 'launch', 'firmware_bridge') if u.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert out.stdout.strip() == "[]"
