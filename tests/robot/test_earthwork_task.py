"""The earthwork task on the mock rover, with a depth camera that sees a known plane.

The mock has no soil, so nothing it digs changes the ground: a design the ground already
meets must end the task at once, from the rover's own survey; one it cannot change must
end it ``execution_failed`` after its rounds, having hauled in between."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.bucket import bucket_edge_m
from lunarsite.robot.executive import Agent, ControlLoop
from lunarsite.robot.executive.compose import Script
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.fiducials import CameraMount
from lunarsite.robot.perception.points import chassis_rotation
from lunarsite.robot.planning.earthwork import EarthworkParams
from lunarsite.robot.site.design import LevelPad
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.tasks.earthwork import Earthwork, EarthworkTaskParams
from lunarsite.robot.tasks.earthwork_survey import survey_bounds
from lunarsite.robot.types import CameraFrame, Pose2, wrap_angle
from tests.robot.conftest import Sensing, walls_seen_by

SITE = (12.0, 10.0)
HZ = 20.0
GROUND_Z = 0.0


def plane_camera(  # type: ignore[no-untyped-def]
    rover: MockRover, config: RoverConfig, blind_north_of_m: float = math.inf
):
    """Depth frames of the level ground z = 0 seen from the mock's true pose (ray casting);
    ground north of ``blind_north_of_m`` is never seen (no depth there)."""
    cam = config.camera
    assert cam is not None
    mount = CameraMount.from_config(cam)
    h, w = cam.height_px, cam.width_px
    f = 0.5 * h / math.tan(0.5 * cam.vertical_fov_rad)
    v, u = np.mgrid[0:h, 0:w]
    rays_cam = np.stack([(u - 0.5 * (w - 1)) / f, (v - 0.5 * (h - 1)) / f, np.ones((h, w))], -1)
    ride = config.chassis.axle_drop_m + config.wheels.radius_m

    def take() -> CameraFrame:
        p = rover.true_pose
        rot = chassis_rotation(p.yaw_rad, 0.0, 0.0) @ mount.rotation_chassis_camera()
        origin = chassis_rotation(p.yaw_rad, 0.0, 0.0) @ np.asarray(mount.xyz_m)
        origin = origin + np.array([p.x_m, p.y_m, GROUND_Z + ride])
        d = rays_cam @ rot.T
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (GROUND_Z - origin[2]) / d[..., 2]
        hit_y = origin[1] + t * d[..., 1]
        seen = (t > 0) & np.isfinite(t) & (hit_y <= blind_north_of_m)
        depth = np.where(seen, t, np.inf).astype(np.float32)
        return CameraFrame(0.0, np.zeros((h, w, 3), np.uint8), depth, cam.vertical_fov_rad)

    return take


def _task(
    config: RoverConfig,
    pad_level_m: float,
    rounds: int,
    rover_type: type[MockRover] = MockRover,
    with_scanner: bool = False,
    blind_north_of_m: float = math.inf,
    borrow_south_of_m: float | None = None,
    start: Pose2 | None = None,
) -> tuple[MockRover, Earthwork]:
    start = start or Pose2(1.8, 1.8, 0.0)
    rover = rover_type(config, ManualClock(), start)
    rover.configure()
    rover.activate()
    grid = GridSpec.covering((2.0, 2.0), (8.0, 8.0), 0.05)
    bucket = next(t for t in config.tools if t.kind == "bucket")
    params = EarthworkTaskParams(
        designs=(LevelPad("pad", ((3.5, 3.5), (6.5, 3.5), (6.5, 6.5), (3.5, 6.5)), pad_level_m),),
        grid=grid,
        planner=EarthworkParams(bucket_capacity_m3=bucket.capacity_m3 or 0.015),
        spoil_mask=np.zeros(grid.shape, dtype=bool)
        | (np.meshgrid(grid.x_coords_m, grid.y_coords_m)[1] > 7.2),
        borrow_mask=None
        if borrow_south_of_m is None
        else np.meshgrid(grid.x_coords_m, grid.y_coords_m)[1] < borrow_south_of_m,
        loads_per_round=2,
        max_rounds=rounds,
    )

    scan = walls_seen_by(rover, SITE)
    task = Earthwork(
        params,
        config,
        start,
        control_hz=HZ,
        camera=plane_camera(rover, config, blind_north_of_m),
        scanner=scan if with_scanner else None,
        site_size_m=SITE,
    )
    return rover, task


def test_ground_that_already_meets_the_design_ends_at_the_first_survey(
    excavator: RoverConfig,
) -> None:
    rover, task = _task(excavator, GROUND_Z, rounds=3)
    result = ControlLoop([Agent(rover, task)], rate_hz=HZ, time_limit_s=1500.0).run()
    outcome = result.results[0]
    assert outcome.succeeded, outcome.reason
    assert "own survey after 0 loads" in outcome.reason
    score = task.progress.scores["pad"]
    assert score.coverage > 0.95 and score.share_in_tolerance > 0.95
    assert abs(score.rms_error_m) < 0.01
    assert task.progress.rounds == 1


def test_a_design_it_cannot_reach_ends_execution_failed_after_its_rounds(
    excavator: RoverConfig,
) -> None:
    # The pad 6 cm down: the mock digs nothing, so every survey shows the same ground.
    rover, task = _task(excavator, GROUND_Z - 0.06, rounds=1)
    result = ControlLoop([Agent(rover, task)], rate_hz=HZ, time_limit_s=3000.0).run()
    outcome = result.results[0]
    assert outcome.status.value == "execution_failed", outcome.reason
    assert "not met after 2 surveys" in outcome.reason
    assert task.progress.loads == 2  # one round of hauls between the two surveys
    first = task.progress.first_plan
    assert first is not None and first[1].trips >= 2
    # 6 cm off a 3 × 3 m pad at the planner's cut density, all of it to move.
    assert first[1].moved_kg == pytest.approx(0.06 * 9.0 * 1500.0, rel=0.05)
    assert task.progress.scores["pad"].share_in_tolerance < 0.05
    # Nothing left the site: every pose the rover reached kept its turning circle inside.
    assert task.pilot.timeouts == 0


def test_a_survey_that_keeps_seeing_too_little_is_taken_once_more_then_worked_on(
    excavator: RoverConfig,
) -> None:
    # The camera never sees north of y = 5.2 m: 43% of the 3 × 3 m pad (3.5-6.5 m) stays
    # unknown however often it is surveyed from the same poses.
    rover, task = _task(excavator, GROUND_Z - 0.06, rounds=2, blind_north_of_m=5.2)
    result = ControlLoop([Agent(rover, task)], rate_hz=HZ, time_limit_s=4000.0).run()
    outcome = result.results[0]
    assert outcome.status.value == "execution_failed", outcome.reason
    # Survey 1 saw too little, survey 2 (taken again) too, then a round of two hauls on
    # what was seen, survey 3, and the rounds are spent: never judged met on 57% coverage.
    assert "not met after 3 surveys" in outcome.reason
    assert task.progress.loads == 2
    coverage = task.progress.scores["pad"].coverage  # at most the part south of 5.2 m
    assert 0.0 < coverage <= (5.2 - 3.5) / 3.0 + 0.04


def test_rounds_that_haul_nothing_end_execution_failed_not_in_endless_surveys(
    excavator: RoverConfig,
) -> None:
    # No station reaches any load: the first round hauls nothing, one more survey is
    # taken, its round hauls nothing either, and the task ends saying why.
    rover, task = _task(excavator, GROUND_Z - 0.06, rounds=10)
    task.stations.dig = lambda *_a, **_k: None  # type: ignore[method-assign]
    result = ControlLoop([Agent(rover, task)], rate_hz=HZ, time_limit_s=6000.0).run()
    outcome = result.results[0]
    assert outcome.status.value == "execution_failed", outcome.reason
    assert "no dig or dump station the rover can reach" in outcome.reason
    assert task.progress.loads == 0 and task.progress.rounds == 2
    first = task.progress.first_plan
    assert first is not None and task.progress.skipped == 2 * len(first[1].loads)


def test_later_surveys_leave_out_a_borrow_box_no_plan_uses(excavator: RoverConfig) -> None:
    # A borrow strip south of y = 2.4 m and a pad (3.5-6.5 m) 6 cm down: a surplus the
    # plan cuts and spoils north of 7.2 m; it borrows nothing. The first survey covers
    # the borrow (down to the grid's edge, 2 m), the later ones only the pad and spoil.
    rover, task = _task(excavator, GROUND_Z - 0.06, rounds=1, borrow_south_of_m=2.4)
    cell = task.params.grid.cell_size_m
    first = survey_bounds(task)
    assert first[2] == pytest.approx(2.0, abs=cell)
    ControlLoop([Agent(rover, task)], rate_hz=HZ, time_limit_s=3000.0).run()
    assert task.progress.rounds == 2 and task.progress.loads == 2
    assert task.zones_in_use == {"cut", "spoil"}
    later = survey_bounds(task)
    assert later[2] == pytest.approx(3.5, abs=cell) and later[3] == first[3]


class _SinkingMock(MockRover):
    """A mock that is held fast, wheels spinning, from the first load's dig on (a rover
    that has dropped its wheels into a cut)."""

    held_after_s = 1e9

    def _step(self, dt_s: float) -> None:
        x, y, yaw = self._x_m, self._y_m, self._yaw_rad
        super()._step(dt_s)
        if self._clock.now_s() >= self.held_after_s:
            self._x_m, self._y_m, self._yaw_rad = x, y, yaw


def test_a_rover_held_fast_ends_execution_failed_stuck_not_at_the_time_limit(
    excavator: RoverConfig,
) -> None:
    rover, task = _task(
        excavator, GROUND_Z - 0.06, rounds=5, rover_type=_SinkingMock, with_scanner=True
    )
    assert isinstance(rover, _SinkingMock)
    held_at: list[Pose2] = []

    def hold_at_first_haul(_tick: object) -> None:  # the first haul begins: hold it fast
        if not held_at and task.progress.haul_phase == 1:
            rover.held_after_s = rover.clock.now_s()
            held_at.append(rover.true_pose)

    loop = ControlLoop(
        [Agent(rover, task)], rate_hz=HZ, time_limit_s=3000.0, on_tick=hold_at_first_haul
    )
    result = loop.run()
    outcome = result.results[0]
    assert outcome.status.value == "execution_failed", outcome.reason
    assert outcome.reason.startswith("stuck at"), outcome.reason
    assert task.pilot.slips_in_a_row >= 3 and task.progress.loads <= 2  # one round at most
    end = rover.true_pose
    assert held_at and math.hypot(end.x_m - held_at[0].x_m, end.y_m - held_at[0].y_m) < 1e-9
    assert result.elapsed_s < 2000.0  # it gave up; it did not spin to the time limit


def test_routes_go_round_a_trench_and_straight_when_clear(excavator: RoverConfig) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    st = task.stations
    g = task.params.grid
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    # A trench across x = 5 from y = 3.5 to 6.5: it blocks the straight way west to east.
    st.deep_cut = (np.abs(gx - 5.0) < 0.15) & (gy > 3.5) & (gy < 6.5)
    start = Pose2(3.0, 5.0, 0.0)
    corners = st.route(start, (7.0, 5.0))
    assert len(corners) >= 2 and corners[-1] == (7.0, 5.0)
    pts = np.vstack([[start.x_m, start.y_m], np.asarray(corners)])
    for a, b in itertools.pairwise(pts):
        for t in np.linspace(0.0, 1.0, 200):
            x, y = a + t * (b - a)
            # Distance from the trench's strip: the wheels (0.45 m out) stay off it.
            dx = max(abs(x - 5.0) - 0.15, 0.0)
            dy = max(3.5 - y, y - 6.5, 0.0)
            # The wheels reach 0.45 m from the centre; routes keep 0.2 m more (a leg ends a
            # few centimetres off where it was meant to): 0.55 m with the grid's slack.
            assert math.hypot(dx, dy) > 0.55, (x, y)
    # The wheels may not stand beside it either.
    assert not st.standable(5.3, 5.0) and st.standable(6.0, 5.0)
    # With nothing in the way the route is the goal itself.
    st.deep_cut = np.zeros(g.shape, dtype=bool)
    assert st.route(start, (7.0, 5.0)) == [(7.0, 5.0)]


def test_a_poured_load_keeps_the_wheels_off_at_once(excavator: RoverConfig) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    st = task.stations
    assert st.standable(5.0, 5.0)
    st.mark_fill(5.0, 5.0)
    # Within the pile's radius plus the wheels' reach: not standable; beyond: free.
    assert not st.standable(5.0 + 0.7, 5.0)
    assert st.standable(5.0 + 0.9, 5.0)
    corners = st.route(Pose2(3.0, 5.0, 0.0), (7.0, 5.0))
    assert len(corners) >= 2  # round the pile, not over it


def test_a_pass_carves_the_expected_surface_one_bucket_wide(excavator: RoverConfig) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    st = task.stations
    g = task.params.grid
    flat = np.zeros(g.shape)
    out = st.carved(flat, (3.0, 5.0), 0.0, 0.5, -0.08)
    cut = out < 0.0
    # A 0.5 m pass of a 0.5 m wide bucket on 5 cm cells: about 11 × 11 cells, 8 cm down.
    assert int(cut.sum()) == pytest.approx(121, rel=0.2)
    assert np.all(out[cut] == -0.08)
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    # The bucket's edge works a metre or so ahead of the chassis (arm and bucket), so
    # the strip lies ahead of the stand, not under it.
    assert float(gx[cut].min()) > 3.0 + 0.7 and float(np.abs(gy[cut] - 5.0).max()) <= 0.26
    # Carving again deeper only lowers; never raises.
    again = st.carved(out, (3.0, 5.0), 0.0, 0.5, -0.02)
    assert np.array_equal(again, out)


class _StallingRover(MockRover):
    """A mock whose wheels stop turning once the bucket's boom is down (below -0.1 rad)
    and it has driven 5 cm so: a cut too deep for the rover to pull."""

    def __init__(self, config: RoverConfig, clock: ManualClock, start: Pose2) -> None:
        super().__init__(config, clock, start)
        self._bite_from: tuple[float, float] | None = None

    def _step(self, dt_s: float) -> None:
        if self._joint_rad.get("boom_lift", 0.0) < -0.1:
            p = self.true_pose
            if self._bite_from is None:
                self._bite_from = (p.x_m, p.y_m)
            elif math.hypot(p.x_m - self._bite_from[0], p.y_m - self._bite_from[1]) > 0.05:
                self._left_mps = self._right_mps = 0.0
        else:
            self._bite_from = None
        super()._step(dt_s)


def test_a_stalled_pass_leaves_the_rest_of_its_strip_expected_uncut(
    excavator: RoverConfig,
) -> None:
    rover, task = _task(excavator, GROUND_Z - 0.06, rounds=1, rover_type=_StallingRover)
    carved: list[int] = []

    def watch(_tick: object) -> None:
        if task.progress.loads == 1 and not carved and task.expected is not None:
            carved.append(int((task.expected < GROUND_Z - 0.01).sum()))

    ControlLoop([Agent(rover, task)], rate_hz=HZ, time_limit_s=1500.0, on_tick=watch).run()
    assert carved, "no load was hauled"
    # The bucket (0.5 m) swept at most 5 cm and a cell before the rover stalled: about 2
    # rows of 10 cells of 5 cm, where the whole pass would have carved a dozen rows.
    cells = task.params.grid.cell_size_m
    assert 0 < carved[0] <= (0.05 / cells + 2) * (0.5 / cells + 1)


class _RecordingRover(MockRover):
    """A mock that records, every step, its speed and where its bucket's edge is."""

    def __init__(self, config: RoverConfig, clock: ManualClock, start: Pose2) -> None:
        super().__init__(config, clock, start)
        self.samples: list[tuple[float, float, float, float]] = []
        """(speed m/s, boom rad, curl rad, edge height above the ground m) per step."""
        self._tool = next(t for t in config.tools if t.kind == "bucket")

    def _step(self, dt_s: float) -> None:
        super()._step(dt_s)
        boom, curl = self._joint_rad["boom_lift"], self._joint_rad["bucket_curl"]
        _, z = bucket_edge_m(self.config, self._tool, boom, curl)
        self.samples.append((self.true_twist.linear_mps, boom, curl, z))


