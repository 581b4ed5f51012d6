"""``steps``: drive, turn, tool, gripper and wait steps in order, for a lab rover.

The task is :class:`~lunarsite.robot.tasks.steps.Steps`, closed-loop on the rover's own
dead reckoning. It is judged as a physical rover on a bench is, on its own estimate
against the plan (each drive step's end, and the end of the run); a simulated run also
reports the true errors.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from lunarsite.robot.config import Positive, RoverConfig, StrictModel
from lunarsite.robot.tasks.steps import (
    AnyStep,
    JointStep,
    Steps,
    expected_poses,
)
from lunarsite.robot.tasks.steps import (
    DriveStep as DriveValue,
)
from lunarsite.robot.tasks.steps import (
    TurnStep as TurnValue,
)
from lunarsite.robot.tasks.steps import (
    WaitStep as WaitValue,
)
from lunarsite.robot.types import Pose2

from ..fields import CommonAcceptance, over_limit
from ..files import Problem
from .base import Judgement, MissionKind, RunRecord, RunSetup, ScenarioView

if TYPE_CHECKING:
    from ..schema import LoadedScenario

__all__ = ["MISSION", "StepsAcceptance", "StepsMission", "robot_steps"]

# Tags carry brackets so that error locations read ``mission.steps[2].speed_mps``
# (``files._clean_loc`` drops bracketed parts).


class DriveStep(StrictModel):
    """Drive straight ``distance_m`` (negative: backwards) at ``speed_mps``."""

    kind: Literal["drive"]
    distance_m: Annotated[float, Field(allow_inf_nan=False)]
    speed_mps: Positive


class TurnStep(StrictModel):
    """Turn in place by ``angle_rad`` (positive: counter-clockwise) at ``yaw_rate_radps``."""

    kind: Literal["turn"]
    angle_rad: Annotated[float, Field(allow_inf_nan=False)]
    yaw_rate_radps: Positive


class ToolStep(StrictModel):
    """Move a tool joint to ``position_rad``; ``joint`` defaults to the first tool joint."""

    kind: Literal["tool"]
    position_rad: Annotated[float, Field(allow_inf_nan=False)]
    joint: str | None = None


class GripperStep(StrictModel):
    """Move the gripper jaw to ``position_rad``."""

    kind: Literal["gripper"]
    position_rad: Annotated[float, Field(allow_inf_nan=False)]


class WaitStep(StrictModel):
    """Hold still for ``duration_s``."""

    kind: Literal["wait"]
    duration_s: Positive


def _kind_tag(kinds: tuple[str, ...]) -> Any:
    def tag(value: Any) -> str | None:
        kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
        return f"[{kind}]" if kind in kinds else None

    return tag


_STEP_KINDS = ("drive", "turn", "tool", "gripper", "wait")
Step = Annotated[
    Annotated[DriveStep, Tag("[drive]")]
    | Annotated[TurnStep, Tag("[turn]")]
    | Annotated[ToolStep, Tag("[tool]")]
    | Annotated[GripperStep, Tag("[gripper]")]
    | Annotated[WaitStep, Tag("[wait]")],
    Discriminator(
        _kind_tag(_STEP_KINDS),
        custom_error_type="step_kind",
        custom_error_message="kind must be one of: " + ", ".join(_STEP_KINDS),
    ),
]


class StepsMission(StrictModel):
    """Drive, turn, tool, gripper and wait steps in order."""

    kind: Literal["steps"]
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]
    control_hz: Positive = 20.0
    """Rate of the control loop that runs the steps, in Hz."""


class StepsAcceptance(CommonAcceptance):
    max_waypoint_error_m: Positive | None = None
    """Each drive step's end from the plan, by the rover's own estimate, in m."""
    max_final_error_m: Positive | None = None
    """The end of the run from the plan, by the rover's own estimate, in m."""


def _joint_of(rover: RoverConfig, step: ToolStep | GripperStep) -> str | None:
    kinds = ("gripper",) if isinstance(step, GripperStep) else ("scoop", "bucket")
    if isinstance(step, ToolStep) and step.joint is not None:
        return step.joint
    return next((t.joints[0].name for t in rover.tools if t.kind in kinds), None)


def robot_steps(mission: StepsMission, rover: RoverConfig) -> list[AnyStep]:
    """The controller's value types for a checked steps block."""
    out: list[AnyStep] = []
    for step in mission.steps:
        if isinstance(step, DriveStep):
            out.append(DriveValue(step.distance_m, step.speed_mps))
        elif isinstance(step, TurnStep):
            out.append(TurnValue(step.angle_rad, step.yaw_rate_radps))
        elif isinstance(step, WaitStep):
            out.append(WaitValue(step.duration_s))
        else:
            name = _joint_of(rover, step)
            assert name is not None, "checked by check()"
            out.append(JointStep(name, step.position_rad, kind=step.kind))
    return out


