"""Runs skills against rovers: the skill contract and its results (:mod:`.skill`), skills
made of skills (:mod:`.compose`), the one control loop that owns time
(:mod:`.loop`), and its watch over sensors that stop (:mod:`.sensor_watch`)."""

from .compose import Do, Retry, Script, ScriptBody, ScriptError, Sequence
from .loop import Agent, ControlLoop, LoopEnd, LoopResult, TickInfo
from .sensor_watch import SensorLimits, SensorWatch
from .skill import ActionResult, ActionStatus, Running, Skill, Step

__all__ = [
    "ActionResult",
    "ActionStatus",
    "Agent",
    "ControlLoop",
    "Do",
    "LoopEnd",
    "LoopResult",
    "Retry",
    "Running",
    "Script",
    "ScriptBody",
    "ScriptError",
    "SensorLimits",
    "SensorWatch",
    "Sequence",
    "Skill",
    "Step",
    "TickInfo",
]
