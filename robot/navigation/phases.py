"""The phases of driving to a goal, and what each phase remembers.

:class:`~.goal.NavigateToGoal` is always in one :class:`NavPhase`. Facing a marker keeps a
:class:`Facing` (which marker, why, since when, which fixes it came for); backing off
keeps a :class:`Backoff` (from where, since when); the no-progress watch keeps a
:class:`ProgressWatch`. A goal ends with a :class:`GoalResult`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from ..executive.skill import ActionResult
from ..perception.fiducials import SurveyedMarker
from ..types import Pose2

__all__ = [
    "Backoff",
    "Facing",
    "FacingPurpose",
    "GoalResult",
    "NavPhase",
    "ProgressWatch",
]


class NavPhase(enum.Enum):
    PLANNING = "planning"
    FOLLOWING = "following"
    APPROACHING = "approaching"
    NUDGING = "nudging"
    FACING = "facing"
    BACKING_OFF = "backing_off"


class FacingPurpose(enum.Enum):
    RELOCALIZE = "relocalize"
    """On the way, or near the goal: a fix before driving on."""
    ARRIVAL_CHECK = "arrival_check"
    """Arrived by the estimate without a fresh fix: check before calling it reached."""
    CONFIRM = "confirm"
    """A second marker well round from the first (``confirm_separation_rad``)."""


@dataclass(frozen=True, slots=True)
class GoalResult:
    """How one goal ended, by the rover's own account."""

    index: int
    goal_xy_m: tuple[float, float]
    result: ActionResult
    elapsed_s: float
    final_estimate: Pose2
    estimate_std: tuple[float, float, float]
    distance_m: float
    """Ground distance driven for this goal (odometry), in m."""
    plans: int
    fixes: int
    """Fiducial fixes accepted during this goal."""


@dataclass
class Facing:
    """Turning to a marker and waiting for its fix."""

    marker: SurveyedMarker
    purpose: FacingPurpose
    since_s: float
    fixes_at_start: int
    faced_since_s: float = math.inf
    """When the marker came within ``face_tolerance_rad`` (inf: not yet)."""
    then: SurveyedMarker | None = None
    """A second marker to face after this one (an arrival check's confirmation)."""


@dataclass
class Backoff:
    """Backing straight up from ``from_xy_m`` (since ``since_s``) for ``distance_m``."""

    from_xy_m: tuple[float, float]
    since_s: float
    distance_m: float


@dataclass
class ProgressWatch:
    """The no-progress watch: the best distance to the goal and where it was set."""

    best_dist_m: float
    best_since_s: float
    anchor_xy_m: tuple[float, float]
