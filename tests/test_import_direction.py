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
        "import importlib, pkgutil, sys, lunarsite.robot as r\n"
        "for m in pkgutil.walk_packages(r.__path__, 'lunarsite.robot.'):\n"
        "    importlib.import_module(m.name)\n"
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


def test_validate_loads_neither_pybullet_nor_pyserial() -> None:
    """``lunarsite validate`` on every shipped scenario reads files only: no simulator, no
    serial port (the mission kinds are found and checked without them)."""
    code = (
        "import sys\n"
        "from lunarsite.launch.cli import main\n"
        "from lunarsite.launch.files import list_scenarios\n"
        "names = [n for n, _ in list_scenarios()]\n"
        "codes = [main(['validate', n]) for n in names]\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pybullet', 'serial'))\n"
        "print('RESULT', len(names), codes, bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    result = next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))
    count, rest = result.removeprefix("RESULT ").split(" ", 1)
    assert int(count) >= 5
    assert rest == f"{[0] * int(count)} []"


def test_controller_test_fixtures_load_no_simulator_or_launch() -> None:
    """The controller's tests run on what the controller is: their fixtures (the root and
    the robot conftest) import neither the simulator nor the command line."""
    for path in (ROOT / "tests" / "conftest.py", ROOT / "tests" / "robot" / "conftest.py"):
        bad = [n for n in _imports(path) if n.startswith(("lunarsite.sim", "lunarsite.launch"))]
        assert bad == [], path
