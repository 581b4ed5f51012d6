"""Firmware in the loop: rover_square in the simulated world, its wheels driven by the
firmware's motor outputs and its encoders fed by the simulated wheels, the controller on
the serial link. ``virtual``: the core built here; ``avr``: the Arduino binary in simavr."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lunarsite.firmware_bridge.avr_rover import avr_missing_packages
from lunarsite.launch.cli import main
from lunarsite.launch.runner import run_fil
from lunarsite.launch.schema import load_scenario

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("link", ["virtual", "avr"])
def test_rover_square_through_the_firmware(link: str, tmp_path: Path) -> None:
    if link == "avr" and (missing := avr_missing_packages()):
        pytest.skip(f"AVR target not available: missing Debian packages {' '.join(missing)}")
    scenario = load_scenario("rover_square")
    outcome = run_fil(scenario, tmp_path / "run", link=link, seed=0, time_limit_s=90.0)
    m = outcome.metrics
    assert m["backend"] == f"firmware-{link}"
    assert m["success"], m["reason"]
    # The world's truth, not the rover's estimate: it drove the square (four 1 m sides)
    # and came back near where it started, (1, 1).
    assert 3.6 < m["distance_driven_m"] < 4.8
    end = outcome.record.final_true
    assert end is not None
    assert math.hypot(end.x_m - 1.0, end.y_m - 1.0) < 0.25
    assert m["final_position_error_m"] < 0.25
    assert (tmp_path / "run" / "metrics.json").exists()


def test_link_is_refused_for_a_mission_the_link_cannot_carry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # drive_test navigates by camera and scanner: the link carries neither.
    assert main(["run", "drive_test", "--link", "virtual", "--out", str(tmp_path / "r")]) == 2
    assert "range scanner and a camera" in capsys.readouterr().err
