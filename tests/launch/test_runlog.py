"""``run.mcap``: read back with the mcap reader, decoded with the schemas it carries, and
checked against the run folder's other files (trajectory.csv, events.csv, terrain.npy,
metrics.json) and the rover's configuration, never against the run log's own code."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from mcap.reader import make_reader
from scipy.spatial.transform import Rotation

from lunarsite.launch.cli import main
from lunarsite.launch.runlog import RunLog
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario
from lunarsite.robot.tasks.steps import Steps

from ..conftest import shipped_rover

QUANTUM_M = 2.0**-10  # the rounding README documents for heights and points


class Logged:
    """Every message of a run.mcap, decoded: ``topics[topic]`` is a list of (log time in
    s, message); protobuf messages are built from the schema each channel carries."""

    def __init__(self, path: Path) -> None:
        self.topics: dict[str, list[tuple[float, Any]]] = {}
        self.schemas: dict[str, str] = {}
        classes: dict[int, Any] = {}
        with path.open("rb") as fh:
            reader = make_reader(fh)
            summary = reader.get_summary()
            assert summary is not None and summary.statistics is not None
            self.statistics = summary.statistics
            self.metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
            for schema, channel, message in reader.iter_messages(log_time_order=True):
                assert schema is not None
                self.schemas[channel.topic] = schema.name
                if channel.message_encoding == "json":
                    decoded = json.loads(message.data)
                else:
                    assert channel.message_encoding == "protobuf"
                    if schema.id not in classes:
                        classes[schema.id] = _protobuf_class(schema.name, schema.data)
                    decoded = classes[schema.id].FromString(message.data)
                self.topics.setdefault(channel.topic, []).append((message.log_time * 1e-9, decoded))

    def count(self, topic: str) -> int:
        return len(self.topics.get(topic, []))

    def times(self, topic: str) -> np.ndarray:
        return np.array([t for t, _ in self.topics.get(topic, [])])


def _protobuf_class(name: str, data: bytes) -> Any:
    pool = descriptor_pool.DescriptorPool()
    for fd in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _grid_layer(grid: Any, name: str, dtype: str) -> np.ndarray:
    """One field of a Foxglove Grid as an array (rows along +y from the corner)."""
    field = next(f for f in grid.fields if f.name == name)
    rows = len(grid.data) // grid.row_stride
    raw = np.frombuffer(grid.data, dtype=np.uint8).reshape(rows, grid.column_count, -1)
    cell = raw[:, :, field.offset : field.offset + np.dtype(dtype).itemsize]
    return np.ascontiguousarray(cell).view(dtype)[:, :, 0]


def _yaw_of(q: Any) -> float:
    return float(Rotation.from_quat([q.x, q.y, q.z, q.w]).as_euler("ZYX")[0])


def _poses_follow_trajectory(
    logged: Logged, rows: list[dict[str, str]], topic: str, prefix: str
) -> None:
    """Every pose logged is the trajectory.csv row at its time, about every 0.1 s."""
    by_time = {round(float(r["t_s"]), 3): r for r in rows}
    times = logged.times(topic)
    duration = float(rows[-1]["t_s"]) - float(rows[0]["t_s"])
    assert abs(len(times) - (duration / 0.1 + 1)) <= 1.5
    assert times[0] == pytest.approx(float(rows[0]["t_s"]), abs=1e-6)
    gaps = np.diff(times)
    assert gaps.min() >= 0.1 - 1e-6 and gaps.max() <= 0.1 + 0.05 + 1e-6  # ticks at 20 Hz
    for t, msg in logged.topics[topic]:
        row = by_time[round(t, 3)]
        assert msg.frame_id == "site"
        assert msg.pose.position.x == pytest.approx(float(row[f"{prefix}_x_m"]), abs=1e-5)
        assert msg.pose.position.y == pytest.approx(float(row[f"{prefix}_y_m"]), abs=1e-5)
        yaw = float(row[f"{prefix}_yaw_rad"])
        assert math.cos(_yaw_of(msg.pose.orientation) - yaw) == pytest.approx(1.0, abs=1e-8)


def test_rover_square_run_log_matches_the_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["run", "rover_square", "--out", str(out), "--quiet"]) == 0
    logged = Logged(out / "run.mcap")
    assert set(logged.topics) == {
        "/tf",
        "/rover/pose_estimated",
        "/rover/pose_true",
        "/events",
        "/truth/terrain_height",
        "/metrics",
    }
    assert logged.schemas["/tf"] == "foxglove.FrameTransforms"
    assert logged.schemas["/events"] == "foxglove.Log"
    assert logged.metadata["run"]["scenario"] == "rover_square"
    assert logged.metadata["run"]["seed"] == "0"

    rows = _rows(out / "trajectory.csv")
    _poses_follow_trajectory(logged, rows, "/rover/pose_estimated", "est")
    _poses_follow_trajectory(logged, rows, "/rover/pose_true", "true")
    assert logged.count("/tf") == logged.count("/rover/pose_true")
    for (_, tf), (_, true) in zip(
        logged.topics["/tf"], logged.topics["/rover/pose_true"], strict=True
    ):
        frames = {t.child_frame_id: t for t in tf.transforms}
        assert set(frames) == {"rover_estimated", "rover_true"}
        assert all(t.parent_frame_id == "site" for t in tf.transforms)
        assert frames["rover_true"].translation.z == pytest.approx(true.pose.position.z)

    # The log's clock is the run's: it ends with the last tick, not at some wall time.
    metrics = json.loads((out / "metrics.json").read_text())
    assert logged.statistics.message_end_time * 1e-9 == pytest.approx(
        float(rows[-1]["t_s"]), abs=1e-6
    )
    assert metrics["sim_time_s"] < 60.0

    events = _rows(out / "events.csv")
    assert [(round(t, 4), m.message) for t, m in logged.topics["/events"]] == [
        (float(e["t_s"]), e["event"]) for e in events
    ]

    [(t0, terrain)] = logged.topics["/truth/terrain_height"]
    heights = np.load(out / "terrain.npy")
    meta = json.loads((out / "terrain.json").read_text())
    assert t0 == 0.0 and terrain.column_count == heights.shape[1]
    assert terrain.cell_size.x == meta["cell_size_m"]
    half = 0.5 * meta["cell_size_m"]
    assert terrain.pose.position.x == pytest.approx(meta["origin_xy_m"][0] - half)
    assert terrain.pose.position.y == pytest.approx(meta["origin_xy_m"][1] - half)
    assert np.abs(_grid_layer(terrain, "height_m", "<f4") - heights).max() <= QUANTUM_M

    [(_, logged_metrics)] = logged.topics["/metrics"]
    assert logged_metrics == metrics


@pytest.mark.slow
def test_navigate_run_logs_map_costmap_path_camera_and_scans(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(
        ["run", "traverse", "--seed", "1", "--time-limit", "30", "--out", str(out), "--quiet"]
    )
    assert code == 1  # stopped by the time limit
    logged = Logged(out / "run.mcap")
    assert {
        "/map/elevation",
        "/map/costmap",
        "/plan/path",
        "/camera/image",
        "/scan",
    } <= set(logged.topics)
    rows = _rows(out / "trajectory.csv")
    end_s = float(rows[-1]["t_s"])

    # The camera: JPEGs of the rover's camera, one every 2 s (the controller reads 2 a s).
    camera = shipped_rover("excavator_66kg").camera
    assert camera is not None
    images = logged.times("/camera/image")
    assert abs(len(images) - (end_s / 2.0 + 1)) <= 1.5
    assert np.diff(images).min() >= 2.0 - 1e-6
    _, image = logged.topics["/camera/image"][-1]
    assert image.format == "jpeg"
    rgb = cv2.imdecode(np.frombuffer(image.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert rgb.shape == (camera.height_px, camera.width_px, 3)

    # Scans: one every 10 s, points within the scanner's 8 m of its mast (0.8 m up).
    scans = logged.times("/scan")
    assert abs(len(scans) - (end_s / 10.0 + 1)) <= 1.5
    _, scan = logged.topics["/scan"][-1]
    assert scan.frame_id == "rover_true" and scan.point_stride == 12
    points = np.frombuffer(scan.data, dtype="<f4").reshape(-1, 3)
    assert len(points) > 1000
    assert np.linalg.norm(points - [0.0, 0.0, 0.8], axis=1).max() <= 8.0 + 0.05

    # The map: at most one every 10 s; where it knows a height, it is the true ground's.
    maps = logged.times("/map/elevation")
    assert 1 <= len(maps) <= end_s / 10.0 + 1
    _, elevation = logged.topics["/map/elevation"][-1]
    mapped = _grid_layer(elevation, "height_m", "<f4")
    truth = np.load(out / "terrain.npy")
    assert mapped.shape == truth.shape
    known = np.isfinite(mapped)
    assert known.sum() > 500
    assert np.median(np.abs(mapped[known] - truth[known])) < 0.05

    costmaps = logged.times("/map/costmap")
    assert 1 <= len(costmaps) <= end_s / 10.0 + 1
    _, costmap = logged.topics["/map/costmap"][-1]
    lethal = _grid_layer(costmap, "lethal", "u1")
    cost = _grid_layer(costmap, "cost_pct", "u1")
    assert set(np.unique(lethal)) <= {0, 1} and lethal.any() and cost.max() <= 100
    assert np.all(cost[lethal == 1] == 100)

    # The first path leads from the start to the first goal.
    metrics = json.loads((out / "metrics.json").read_text())
    goal = metrics["goals"][0]
    _, first = next((t, p) for t, p in logged.topics["/plan/path"] if p.poses)
    start, last = first.poses[0].position, first.poses[-1].position
    assert math.hypot(start.x - 3.0, start.y - 10.0) < 0.3  # the scenario's start
    assert math.hypot(last.x - goal["x_m"], last.y - goal["y_m"]) < 0.3


def test_a_run_that_raises_still_leaves_a_readable_run_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Steps.tick
    ticks = iter(range(10**6))

    def tick(self: Steps, sensed: Any, now_s: float) -> Any:
        if next(ticks) == 100:
            raise RuntimeError("bug in a task")
        return original(self, sensed, now_s)

    monkeypatch.setattr(Steps, "tick", tick)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="bug in a task"):
        run_sim(load_scenario("rover_square"), out, seed=0, time_limit_s=60.0)
    logged = Logged(out / "run.mcap")  # a finished file: its summary reads
    events = _rows(out / "events.csv")
    assert events[-1]["event"] == "end: execution_failed: RuntimeError: bug in a task"
    _, last = logged.topics["/events"][-1]
    assert last.message == events[-1]["event"]
    rows = _rows(out / "trajectory.csv")
    assert len(rows) == 100
    assert logged.times("/tf")[-1] == pytest.approx(float(rows[-1]["t_s"]), abs=0.1)


def test_a_failing_run_log_stops_itself_and_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = RunLog.on_tick

    def failing(self: RunLog, t_s: float, *args: Any) -> None:
        if t_s >= 5.0:
            self._guard(lambda: _raise(OSError("disk full")))
        original(self, t_s, *args)

    monkeypatch.setattr(RunLog, "on_tick", failing)
    out = tmp_path / "run"
    with caplog.at_level(logging.ERROR, logger="lunarsite.launch.runlog"):
        assert main(["run", "rover_square", "--out", str(out), "--quiet"]) == 0
    assert "disk full" in caplog.text
    logged = Logged(out / "run.mcap")
    assert 4.9 <= logged.times("/tf")[-1] < 5.0
    assert "/metrics" not in logged.topics


def _raise(exc: Exception) -> None:
    raise exc


def test_no_mcap_leaves_it_out(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["run", "rover_square", "--out", str(out), "--quiet", "--no-mcap"]) == 0
    assert (out / "metrics.json").is_file() and not (out / "run.mcap").exists()


def test_same_seed_same_messages(tmp_path: Path) -> None:
    def messages(out: Path) -> list[tuple[str, int, bytes]]:
        run_sim(load_scenario("rover_square"), out, seed=0, time_limit_s=8.0)
        with (out / "run.mcap").open("rb") as fh:
            return [
                (channel.topic, message.log_time, message.data)
                for _, channel, message in make_reader(fh).iter_messages(log_time_order=True)
                if channel.topic != "/metrics"  # holds the wall time
            ]

    first, second = messages(tmp_path / "a"), messages(tmp_path / "b")
    assert len(first) > 200 and first == second


def test_a_large_soil_grid_is_logged_as_block_means(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_sim(load_scenario("landing_pad"), out, seed=0, time_limit_s=3.0)
    before = np.load(out / "terrain_before.npy")
    meta = json.loads((out / "terrain.json").read_text())
    assert before.size > 100_000  # 2 cm cells: written as 4 cm
    logged = Logged(out / "run.mcap")
    _, first = logged.topics["/truth/terrain_height"][0]
    coarse = _grid_layer(first, "height_m", "<f4")
    cell = meta["cell_size_m"]
    assert first.cell_size.x == pytest.approx(2 * cell)
    assert first.pose.position.x == pytest.approx(meta["origin_xy_m"][0] - 0.5 * cell)
    assert coarse.shape == ((before.shape[0] + 1) // 2, (before.shape[1] + 1) // 2)
    rng = np.random.default_rng(0)
    for j, i in zip(
        rng.integers(0, coarse.shape[0], 50), rng.integers(0, coarse.shape[1], 50), strict=True
    ):
        block = before[2 * j : 2 * j + 2, 2 * i : 2 * i + 2]
        assert coarse[j, i] == pytest.approx(block.mean(), abs=QUANTUM_M)
