"""Getting an earthwork rover off what holds it: a bucket push under a slipping leg.

A 66 kg rover with 7 cm under its belly grounds on the ridges and piles its own work
leaves (a spoil pile's flank, a bank dragged back at a trench's end): the belly takes the
weight, the wheels spin, and a wall fix finds it where it was
(:attr:`~lunarsite.robot.control.pilot.Pilot.slips_in_a_row`). An excavator operator's
answer is the bucket: pressed down ahead of the chassis, it lifts the front off the
ground, the rear wheels take the weight back, and the rover backs off. At lunar gravity
the boom's 300 N·m, pressing about 0.9 m ahead of the pivot, outweighs the whole rover's
107 N weight.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from ..control.bucket import dig_angles_rad
from ..control.motions import Straight, ToolsTo
from ..executive.compose import ScriptBody

if TYPE_CHECKING:
    from .earthwork import Earthwork

__all__ = ["unstick"]

log = logging.getLogger(__name__)

PRESS_PITCH_RAD = 0.3
"""Bucket floor pitch while pressing, nose up, in rad: the heel presses, the edge is
clear of the ground and does not cut as the rover backs."""
PRESS_DEPTH_M = 0.05
"""Where the pressing pose puts the edge below the level of the wheels' ground, in m
(the heel ~7 cm lower): the servo stalls on the ground first and pushes at its limit."""
PRESS_S = 4.0
"""Time the boom is given to press, in s (it stalls on the ground: the move times out)."""
BACK_OFF_M = 0.4
"""How far it backs with the bucket pressing, in m."""
BACK_OFF_MPS = 0.1
"""Speed of that back-off, in m/s."""


def unstick(task: Earthwork) -> ScriptBody:
    """Press the bucket down ahead, back off :data:`BACK_OFF_M`, lift the bucket to carry."""
    pilot = task.pilot
    boom, curl = task.tool.joints[0].name, task.tool.joints[1].name
    task.progress.unsticks += 1
    log.warning("slipping at %s: pressing the bucket down and backing off", pilot.pose)
    poses = dataclasses.replace(task.poses, dig_pitch_rad=PRESS_PITCH_RAD)
    press = dig_angles_rad(task.config, task.tool, PRESS_DEPTH_M, poses)
    if press is not None:
        yield ToolsTo(pilot, {boom: press[0], curl: press[1]}, timeout_s=PRESS_S)
    yaw = pilot.pose.yaw_rad
    yield Straight(pilot, -BACK_OFF_M, BACK_OFF_MPS, yaw, timeout_s=3.0 * BACK_OFF_M / BACK_OFF_MPS)
    yield ToolsTo(pilot, task.carry())
    return None
