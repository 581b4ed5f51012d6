"""One entry point per kind of simulated mission: run it, write its run folder, sum it up.

``lunarsite run`` looks the scenario's ``mission.kind`` up in :data:`SIM_MISSIONS` and
calls the entry with the run folder and the command-line settings. Each entry runs the
scenario in simulation, writes the folder (``metrics.json`` and what the metrics come
from) and returns a :class:`MissionRun`: the metrics and a few lines for the terminal.

A new mission kind adds its schema model in :mod:`.schema`, a module with its runner and
report (whose entry follows :class:`MissionEntry`), and one line in :data:`SIM_MISSIONS`
naming that entry as ``"module:function"`` (imported only when a run needs it, so the
CLI starts without loading every simulator module).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .report import Metrics
from .schema import LoadedScenario, ScenarioError

__all__ = [
    "SIM_MISSIONS",
    "MissionEntry",
    "MissionProgress",
    "MissionRun",
    "run_in_sim",
    "sim_entry",
]

MissionProgress = Callable[[float, float, str], None]
"""Called with (sim time s, time limit s, a short status such as ``waypoints 2/4``)."""


@dataclass(frozen=True, slots=True)
class MissionRun:
    metrics: Metrics
    summary: tuple[str, ...]
    """Lines for the terminal: what was done, how well, how fast."""


class MissionEntry(Protocol):
    def __call__(
        self,
        scenario: LoadedScenario,
        out_dir: Path,
        *,
        seed: int,
        time_limit_s: float,
        gui: bool,
        video_path: Path | None,
        progress: MissionProgress | None,
    ) -> MissionRun: ...


def waypoints_entry(
    scenario: LoadedScenario,
    out_dir: Path,
    *,
    seed: int,
    time_limit_s: float,
    gui: bool,
    video_path: Path | None,
    progress: MissionProgress | None,
) -> MissionRun:
    from .report import write_run_folder
    from .runner import run_scenario

    def on_progress(sim_s: float, limit_s: float, reached: int, n: int) -> None:
        if progress is not None:
            progress(sim_s, limit_s, f"waypoints {reached}/{n}")

    record = run_scenario(
        scenario,
        seed=seed,
        time_limit_s=time_limit_s,
        gui=gui,
        video_path=video_path,
        progress=on_progress,
    )
    metrics = write_run_folder(record, out_dir)
    d = metrics.data
    return MissionRun(
        metrics,
        (
            f"waypoints reached {d['waypoints_reached']}/{len(d['waypoints'])}, "
            f"distance {d['distance_driven_m']:.2f} m in {d['sim_time_s']:.1f} s simulated, "
            f"{d['wall_time_s']:.1f} s wall ({d['real_time_factor']}× real time)",
            f"final position error {d['final_position_error_m']:.3f} m (estimate vs truth), "
            f"{d['final_goal_distance_m']:.3f} m from the last waypoint",
        ),
    )


SIM_MISSIONS: dict[str, str] = {
    "waypoints": "lunarsite.launch.missions:waypoints_entry",
    "navigate": "lunarsite.launch.navrun:navigate_entry",
    "dig_and_dump": "lunarsite.launch.dig_and_dump:dig_and_dump_entry",
}
"""Mission kinds that ``lunarsite run`` can run in simulation, by ``mission.kind``."""


def sim_entry(scenario: LoadedScenario) -> MissionEntry:
    """The entry that runs ``scenario``'s mission in simulation.

    Raises:
        ScenarioError: the mission kind does not run in simulation (``steps`` is for a
            physical rover).
    """
    kind = scenario.config.mission.kind
    target = SIM_MISSIONS.get(kind)
    if target is None:
        name = scenario.config.name
        hint = f": run it with 'lunarsite rover --port PORT {name}'" if kind == "steps" else ""
        raise ScenarioError(
            scenario.path,
            [
                f"{scenario.path}: scenario {name!r} has a {kind!r} mission, which does not "
                f"run in simulation{hint}"
            ],
        )
    module, name = target.split(":")
    entry: MissionEntry = getattr(importlib.import_module(module), name)
    return entry


def run_in_sim(
    scenario: LoadedScenario,
    out_dir: Path,
    *,
    seed: int,
    time_limit_s: float,
    gui: bool = False,
    video_path: Path | None = None,
    progress: MissionProgress | None = None,
) -> MissionRun:
    """Run ``scenario`` in simulation and write its run folder to ``out_dir``.

    Raises:
        ScenarioError: the mission kind is not one that runs in simulation.
    """
    return sim_entry(scenario)(
        scenario,
        out_dir,
        seed=seed,
        time_limit_s=time_limit_s,
        gui=gui,
        video_path=video_path,
        progress=progress,
    )
