"""The one runner: a scenario's mission on a backend, through the one control loop, into
one run folder.

:func:`run_mission` builds the backend's rover, the mission's task, the
:class:`~lunarsite.robot.executive.loop.ControlLoop` and the :class:`~.recorder.Recorder`;
runs; stops the rover; judges the run (:meth:`MissionKind.judge`) and writes the run
folder (:func:`~.report.write_run_folder`), with ``run.mcap`` streamed while it goes
(:mod:`~.runlog`). Whatever ends the run (its end, the time limit, a hardware fault,
Ctrl-C, even a bug) the rover gets a zero command first and the folder is written with
the reason, the run log closed readable. :func:`run_sim` and :func:`run_serial` make the
backend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lunarsite.robot.executive import (
    ActionResult,
    ActionStatus,
    Agent,
    ControlLoop,
    LoopEnd,
    SensorLimits,
    SensorWatch,
)

from .backends import Backend, SerialBackend, SimBackend
from .files import ScenarioError
from .missions.base import Judgement, RunRecord, RunSetup, Task
from .recorder import VIDEO_FPS, VIDEO_SIZE_PX, ProgressFn, Recorder
from .report import judge_run, metrics_data, write_report_logged, write_run_folder
from .runlog import RUN_LOG_NAME, RunLog, RunLogError
from .schema import LoadedScenario
from .video import VideoRecorder

__all__ = ["RunOutcome", "control_hz", "run_fil", "run_mission", "run_serial", "run_sim"]

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """A finished run: what was recorded, the mission's verdict, and ``metrics.json``."""

    record: RunRecord
    judgement: Judgement
    metrics: dict[str, Any]

    @property
    def success(self) -> bool:
        return bool(self.metrics["success"])

    @property
    def interrupted(self) -> bool:
        loop = self.record.loop
        return loop is not None and loop.ended_by == LoopEnd.INTERRUPTED


def control_hz(scenario: LoadedScenario) -> float:
    """The loop rate of a scenario: the mission's own (a steps mission sets it), else
    the ``sim.control_hz`` setting."""
    rate = getattr(scenario.mission, "control_hz", None)
    return float(rate) if rate is not None else float(scenario.config.sim.control_hz)


def refuse_backend(scenario: LoadedScenario, backend: str) -> None:
    """Raise :class:`ScenarioError` when the mission cannot run on ``backend``."""
    reason = scenario.kind.refuse(scenario, backend)
    if reason is not None:
        raise ScenarioError(scenario.path, [f"{scenario.path}: {reason}"])


def run_sim(
    scenario: LoadedScenario,
    out_dir: Path | None,
    *,
    seed: int,
    time_limit_s: float,
    gui: bool = False,
    video_path: Path | None = None,
    progress: ProgressFn | None = None,
    soil_on: bool = True,
    render_camera: bool | None = None,
    log_mcap: bool = True,
) -> RunOutcome:
    """Run ``scenario`` in simulation; write its run folder to ``out_dir`` (if given),
    with ``run.mcap`` unless ``log_mcap`` is False.

    Raises:
        ScenarioError: the mission cannot run in simulation.
    """
    refuse_backend(scenario, "sim")
    options = dict(scenario.kind.sim_options(scenario))
    if render_camera is not None:
        options["render_camera"] = render_camera
    backend = SimBackend(scenario, seed, gui=gui, soil_on=soil_on, sim_options=options)
    return run_mission(
        scenario,
        backend,
        out_dir,
        seed=seed,
        time_limit_s=time_limit_s,
        video_path=video_path,
        progress=progress,
        log_mcap=log_mcap,
    )


def run_serial(
    scenario: LoadedScenario,
    out_dir: Path | None,
    *,
    port: str,
    baud: int = 115200,
    connect_timeout_s: float = 5.0,
    time_limit_s: float | None = None,
    progress: ProgressFn | None = None,
) -> RunOutcome:
    """Run ``scenario`` on a rover over a serial port; write its run folder (no truth).

    Raises:
        ScenarioError: the mission cannot run on a serial rover.
        PortError, LinkError, HardwareError: the port or the handshake failed (before
            anything moved).
    """
    refuse_backend(scenario, "serial")
    backend = SerialBackend(scenario, port, baud=baud, connect_timeout_s=connect_timeout_s)
    return run_mission(
        scenario,
        backend,
        out_dir,
        seed=scenario.config.seed,
        time_limit_s=time_limit_s or scenario.config.time_limit_s,
        progress=progress,
    )


