"""mypy strict over all four packages, and ruff, as CI runs them.

The repository keeps ``robot/``, ``sim/``, ``firmware_bridge/`` and ``launch/`` at the top
and installs them as ``lunarsite.*`` (setuptools ``package-dir``); mypy cannot follow an
editable install's import hook, so the check builds the package layout from symlinks in
a temporary folder and type-checks ``lunarsite`` there, with the project's configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("robot", "sim", "firmware_bridge", "launch")


def test_mypy_strict_over_every_package(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "lunarsite"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name in PACKAGES:
        (pkg / name).symlink_to(ROOT / name, target_is_directory=True)
    env = {**os.environ, "MYPYPATH": str(tmp_path / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--strict",
            "-p",
            "lunarsite",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues found" in proc.stdout


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff(args: list[str]) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed (it is in the [test] extra)")
    proc = subprocess.run([ruff, *args, "."], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
