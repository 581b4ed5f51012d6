"""Fixtures: the rover targets on a pty. ``virtual``: the firmware core built for this
machine; ``avr``: the Arduino firmware's binary for the Uno in simavr (skipped, naming the
packages, where Debian's AVR toolchain and simavr are not installed). Both are built once
per machine into the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lunarsite.firmware_bridge.avr_rover import AvrRover, avr_missing_packages
from lunarsite.firmware_bridge.build import build_virtual_rover
from lunarsite.firmware_bridge.virtual_rover import VirtualRover

TARGETS = ["virtual", pytest.param("avr", marks=pytest.mark.slow)]

RoverFactory = Callable[..., VirtualRover]


@pytest.fixture(scope="session")
def virtual_rover_exe() -> Path:
    return build_virtual_rover()


def require_avr() -> None:
    missing = avr_missing_packages()
    if missing:
        pytest.skip(f"AVR target not available: missing Debian packages {' '.join(missing)}")


@pytest.fixture(params=TARGETS)
def make_rover(request: pytest.FixtureRequest, virtual_rover_exe: Path) -> RoverFactory:
    """A factory of unstarted rovers of the parametrised target (log_path=...)."""
    target: str = request.param
    if target == "avr":
        require_avr()

    def make(**kwargs: Any) -> VirtualRover:
        if target == "avr":
            return AvrRover(board="uno", **kwargs)
        return VirtualRover(executable=virtual_rover_exe, **kwargs)

    return make


@pytest.fixture
def vrover(tmp_path: Path, make_rover: RoverFactory) -> Iterator[VirtualRover]:
    rover = make_rover(log_path=tmp_path / "applied.jsonl")
    rover.start()
    try:
        yield rover
    finally:
        rover.stop()
