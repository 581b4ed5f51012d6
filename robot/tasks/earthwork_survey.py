"""A survey round of an earthwork rover: where it stands, what each frame adds.

:func:`survey_round` is the script the :class:`~.earthwork.Earthwork` task runs before
its first plan and after every round of hauls: it stands at each pose of the route
(:func:`survey_route`), lowers the bucket out of the camera's view, and adds one depth
frame (:func:`take_frame`) to a round of the task's
:class:`~lunarsite.robot.perception.site_survey.SiteSurvey`.

The route rings the designs, with end-on poses for each trench (looking along it, where
its floor is not hidden behind its near wall), and the borrow and spoil boxes the last
plan used (the first round covers them all; a box no plan digs or fills is not surveyed
again until one does).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from ..control.motions import Hold, ToolsTo
from ..executive.compose import ScriptBody
from ..perception.points import camera_points, points_to_site
from ..perception.site_survey import (
    clear_of_edges,
    end_on_poses,
    insert_poses,
    survey_poses,
)
from ..site.design import Trench, bounds_xy_m
from ..types import Pose2

if TYPE_CHECKING:
    from .earthwork import Earthwork

__all__ = [
    "LOOK_EDGE_HEIGHT_M",
    "survey_bounds",
    "survey_round",
    "survey_route",
    "take_frame",
]

log = logging.getLogger(__name__)

LOOK_EDGE_HEIGHT_M = 0.08
"""Where the bucket's edge is held above the ground while a survey frame is taken, m."""
SURVEY_TOLERANCE_M = 0.3
"""How near a survey pose, in m (a frame is placed with the fixed pose wherever it is)."""
SETTLE_BEFORE_FRAME_S = 0.5
"""Standing time before a survey frame, so the chassis has stopped rocking, in s."""


def survey_round(task: Earthwork) -> ScriptBody:
    """One survey round (see the module docstring); the task's latest survey after it."""
    st, pilot = task.progress, task.pilot
    st.phase = f"survey {st.rounds + 1}"
    task.survey.begin()
    for pose in survey_route(task, survey_bounds(task)):
        yield ToolsTo(pilot, task.carry())
        yield from task.go(pose.x_m, pose.y_m, pose.yaw_rad, SURVEY_TOLERANCE_M)
        if pilot.stuck:
            break  # the round ends with what it saw; the task ends stuck
        yield ToolsTo(pilot, task.look)
        yield Hold(pilot, SETTLE_BEFORE_FRAME_S)
        take_frame(task)
    yield ToolsTo(pilot, task.carry())
    st.survey_m, _ = task.survey.finish()
    task.expected = None
    st.rounds += 1
    return None


def survey_bounds(task: Earthwork) -> tuple[float, float, float, float]:
    """What a round covers (x_min, x_max, y_min, y_max, m): the designs, and the borrow
    and spoil boxes in :attr:`~.earthwork.Earthwork.zones_in_use` (the hauls dig and
    dump there too)."""
    p, g = task.params, task.params.grid
    pts = [pt for d in p.designs for pt in d.outline_xy_m()]
    zones = {"borrow": p.borrow_mask, "spoil": p.spoil_mask}
    for kind, mask in zones.items():
        if mask is not None and mask.any() and kind in task.zones_in_use:
            rows, cols = np.nonzero(mask)
            pts += [
                (float(g.x_coords_m[cols.min()]), float(g.y_coords_m[rows.min()])),
                (float(g.x_coords_m[cols.max()]), float(g.y_coords_m[rows.max()])),
            ]
    return bounds_xy_m(pts)


def survey_route(task: Earthwork, bounds: tuple[float, float, float, float]) -> list[Pose2]:
    """Survey poses round ``bounds`` (x_min, x_max, y_min, y_max, m), and end-on poses
    for each trench inserted where they lengthen the tour least, each kept clear of the
    site's edges."""
    p, size = task.params, task.site_size_m
    clearance = task.stations.clearance_m
    ring = survey_poses(bounds, p.survey_standoff_m, size, clearance, view_m=p.survey.max_range_m)
    extra = []
    for d in p.designs:
        if isinstance(d, Trench):
            ends = end_on_poses(d.polyline_xy_m, p.survey_standoff_m)
            extra += [clear_of_edges(pose, size, clearance) for pose in ends]
    return insert_poses(ring, extra)


def take_frame(task: Earthwork) -> None:
    """Add one depth frame, placed with the estimated pose, the tilt at rest and the
    surveyed ground under the chassis, to the survey round being taken."""
    frame = task.camera()
    pts = camera_points(frame, task.mount, max_depth_m=task.params.survey.max_range_m, stride=1)
    pts = pts[~task.body.contains(pts)]
    roll, pitch = task.tilt()
    pose = task.pilot.pose
    z = task.ground_under(pose.x_m, pose.y_m) + task.ride_m
    site = points_to_site(pts, pose, z, roll, pitch)
    if not task.survey.add_points(site, (pose.x_m, pose.y_m)):
        log.warning("survey frame at %s could not be registered; left out", pose)
