"""Navigation closed in the simulator: range scans, beacons, boulders in the way."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.executive import ActionStatus, Agent, ControlLoop, TickInfo
from lunarsite.robot.navigation import Navigator, NavigatorParams
from lunarsite.robot.perception.fiducials import SurveyedMarker
from lunarsite.robot.perception.localization import LocalizationParams, Localizer
from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.tasks.navigate import NavigateGoals
from lunarsite.robot.types import Pose2, RoverCommand
from lunarsite.sim.beacons import add_beacons
from lunarsite.sim.rangefinder import Rangefinder, RangefinderConfig
from lunarsite.sim.world import LunarWorld, SimConfig
from tests.sim.conftest import flat_terrain

START = Pose2(2.0, 6.0, 0.0)
GOAL = (10.0, 6.2)
BOULDERS = ((5.5, 6.0, 0.25), (8.0, 5.0, 0.2), (7.5, 7.6, 0.2))  # x, y, half size (m)


@pytest.mark.slow
def test_excavator_drives_round_unseen_boulders_to_a_goal(excavator: RoverConfig) -> None:
    # The shipped excavator's camera (0.25 m up, 20° down) sees mostly its own bucket;
    # navigation wants it on the mast, looking out.
    assert excavator.camera is not None
    cfg = excavator.model_copy(
        update={
            "camera": excavator.camera.model_copy(
                update={"mount_xyz_m": (0.2, 0.0, 0.7), "mount_pitch_rad": 0.25}
            )
        }
    )
    world = LunarWorld(flat_terrain(12.0, 0.1), SimConfig(render_camera=True))
    with world:
        c = world.client
        boulders = []
        for x, y, half in BOULDERS:
            shape = c.createCollisionShape(pb.GEOM_BOX, halfExtents=[half, half, 0.15])
            boulders.append(
                c.createMultiBody(
                    baseMass=0.0, baseCollisionShapeIndex=shape, basePosition=[x, y, 0.15]
                )
            )
        markers = [
            SurveyedMarker(1, 6.0, 8.5, 0.4, math.radians(-150.0), 0.2),
            SurveyedMarker(2, 11.6, 5.2, 0.4, math.pi, 0.2),
        ]
        add_beacons(world, markers)
        rover = world.add_rover(cfg, START, rng=np.random.default_rng(0))
        rover.configure()
        rover.activate()
        rover.write(RoverCommand(tool_targets_rad={"boom_lift": -0.1, "bucket_curl": 1.2}))
        world.clock.sleep_s(2.0)
        scanner = Rangefinder(
            world, rover, RangefinderConfig((0.0, 0.0, 0.8)), rng=np.random.default_rng(1)
        )
        loc = Localizer(LocalizationParams.for_rover(cfg), START, (0.03, 0.03, 0.02))
        emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, world.terrain.shape))
        params = NavigatorParams.for_rover(cfg, 20.0, goal_time_limit_s=120.0)
        nav = Navigator(
            cfg,
            loc,
            params,
            emap,
            map_source=scanner.scan,
            camera=rover.read_camera,
            markers=markers,
        )
        touched: set[int] = set()
        trail: list[tuple[float, float]] = []

        def watch(_: TickInfo) -> None:
            touched.update(
                cp[2] for cp in c.getContactPoints(bodyA=rover.body) if cp[2] in boulders
            )
            p = world.truth.rover_pose(rover)
            trail.append((p.x_m, p.y_m))

        task = NavigateGoals(nav, [GOAL])
        ControlLoop([Agent(rover, task)], rate_hz=20.0, on_tick=watch).run()
        result = task.outcome
        truth = world.truth.rover_pose(rover)
    (goal,) = result.goals
    assert goal.result.status is ActionStatus.SUCCEEDED, goal
    assert math.hypot(truth.x_m - GOAL[0], truth.y_m - GOAL[1]) < 0.3
    est = goal.final_estimate
    assert math.hypot(est.x_m - truth.x_m, est.y_m - truth.y_m) < 0.1
    assert not touched
    assert goal.fixes > 0
    assert goal.plans >= 2  # the boulder came into view and the path changed
    xy = np.array(trail)
    assert np.min(np.hypot(xy[:, 0] - 5.5, xy[:, 1] - 6.0)) > 0.5  # went round it
