"""Two rovers in one world, one loop: the world steps once per control tick for both, each
rover runs its own skill on its own estimate, and both arrive."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.waypoints import FollowerParams
from lunarsite.robot.executive import Agent, ControlLoop, TickInfo
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.tasks.waypoints import DriveToWaypoints
from lunarsite.robot.types import Pose2
from lunarsite.sim.world import LunarWorld, SimConfig
from tests.sim.conftest import flat_terrain

HZ = 20


@pytest.mark.slow
def test_two_rovers_cross_paths_in_one_world_and_both_arrive(excavator: RoverConfig) -> None:
    # A drives east at 0.3 m/s across the middle; B drives north at 0.1 m/s across A's
    # route: their routes cross at (6, 6), B reaching it long after A has passed.
    routes = {
        "a": (Pose2(1.5, 6.0, 0.0), [(6.0, 6.0), (10.5, 6.0)], 0.3),
        "b": (Pose2(6.0, 1.5, math.pi / 2), [(6.0, 6.0), (6.0, 10.5)], 0.1),
    }
    cfg = SimConfig(physics_hz=240, control_hz=HZ)
    with LunarWorld(flat_terrain(12.0, 0.1), cfg) as world:
        agents, skills, rovers = [], {}, {}
        for k, (name, (start, wps, speed)) in enumerate(routes.items()):
            rover = world.add_rover(excavator, start, rng=np.random.default_rng(k))
            rover.configure()
            rover.activate()
            params = FollowerParams.for_rover(
                excavator, cruise_speed_mps=speed, arrival_tolerance_m=0.1
            )
            skills[name] = DriveToWaypoints(
                params, DeadReckoning(excavator, start), wps, control_hz=HZ
            )
            rovers[name] = rover
            agents.append(Agent(rover, skills[name], name))
        steps0 = world.step_count
        touching: list[float] = []
        moved_together = []

        def watch(tick: TickInfo) -> None:
            a, b = rovers["a"], rovers["b"]
            if world.client.getContactPoints(bodyA=a.body, bodyB=b.body):
                touching.append(tick.stamp_s)
            if tick.agent == 1:
                pa, pb = (world.truth.rover_pose(r) for r in (a, b))
                moved_together.append((pa.x_m - routes["a"][0].x_m, pb.y_m - routes["b"][0].y_m))

        result = ControlLoop(agents, rate_hz=HZ, time_limit_s=150.0, on_tick=watch).run()
        ends = {name: world.truth.rover_pose(r) for name, r in rovers.items()}
        steps = world.step_count - steps0
    assert [r.succeeded for r in result.results] == [True, True], result.results
    for name, (_, wps, _) in routes.items():
        gx, gy = wps[-1]
        assert math.hypot(ends[name].x_m - gx, ends[name].y_m - gy) < 0.3, name
        assert [a.index for a in skills[name].arrivals] == [0, 1]
    assert touching == []
    # One world, stepped once per tick for both: physics steps = ticks × 240 / 20.
    assert steps == (result.ticks - 1) * (240 // HZ)  # no wait after the last tick
    # They drove at the same time: 10 s in, each had covered most of 10 s at its speed.
    dx, dy = moved_together[10 * HZ]
    assert dx > 0.5 * 0.3 * 10 and dy > 0.5 * 0.1 * 10
