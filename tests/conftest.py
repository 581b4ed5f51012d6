"""Shared fixtures: the shipped rover files, read as the controller's own configuration.

Only the controller package is imported here, so every test (the controller's included)
can use them without loading the simulator or the command line: the rover files are read
with PyYAML and validated as :class:`~lunarsite.robot.config.RoverConfig` strictly, as
``lunarsite.launch`` reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from lunarsite.robot.config import RoverConfig

ROVER_FILES = Path(__file__).resolve().parents[1] / "launch" / "rovers"


def shipped_rover(name: str) -> RoverConfig:
    """A shipped rover file (``launch/rovers/NAME.yaml``) as a :class:`RoverConfig`."""
    data = yaml.safe_load((ROVER_FILES / f"{name}.yaml").read_text())
    return RoverConfig.model_validate_json(json.dumps(data), strict=True)


@pytest.fixture(scope="session")
def excavator() -> RoverConfig:
    return shipped_rover("excavator_66kg")


@pytest.fixture(scope="session")
def lab_rover() -> RoverConfig:
    return shipped_rover("lab_rover")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
