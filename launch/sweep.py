"""Sweep files: the parameter variations a campaign runs each seed under.

A sweep is a small YAML file with explicit variations, a grid, or both::

    variations:                      # each one named, each sets dotted scenario keys
      - name: slow
        set: {mission.cruise_speed_mps: 0.15}
      - name: fast
        set: {mission.cruise_speed_mps: 0.35}
    grid:                            # every combination of these values
      sim.control_hz: [10, 20]
      site.terrain.rocks.density_scale: [1.0, 2.0]

Grid variations are named after their values (``control_hz=10,density_scale=2``). With
both, each explicit variation is combined with each grid point. Every variation is
applied to the scenario file and validated before a campaign starts, so a key the
scenario schema does not know, or a value it refuses, stops the campaign with the sweep
file, the variation and the scenario's own message.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from lunarsite.robot.config import StrictModel

from .files import ScenarioError, read_yaml, validate
from .schema import LoadedScenario, load_scenario

__all__ = ["BASE", "Variation", "load_sweep", "validate_variations"]

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.=,+-]{1,64}$")]
DottedKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")]


class VariationSpec(StrictModel):
    name: Name
    """Letters, digits and ``_ . = , + -``; used in run folder names."""
    set: dict[DottedKey, Any] = Field(min_length=1)


class SweepFile(StrictModel):
    variations: list[VariationSpec] = Field(default_factory=list)
    grid: dict[DottedKey, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Variation:
    """One set of scenario overrides, by name."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


BASE = Variation("base")
"""The scenario as its file says (a campaign without a sweep)."""


def load_sweep(path: Path) -> list[Variation]:
    """The variations of a sweep file, in order.

    Raises:
        ScenarioError: the file cannot be read, does not match the schema, names a
            variation twice, or sets a key twice.
    """
    data, node = read_yaml(path)
    sweep = validate(path, SweepFile, data, node)
    explicit = [Variation(v.name, dict(v.set)) for v in sweep.variations] or [BASE]
    points = _grid_points(sweep.grid)
    problems: list[str] = []
    out: list[Variation] = []
    for var in explicit:
        for point_name, point in points:
            clash = sorted(set(var.params) & set(point))
            if clash:
                problems.append(
                    f"{path}: variation {var.name!r} and the grid both set {', '.join(clash)}"
                )
                continue
            if var is BASE:
                name = point_name or BASE.name
            else:
                name = f"{var.name}+{point_name}" if point_name else var.name
            out.append(Variation(name, {**var.params, **point}))
    names = [v.name for v in out]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{path}: variation name {name!r} is used more than once")
    if problems:
        raise ScenarioError(path, problems)
    return out


def _grid_points(grid: dict[str, list[Any]]) -> list[tuple[str, dict[str, Any]]]:
    if not grid:
        return [("", {})]
    keys = list(grid)
    points = []
    for values in itertools.product(*(grid[k] for k in keys)):
        name = ",".join(
            f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in zip(keys, values, strict=True)
        )
        points.append((name, dict(zip(keys, values, strict=True))))
    return points


def _short(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)[:24]


def validate_variations(
    scenario_ref: str, variations: list[Variation], sweep_path: Path | None
) -> dict[str, LoadedScenario]:
    """Load ``scenario_ref`` under every variation; returns them by name.

    Raises:
        ScenarioError: listing, for each variation that does not validate, the sweep
            file, the variation and what the scenario's schema said.
    """
    loaded: dict[str, LoadedScenario] = {}
    problems: list[str] = []
    for var in variations:
        try:
            loaded[var.name] = load_scenario(scenario_ref, var.params or None)
        except ScenarioError as exc:
            if var.params and sweep_path is not None:
                sets = ", ".join(f"{k}={v!r}" for k, v in var.params.items())
                problems.append(f"{sweep_path}: variation {var.name!r} ({sets}):")
                problems += [f"  {p}" for p in exc.problems]
            else:
                raise
    if problems:
        raise ScenarioError(sweep_path or scenario_ref, problems)
    return loaded