def test_the_edge_backs_out_of_a_pass_raised_and_curls_clear_of_the_ground(
    excavator: RoverConfig,
) -> None:
    # Backing out or curling with its edge at cut depth, a bucket drags the ground behind
    # it back like a blade. On the mock (no soil), the edge's height is worked from the
    # joints by the arm's geometry: the rover must back out with the edge above the cut
    # and start curling with it well above the ground.
    rover, task = _task(excavator, GROUND_Z - 0.06, rounds=1, rover_type=_RecordingRover)
    ControlLoop(
        [Agent(rover, task)],
        rate_hz=HZ,
        time_limit_s=1500.0,
        should_cancel=lambda: "one load hauled" if task.progress.loads >= 1 else None,
    ).run()
    assert task.progress.loads >= 1
    s = rover.samples
    # The pass: the lowest edge while driving forward.
    k_cut = min(range(len(s)), key=lambda k: s[k][3] if s[k][0] > 0.01 else math.inf)
    z_cut, curl_cut = s[k_cut][3], s[k_cut][2]
    assert z_cut < -0.02
    # From the pass on, until the bucket is carried: backing samples and the curl.
    after = s[k_cut:]
    k_curl = next(k for k, x in enumerate(after) if abs(x[2] - curl_cut) > 0.02)
    backing = [x for x in after[:k_curl] if x[0] < -0.01]
    assert backing, "no back-out before the curl"
    assert min(x[3] for x in backing) >= z_cut + 0.05
    assert after[k_curl][3] >= z_cut + 0.12