def run_fil(
    scenario: LoadedScenario,
    out_dir: Path | None,
    *,
    link: str,
    seed: int,
    time_limit_s: float,
    progress: ProgressFn | None = None,
    log_mcap: bool = True,
) -> RunOutcome:
    """Run ``scenario`` with the firmware in the loop (``link``: "virtual", the core built
    for this machine, or "avr", the Arduino binary in simavr): the simulated rover's
    wheels follow the firmware's motor outputs, the controller sees only the link, in
    real time. Refused where a serial rover would be (the link carries no camera or
    scanner).

    Raises:
        ScenarioError: the mission cannot run on a serial rover.
    """
    from .fil import FirmwareInLoopBackend

    refuse_backend(scenario, "serial")
    backend = FirmwareInLoopBackend(scenario, seed, link=link)
    return run_mission(
        scenario,
        backend,
        out_dir,
        seed=seed,
        time_limit_s=time_limit_s,
        progress=progress,
        log_mcap=log_mcap,
    )


def run_mission(
    scenario: LoadedScenario,
    backend: Backend,
    out_dir: Path | None,
    *,
    seed: int,
    time_limit_s: float,
    video_path: Path | None = None,
    progress: ProgressFn | None = None,
    log_mcap: bool = True,
) -> RunOutcome:
    """Run ``scenario``'s mission on ``backend`` (see the module docstring); with an
    ``out_dir`` and ``log_mcap``, stream ``run.mcap`` into it as the run goes."""
    kind = scenario.kind
    streams = backend.streams if isinstance(backend, SimBackend) else None
    setup = RunSetup(scenario, backend, seed, scenario.start, control_hz(scenario), streams)
    wall0 = time.perf_counter()
    record: RunRecord | None = None
    runlog: RunLog | None = None
    try:
        with backend:
            if isinstance(backend, SimBackend):
                kind.prepare_world(setup, backend.world)
            rover = backend.start_rover(setup.start)
            truth = backend.truth
            terrain_before = truth.terrain_heights_m() if truth is not None else None
            if out_dir is not None and log_mcap:
                runlog = _open_run_log(setup, out_dir)
                backend.observer = runlog  # before the mission builds its sensors
            backend.sensor_watch = sensor_watch_for(scenario, backend)
            try:
                kind.prepare(setup)
                task = kind.build(setup)
                record = RunRecord(setup, task, time_limit_s, terrain_before_m=terrain_before)
                record.soil_mass_before_kg = truth.soil_mass_kg() if truth is not None else None
                with _video(video_path) as video:
                    recorder = Recorder(
                        record,
                        kind,
                        _as_task(task),
                        truth,
                        start_s=backend.clock.now_s(),
                        site_size_m=scenario.site_size_m,
                        progress=progress,
                        video=video,
                        runlog=runlog,
                    )
                    loop = ControlLoop(
                        [Agent(rover, task, scenario.rover.name, backend.sensor_watch)],
                        rate_hz=setup.control_hz,
                        time_limit_s=time_limit_s,
                        on_tick=recorder.on_tick,
                        should_cancel=recorder.should_cancel,
                    )
                    try:
                        record.loop = loop.run()
                    finally:
                        record.video_frames = video.frames_written if video is not None else 0
                        recorder.report_progress(record.t_s[-1] if record.t_s else 0.0)
                record.result = record.loop.results[0]
                record.sim_time_s = record.loop.elapsed_s
            except BaseException as exc:
                if record is not None:
                    record.error = f"{type(exc).__name__}: {exc}"
                    record.result = ActionResult(ActionStatus.EXECUTION_FAILED, record.error)
                raise
            finally:
                if rover.lifecycle_state.value == "active":
                    rover.deactivate()
                if record is not None:
                    record.wall_time_s = time.perf_counter() - wall0
                    _final_truth(backend, record)
                    if runlog is not None:
                        _end_run_log(runlog, record)
                    if record.error is not None and out_dir is not None:
                        _write_anyway(record, out_dir)
        assert record is not None
        judgement = judge_run(record)
        metrics = (
            write_run_folder(record, judgement, out_dir, page=runlog is None)
            if out_dir is not None
            else metrics_data(record, judgement)
        )
        if runlog is not None:
            runlog.write_metrics(record.t_s[-1] if record.t_s else 0.0, metrics)
            runlog.close()
            runlog = None
            if out_dir is not None:
                write_report_logged(out_dir)  # after run.mcap is whole, so it is linked
        return RunOutcome(record, judgement, metrics)
    finally:
        if runlog is not None:
            runlog.close()


