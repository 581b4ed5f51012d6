"""Standing so that a unit held off the jaws' middle goes down on its target."""

from __future__ import annotations

import math

import pytest

from lunarsite.robot.site.modules import Placement
from lunarsite.robot.tasks.clamp_moves import stand_for
from lunarsite.robot.types import wrap_angle


@pytest.mark.parametrize(
    ("held", "heading"),
    [
        ((1.0, 0.0, 0.0), 0.0),
        ((1.012, -0.008, 0.02), 0.0),
        ((0.985, 0.015, -0.03), 0.5 * math.pi),
        ((1.003, 0.004, 0.01), -2.5),
    ],
)
def test_the_unit_in_the_jaws_lands_on_its_target(
    held: tuple[float, float, float], heading: float
) -> None:
    target = Placement("a", "paver_tile", 6.0, 3.0, heading)
    stand, h, pre = stand_for(held, target, heading, 0.76)
    # Carry the unit from that stand: it sits ``ahead`` along and ``left`` across the
    # rover's heading, turned ``turn`` from it.
    ahead, left, turn = held
    x = stand[0] + ahead * math.cos(h) + left * math.cos(h + 0.5 * math.pi)
    y = stand[1] + ahead * math.sin(h) + left * math.sin(h + 0.5 * math.pi)
    assert (x, y) == pytest.approx((6.0, 3.0), abs=1e-9)
    assert wrap_angle(h + turn - heading) == pytest.approx(0.0, abs=1e-9)
    # The pre-approach pose is the run-in behind the stand, on the line of approach.
    assert math.dist(pre, stand) == pytest.approx(0.76)
    assert math.atan2(stand[1] - pre[1], stand[0] - pre[0]) == pytest.approx(
        wrap_angle(h), abs=1e-9
    )
