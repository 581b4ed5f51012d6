"""Bucket kinematics of a rover with a boom and a curling bucket (two joints).

Where the cutting edge is for given joint angles, which angles put it at a depth below
the ground with the bucket floor at a given pitch, and how deep it can cut at all. The
geometry is the rover file's (``tools``: mount, arm length, bucket depth and height), as
the simulator builds it (:class:`lunarsite.sim.rover.SimRover`), on a level chassis over
level ground.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import RoverConfig, ToolConfig
from .pilot import load_pivot_ahead_m

__all__ = [
    "BucketPoses",
    "bucket_edge_m",
    "dig_angles_rad",
    "dig_bucket",
    "edge_hold_gain",
    "max_dig_depth_m",
]


@dataclass(frozen=True, slots=True)
class BucketPoses:
    """Servo poses of a two-joint bucket (boom lift, bucket curl), in rad.

    The bucket's pitch (its floor against horizontal, nose up positive) is boom + curl.
    Defaults suit ``excavator_66kg``: dig with the floor ``dig_pitch_rad`` nose down, carry
    high and tilted back, dump tipped past the soil model's 45° pour angle.
    """

    dig_pitch_rad: float = -0.15
    carry_boom_rad: float = 0.9
    carry_curl_rad: float = 0.5
    dump_boom_rad: float = 0.7
    dump_curl_rad: float = -1.6
    loaded_pivot_ahead_m: float = 0.24
    """Where a turn in place with a full bucket pivots, ahead of the chassis centre, in m:
    a skid-steer pivots about its more heavily loaded axle (Mandow et al. 2007 measure
    such instantaneous centres of rotation on skid-steer robots). Fitted on lunarsite's
    own dig_and_dump runs of ``excavator_66kg``, as a team would calibrate its rover."""
    empty_pivot_ahead_m: float = -0.09
    """Where a turn in place with the bucket empty at its carry pose pivots, in m (behind
    the centre: the batteries load the rear axle). Fitted on 485 turns in place of
    0.5 rad or more with under 0.5 kg in the bucket, trench seeds 0 and 2, two hours
    each: median −0.09 m, quartiles −0.16 and −0.04."""
    pivot_per_kg_m: float = 0.024
    """How far the pivot moves ahead per kilogram in the bucket, in m/kg, up to
    :attr:`loaded_pivot_ahead_m`. The same 921 turns, by load: medians −0.04 m at
    0.5–5 kg, 0.11 m at 5–10 kg, 0.21 m at 10–15 kg, 0.25 m at 15–25 kg."""

    def pivot_ahead_m(self, load_kg: float | None) -> float:
        """Where a turn in place pivots with ``load_kg`` in the bucket, in m (None: the
        load is not known, and a full bucket is assumed)."""
        if load_kg is None:
            return self.loaded_pivot_ahead_m
        return load_pivot_ahead_m(
            self.empty_pivot_ahead_m, self.pivot_per_kg_m, self.loaded_pivot_ahead_m, load_kg
        )


def dig_bucket(config: RoverConfig) -> ToolConfig | None:
    """The rover's first bucket on a boom (kind ``bucket``, two joints), or None."""
    return next((t for t in config.tools if t.kind == "bucket" and len(t.joints) == 2), None)


def _axle_height_m(config: RoverConfig) -> float:
    """Height of the chassis frame above level ground (wheels not sunk), in m."""
    return config.chassis.axle_drop_m + config.wheels.radius_m


def bucket_edge_m(
    config: RoverConfig, tool: ToolConfig, boom_rad: float, curl_rad: float
) -> tuple[float, float]:
    """Where a bucket's cutting edge is on a level chassis on level ground: (distance ahead
    of the chassis centre, height above the ground), in m.

    The arm pitches up by ``boom_rad`` about its mount; the bucket by ``boom + curl``; its
    edge is the front of its floor, ``depth_m`` ahead of and ``height_m / 2`` below the
    bucket's pivot (the geometry :class:`lunarsite.sim.rover.SimRover` builds).
    """
    pitch = boom_rad + curl_rad
    mx, _, mz = tool.mount_xyz_m
    ahead = (
        mx
        + tool.arm_length_m * math.cos(boom_rad)
        + tool.depth_m * math.cos(pitch)
        + 0.5 * tool.height_m * math.sin(pitch)
    )
    up = (
        _axle_height_m(config)
        + mz
        + tool.arm_length_m * math.sin(boom_rad)
        + tool.depth_m * math.sin(pitch)
        - 0.5 * tool.height_m * math.cos(pitch)
    )
    return ahead, up


def edge_hold_gain(
    config: RoverConfig, tool: ToolConfig, boom_rad: float, curl_rad: float
) -> float:
    """Boom raise per radian of nose-down chassis pitch that keeps the edge at its height
    (rad/rad): pitching by δ about the chassis centre lowers the edge by its reach·δ, and
    raising the boom by Δ lifts it by ∂height/∂boom·Δ (the bucket's pitch follows the
    boom). 0 where the boom barely moves the edge up (an arm near vertical)."""
    ahead, _ = bucket_edge_m(config, tool, boom_rad, curl_rad)
    step = 1e-4
    lift = (
        bucket_edge_m(config, tool, boom_rad + step, curl_rad)[1]
        - bucket_edge_m(config, tool, boom_rad - step, curl_rad)[1]
    ) / (2.0 * step)
    return ahead / lift if lift > 0.1 * ahead else 0.0


def dig_angles_rad(
    config: RoverConfig, tool: ToolConfig, depth_m: float, poses: BucketPoses
) -> tuple[float, float] | None:
    """Boom and curl that put the edge ``depth_m`` below the ground with the floor at
    ``poses.dig_pitch_rad``; None when the joints cannot reach it."""
    p = poses.dig_pitch_rad
    _, mz = tool.mount_xyz_m[0], tool.mount_xyz_m[2]
    s = (
        -depth_m
        - _axle_height_m(config)
        - mz
        - tool.depth_m * math.sin(p)
        + 0.5 * tool.height_m * math.cos(p)
    ) / tool.arm_length_m
    if not -1.0 <= s <= 1.0:
        return None
    boom = math.asin(s)
    curl = p - boom
    lift, twist = tool.joints[0], tool.joints[1]
    if not (
        lift.lower_rad <= boom <= lift.upper_rad and twist.lower_rad <= curl <= twist.upper_rad
    ):
        return None
    return boom, curl


def max_dig_depth_m(config: RoverConfig, tool: ToolConfig, poses: BucketPoses) -> float:
    """Deepest cut below level ground with the floor at ``poses.dig_pitch_rad`` (boom at
    its lower limit), in m (≤ 0 when the edge cannot reach the ground)."""
    boom = tool.joints[0].lower_rad
    _, up = bucket_edge_m(config, tool, boom, poses.dig_pitch_rad - boom)
    return -up