class _PivotingMock(MockRover):
    """Turns in place about a point 0.3 m ahead of the chassis centre (a loaded bucket),
    which the pilot is not told: every turn moves the rover off its estimate."""

    def _step(self, dt_s: float) -> None:
        x, y, yaw = self._x_m, self._y_m, self._yaw_rad
        super()._step(dt_s)
        turned = wrap_angle(self._yaw_rad - yaw)
        if math.hypot(self._x_m - x, self._y_m - y) < 1e-6 and turned != 0.0:
            px, py = x + 0.3 * math.cos(yaw), y + 0.3 * math.sin(yaw)
            self._x_m = px - 0.3 * math.cos(self._yaw_rad)
            self._y_m = py - 0.3 * math.sin(self._yaw_rad)


def test_a_trip_round_a_trench_replans_from_each_fix_and_arrives(excavator: RoverConfig) -> None:
    # Start west of the trench, facing away from the goal east of it.
    rover, task = _task(
        excavator,
        GROUND_Z,
        rounds=1,
        rover_type=_PivotingMock,
        with_scanner=True,
        start=Pose2(3.0, 5.0, math.pi),
    )
    g = task.params.grid
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    task.stations.deep_cut = (np.abs(gx - 5.0) < 0.15) & (gy > 3.5) & (gy < 6.5)
    path: list[tuple[float, float]] = []

    def track(_tick: object) -> None:
        p = rover.true_pose
        path.append((p.x_m, p.y_m))

    trip = Sensing(task.pilot, Script(task.go(7.0, 5.0, 0.0)))
    loop = ControlLoop([Agent(rover, trip)], rate_hz=HZ, time_limit_s=600.0, on_tick=track)
    result = loop.run()
    assert result.results[0].succeeded
    end = rover.true_pose
    assert math.hypot(end.x_m - 7.0, end.y_m - 5.0) <= 0.06
    # Round the trench's end, never over it: the centre stays 0.45 m (the wheels' reach)
    # from its strip.
    for x, y in path:
        dx = max(abs(x - 5.0) - 0.15, 0.0)
        dy = max(3.5 - y, y - 6.5, 0.0)
        assert math.hypot(dx, dy) > 0.45, (x, y)
    # Round the end in a few long legs, each corner driven to once and the route planned
    # again from its fix: going corner by corner, correcting at each, the same trip took
    # 13 legs and fixes (the route hugging the trench's end had nine corners).
    assert task.pilot.fixes <= 6
