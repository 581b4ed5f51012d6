"""Navigation by the rover's own sensing: read → localize → map → plan → follow.

:class:`~.navigator.Navigator` is one rover's navigation stack, kept across goals: wheel
odometry and the IMU every cycle (:class:`~lunarsite.robot.perception.localization.
Localizer`), ArUco fiducials in camera frames at ``camera_hz`` (surveyed markers →
:func:`~lunarsite.robot.perception.fiducials.landmark_fix`), range scans at ``map_hz``
into an :class:`~lunarsite.robot.perception.mapping.ElevationMap`, a costmap rebuilt from
it, a :class:`~lunarsite.robot.planning.planner.Replanner` and a
:class:`~lunarsite.robot.control.pathfollow.PathFollower`. Driving to one goal is the
skill :class:`~.goal.NavigateToGoal`, whose phases (:class:`~.goal.NavPhase`) are:
planning, following (or approaching a goal lethal on the map), nudging, facing a marker,
backing off. Parameters: :class:`~.params.NavigatorParams`.

Keeping the estimate good: each marker sighting gives a range-bearing fix (range from
the camera's depth image where it has one) and a heading fix from the face of the
marker's depth plane (``use_depth_yaw``); frames taken while turning faster than
``max_fix_yaw_rate_radps`` are not used. With no recent fix near a goal, or too uncertain
on the way, the rover stops and turns to face the surveyed marker quickest to face and
best to see (:meth:`~.navigator.Navigator.marker_to_face`). Arrived by its estimate
without a fresh, sure fix, it faces a marker (and, with ``confirm_separation_rad``, a
second well round from it) and calls the goal reached if the corrected estimate lies
within the mission's ``goal_tolerance_m`` by ``check_sigmas`` stds, rather than turn in
place again (a skid-steer turn slides the body where the encoders do not see it);
otherwise it drives the rest, straight forward or backward when it is short and clear
(``nudge_max_m``), and checks again, up to ``max_arrival_checks`` times. A marker seen
again from the same place is not fused again: it is the same measurement. An estimate
that drifted off the map plans from the map's edge and relocalizes. A goal lethal on the
rover's map is first approached to within ``approach_radius_m`` and planned to again from
there.

Getting unstuck: a facing turn that stalls, or no progress toward the goal for
``stuck_time_s`` (wheels turning against a rock the map missed, fixes pulling the
estimate back), backs the rover off ``backoff_m``; when stuck, the ground just ahead is
kept out of from then on and the rover replans. Should those zones leave no path (a rover
stuck several times in one spot walls itself in), they are forgotten; should the map
itself leave none, its cells around the rover and the goal are forgotten once per goal
and scanned afresh (``forget_radius_m``).

Several goals in turn: :class:`lunarsite.robot.tasks.navigate.NavigateGoals`.
"""

from .goal import NavigateToGoal
from .navigator import Navigator
from .params import NavigatorParams
from .phases import FacingPurpose, GoalResult, NavPhase
from .sensing import CameraSource, MapSource

__all__ = [
    "CameraSource",
    "FacingPurpose",
    "GoalResult",
    "MapSource",
    "NavPhase",
    "NavigateToGoal",
    "Navigator",
    "NavigatorParams",
]
