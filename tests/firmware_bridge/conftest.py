"""Fixtures: a virtual rover on a pty (built once per machine into the cache)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lunarsite.firmware_bridge.build import build_virtual_rover
from lunarsite.firmware_bridge.virtual_rover import VirtualRover


@pytest.fixture(scope="session")
def virtual_rover_exe() -> Path:
    return build_virtual_rover()


@pytest.fixture
def vrover(tmp_path: Path, virtual_rover_exe: Path) -> Iterator[VirtualRover]:
    rover = VirtualRover(log_path=tmp_path / "applied.jsonl", executable=virtual_rover_exe)
    rover.start()
    try:
        yield rover
    finally:
        rover.stop()