def sensor_watch_for(scenario: LoadedScenario, backend: Backend) -> SensorWatch:
    """The watch over the run's sensors: lags allowed by the camera's rate; the IMU watched
    for frozen readings only where they come raw from a noisy sensor model (a serial board
    flags a hung IMU itself, and its quantized telemetry may repeat at rest)."""
    cam = scenario.rover.camera
    imu = scenario.rover.imu
    noisy = imu.gyro_noise_std_radps > 0.0 and imu.accel_noise_std_mps2 > 0.0
    return SensorWatch(
        SensorLimits.for_camera_rate(
            cam.rate_hz if cam is not None else 5.0,
            imu_noisy=noisy and backend.imu_readings_raw,
            latency_s=cam.latency_s if cam is not None else 0.0,
        )
    )


def _open_run_log(setup: RunSetup, out_dir: Path) -> RunLog | None:
    """``run.mcap`` in ``out_dir``, or None (logged) when it cannot be written: the run
    goes on without it."""
    scenario = setup.scenario
    metadata = {
        "scenario": scenario.config.name,
        "scenario_file": str(scenario.path),
        "rover": scenario.rover.name,
        "backend": setup.backend.name,
        "seed": str(setup.seed),
        "control_hz": f"{setup.control_hz:g}",
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return RunLog(out_dir / RUN_LOG_NAME, truth=setup.backend.truth, metadata=metadata)
    except (OSError, RunLogError) as exc:
        log.error("running without a run log: %s", exc)
        return None


def _end_run_log(runlog: RunLog, record: RunRecord) -> None:
    """The run log's last event: how the run ended, as the last row of ``events.csv``."""
    result = record.result
    status = result.status.value if result is not None else "execution_failed"
    reason = result.reason if result is not None else "did not run"
    end_s = record.t_s[-1] if record.t_s else 0.0
    ok = result is not None and result.succeeded
    runlog.end(end_s, f"end: {status}: {reason}", ok=ok)


@contextmanager
def _video(path: Path | None) -> Iterator[VideoRecorder | None]:
    if path is None:
        yield None
        return
    video = VideoRecorder(path, VIDEO_FPS, VIDEO_SIZE_PX)
    try:
        yield video
    finally:
        video.close()


def _write_anyway(record: RunRecord, out_dir: Path) -> None:
    """The run folder of a run that ended on an error, as far as it can be written."""
    try:
        write_run_folder(record, judge_run(record), out_dir)
    except Exception:  # the error being raised matters more than the folder
        log.exception("could not write the run folder of a failed run to %s", out_dir)


def _as_task(task: Any) -> Task:
    if not (hasattr(task, "pose") and hasattr(task, "activity")):
        raise TypeError(f"{type(task).__name__} is not a task: it needs pose and activity")
    return task  # type: ignore[no-any-return]


def _final_truth(backend: Backend, record: RunRecord) -> None:
    truth = backend.truth
    if truth is None:
        return
    final = truth.pose()
    record.final_true = final.pose2
    record.energy_used_wh = truth.energy_used_wh()
    record.tipped_over = record.tipped_over or truth.tipped_over()
    record.terrain_after_m = truth.terrain_heights_m()
    record.soil_mass_after_kg = truth.soil_mass_kg()
    record.unit_poses_after = truth.unit_poses()