class StepsKind(MissionKind):
    kind = "steps"
    schema = StepsMission
    acceptance = StepsAcceptance

    def check(self, view: ScenarioView) -> list[Problem]:
        mission: StepsMission = view.mission
        rover, size = view.rover, view.site_size_m
        problems: list[Problem] = []
        start = Pose2(*view.start_xy_m, view.start_yaw_rad)
        poses = expected_poses(robot_steps_unchecked(mission), start)
        d = rover.drive
        for i, step in enumerate(mission.steps):
            at = ("mission", "steps", i)
            if isinstance(step, DriveStep):
                if step.distance_m == 0.0:
                    problems.append(((*at, "distance_m"), "must not be zero"))
                problems += over_limit(
                    step.speed_mps,
                    d.max_speed_mps,
                    (*at, "speed_mps"),
                    "m/s",
                    "drive.max_speed_mps",
                )
                p = poses[i]
                if size is not None and not (0.0 <= p.x_m <= size[0] and 0.0 <= p.y_m <= size[1]):
                    problems.append(
                        (
                            at,
                            f"ends at ({p.x_m:.2f}, {p.y_m:.2f}) m, outside the site "
                            f"(0..{size[0]:g} × 0..{size[1]:g} m)",
                        )
                    )
            elif isinstance(step, TurnStep):
                if step.angle_rad == 0.0:
                    problems.append(((*at, "angle_rad"), "must not be zero"))
                problems += over_limit(
                    step.yaw_rate_radps,
                    d.max_yaw_rate_radps,
                    (*at, "yaw_rate_radps"),
                    "rad/s",
                    "drive.max_yaw_rate_radps",
                )
            elif isinstance(step, ToolStep | GripperStep):
                problems += _joint_problems(rover, step, at)
        return problems

    def summary(self, mission: Any) -> str:
        return f"{len(mission.steps)} steps"

    def refuse(self, scenario: LoadedScenario, backend: str) -> str | None:
        sim = scenario.config.sim
        rate = scenario.mission.control_hz
        if backend == "sim" and abs(sim.physics_hz / rate - round(sim.physics_hz / rate)) > 1e-9:
            return (
                f"mission.control_hz ({rate:g} Hz) does not divide sim.physics_hz "
                f"({sim.physics_hz} Hz): the simulator steps whole physics steps"
            )
        return None

    def build(self, setup: RunSetup) -> Steps:
        rover = setup.scenario.rover
        return Steps(rover, robot_steps(setup.scenario.mission, rover), setup.start)

    def judge(self, run: RunRecord) -> Judgement:
        acc: StepsAcceptance = run.setup.scenario.acceptance
        task = run.task
        assert isinstance(task, Steps)
        results = task.results
        done = len(results) == len(task.steps) and all(r.result.succeeded for r in results)
        final = results[-1].error_m if done else math.nan
        drive_errors = [r.error_m for r in results if r.kind == "drive" and r.result.succeeded]
        checks = {"all_steps_done": done}
        if acc.max_waypoint_error_m is not None:
            checks["step_error"] = done and all(e <= acc.max_waypoint_error_m for e in drive_errors)
        if acc.max_final_error_m is not None:
            checks["final_error"] = done and final <= acc.max_final_error_m
        data: dict[str, Any] = {
            "steps": [
                {
                    "index": r.index,
                    "kind": r.kind,
                    "status": r.result.status.value,
                    "reason": r.result.reason,
                    "duration_s": round(r.duration_s, 3),
                    "error_m": None if math.isnan(r.error_m) else round(r.error_m, 4),
                }
                for r in results
            ],
            "steps_done": sum(1 for r in results if r.result.succeeded),
            "final_error_m": None if math.isnan(final) else round(final, 4),
        }
        if run.has_truth and run.true_xyzyaw:
            x, y, _, _ = run.true_xyzyaw[-1]
            plan = task.planned[-1]
            data["final_true_error_m"] = round(math.hypot(x - plan.x_m, y - plan.y_m), 4)
        lines = (
            f"steps done {data['steps_done']}/{len(task.steps)}; final position "
            + (f"{final:.3f} m" if done else "n/a")
            + " from the plan (the rover's own odometry)",
        )
        return Judgement(checks, data, lines)


def robot_steps_unchecked(mission: StepsMission) -> list[AnyStep]:
    """Drive and turn steps as values (joint steps as waits): for planning poses only."""
    out: list[AnyStep] = []
    for step in mission.steps:
        if isinstance(step, DriveStep):
            out.append(DriveValue(step.distance_m, step.speed_mps))
        elif isinstance(step, TurnStep):
            out.append(TurnValue(step.angle_rad, step.yaw_rate_radps))
        else:
            out.append(WaitValue(1.0))
    return out


def _joint_problems(
    rover: RoverConfig, step: ToolStep | GripperStep, at: tuple[int | str, ...]
) -> list[Problem]:
    name = _joint_of(rover, step)
    what = "gripper" if isinstance(step, GripperStep) else "scoop or bucket"
    if name is None:
        return [(at, f"rover {rover.name!r} has no {what}")]
    if name not in rover.joint_names:
        known = ", ".join(rover.joint_names) or "none"
        return [((*at, "joint"), f"rover has no joint {name!r} (has: {known})")]
    j = rover.joint(name)
    if not j.lower_rad <= step.position_rad <= j.upper_rad:
        return [
            (
                (*at, "position_rad"),
                f"{step.position_rad:g} rad is outside joint {name!r} limits "
                f"[{j.lower_rad:g}, {j.upper_rad:g}]",
            )
        ]
    return []


MISSION = StepsKind()
