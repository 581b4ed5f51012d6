"""The check after a set-down: what the rover's camera saw against the design's tolerance."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from lunarsite.robot.perception.unit_sighting import UnitSighting
from lunarsite.robot.planning.assembly import AssemblyPlan, AssemblyStep, DepotSlot
from lunarsite.robot.site.modules import Placement
from lunarsite.robot.tasks.placement import PlacementProgress
from lunarsite.robot.tasks.placement_checks import check, seen_errors, verdict
from lunarsite.robot.types import Pose2
from tests.robot.test_assembly import PAVER
from tests.robot.test_clamp_moves import _params

DESIGN = Placement("r0", "paver_tile", 5.65, 3.5, 0.0)
STEP = AssemblyStep(
    placement=DESIGN,
    slot=DepotSlot("d0", "paver_tile", 2.2, 1.4),
    pick=Pose2(1.2, 1.4, 0.0),
    place=Pose2(4.65, 3.5, 0.0),
    after=(),
    pick_pre_xy_m=(0.5, 1.4),
    place_pre_xy_m=(3.9, 3.5),
)


def _task_seeing(dx_m: float, dy_m: float, dyaw_rad: float) -> Any:
    """A stand-in task whose camera sees the unit that far from its design."""

    def sighted(
        unit_id: str, module: Any, stand: Any, heading: float, pre: Any
    ) -> Generator[Any, Any, Any]:
        seen = UnitSighting(
            "d0", DESIGN.x_m + dx_m, DESIGN.y_m + dy_m, DESIGN.yaw_rad + dyaw_rad, 30, 1.75, 12.5
        )
        return (stand, heading, pre, seen)
        yield  # a generator, as the real one is

    params = replace(
        _params(),
        plan=AssemblyPlan((STEP,), (), (1.0, 1.0)),
        tolerance_m=0.02,
        tolerance_yaw_rad=math.radians(1.0),
    )
    return SimpleNamespace(
        moves=SimpleNamespace(sighted=sighted, scanner=None),
        progress=PlacementProgress(),
        params=params,
    )


def _check(task: Any) -> Any:
    gen = check(task, STEP, PAVER)
    with pytest.raises(StopIteration) as done:
        next(gen)
    return done.value.value


@pytest.mark.parametrize(
    ("dx_m", "dy_m", "dyaw_deg", "again"),
    [
        (0.006, -0.008, 0.3, False),  # 1.0 cm, 0.3°: well within 2 cm and 1°
        (0.013, 0.009, 0.0, True),  # 1.6 cm: inside the tolerance, not by the camera's error
        (0.0, 0.0, 0.9, True),  # 0.9°: likewise
        (0.0, 0.03, 0.0, True),  # 3 cm: outside
        (0.0, 0.0, -1.4, True),
    ],
)
def test_a_unit_is_set_down_again_unless_seen_inside_the_tolerance_by_the_cameras_error(
    dx_m: float, dy_m: float, dyaw_deg: float, again: bool
) -> None:
    task = _task_seeing(dx_m, dy_m, math.radians(dyaw_deg))
    assert (_check(task) is not None) == again
    # Whatever the decision, what was seen is kept for the verdict, with when.
    off_m, off_rad = seen_errors(task)["r0"]
    assert off_m == pytest.approx(math.hypot(dx_m, dy_m), abs=1e-9)
    assert off_rad == pytest.approx(abs(math.radians(dyaw_deg)), abs=1e-9)
    assert task.progress.seen_stamp_s["r0"] == 12.5
    assert task.progress.phase == "r0: checking it by camera"


@pytest.mark.parametrize(
    ("dx_m", "dyaw_deg", "looked", "sighted", "succeeded", "words"),
    [
        (0.017, 0.9, True, True, True, "1 units placed"),  # set down again if it could be
        (0.021, 0.0, True, True, False, "seen off the design: r0 (2.1 cm, 0.0°)"),
        (0.0, -1.05, True, True, False, "seen off the design: r0 (0.0 cm, 1.1°)"),
        (0.0, 0.0, False, True, False, "not seen at a check: r0"),  # cannot vouch for it
        (0.0, 0.0, False, False, True, "1 units placed"),  # a blind rover: no checks at all
    ],
)
def test_the_verdict_is_the_designs_own_tolerance_on_what_was_seen(
    dx_m: float, dyaw_deg: float, looked: bool, sighted: bool, succeeded: bool, words: str
) -> None:
    task = _task_seeing(dx_m, 0.0, math.radians(dyaw_deg))
    if looked:
        _check(task)
    task.progress.placed.append("r0")
    result = verdict(task, sighted=sighted)
    assert result.succeeded == succeeded
    assert words in result.reason


def test_the_rover_fixes_on_the_walls_before_it_looks() -> None:
    # It backed out from the stand by odometry since its last fix.
    task = _task_seeing(0.0, 0.0, 0.0)
    calls: list[str] = []
    sighted = task.moves.sighted

    def fix(where: Any) -> Generator[Any, Any, bool]:
        calls.append(f"fix at {where}")
        return True
        yield

    def look(*args: Any) -> Generator[Any, Any, Any]:
        calls.append("look")
        return (yield from sighted(*args))

    task.moves = SimpleNamespace(sighted=look, fix=fix, scanner=object())
    assert _check(task) is None
    assert calls == [f"fix at {STEP.place_pre_xy_m}", "look"]
