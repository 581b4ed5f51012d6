"""Mission kinds, one module each, found by name.

Every module of this package that defines ``MISSION`` (a
:class:`~.base.MissionKind`) is a mission kind: its ``kind`` is what a scenario's
``mission.kind`` names. A new kind is one new module here; nothing else changes. Modules
are imported on first use, and none loads PyBullet or pyserial at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import Judgement, MissionKind, RunRecord, RunSetup, ScenarioView, Task

__all__ = [
    "Judgement",
    "MissionKind",
    "RunRecord",
    "RunSetup",
    "ScenarioView",
    "Task",
    "mission_kinds",
]


@cache
def mission_kinds() -> dict[str, MissionKind]:
    """Every mission kind, by ``kind``, in name order."""
    kinds: dict[str, MissionKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        mission = getattr(module, "MISSION", None)
        if isinstance(mission, MissionKind):
            if mission.kind in kinds:
                raise RuntimeError(f"mission kind {mission.kind!r} is defined twice")
            kinds[mission.kind] = mission
    return kinds
