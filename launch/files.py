"""Reading the files users write: YAML that refuses duplicate keys, strict validation
whose every error names the file, the line and the field, and shipped files named
without a path.

A scenario or rover can be named without a path (``drive_test``, ``lab_rover``): the
shipped files in this package are searched. Anything that looks like a path (has a
suffix or a separator, or exists) is read as a user's file.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.site.modules import Catalog

__all__ = [
    "Finite",
    "Problem",
    "ScenarioError",
    "format_loc",
    "line_of",
    "list_rovers",
    "list_scenarios",
    "load_catalog",
    "load_rover",
    "read_yaml",
    "resolve",
    "validate",
]

Finite = Annotated[float, Field(allow_inf_nan=False)]
Loc = tuple[int | str, ...]
Problem = tuple[Loc, str]
"""A problem with a file: where (the field path in the file) and why."""
M = TypeVar("M", bound=BaseModel)
Kind = Literal["scenarios", "rovers", "modules"]


class ScenarioError(ValueError):
    """A scenario or rover file that cannot be used. ``problems`` holds one line each."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(problems))


# ---------------------------------------------------------------- YAML reading
class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, [f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, [f"{path}: cannot read: {exc}"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(path, [f"{where}: not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(path, [f"{path}: expected a mapping of keys at the top level"])
    return data, node


def apply_overrides(
    path: Path, data: dict[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """A deep copy of a file's ``data`` with each dotted key of ``overrides`` set to its
    value (``mission.goal_time_limit_s``; a list item by its index,
    ``mission.waypoints.0.x_m``). Missing mappings on the way are created; the result is
    validated like the file itself, so a key the schema does not know is refused there.

    Raises:
        ScenarioError: a key walks into something that is not a mapping or a list, or
            past the end of a list.
    """
    out = copy.deepcopy(data)
    for key, value in overrides.items():
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise ScenarioError(path, [f"{path}: override {key!r}: not a dotted key"])
        node: Any = out
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, dict):
                if last:
                    node[part] = copy.deepcopy(value)
                else:
                    node = node.setdefault(part, {})
            elif isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(
                        path,
                        [
                            f"{path}: override {key!r}: {where} is not an index of a list of "
                            f"{len(node)} items"
                        ],
                    )
                if last:
                    node[int(part)] = copy.deepcopy(value)
                else:
                    node = node[int(part)]
            else:
                raise ScenarioError(
                    path,
                    [
                        f"{path}: override {key!r}: {'.'.join(parts[:depth])} is a value "
                        f"({node!r}), not a mapping or a list"
                    ],
                )
    return out


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest YAML node along ``loc`` that exists."""
    line = None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
            if node is None:
                # Unknown keys are reported at the key itself.
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if key < len(node.value) else None
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            # Union members show up as tags ("procedural", "function-after[...]"): skip.
            if item in ("procedural", "dem") or "[" in str(item):
                continue
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    return tuple(k for k in loc if not (k in ("procedural", "dem") or "[" in str(k)))


def validate(path: Path, model: type[M], data: Any, node: yaml.Node | None, prefix: Loc = ()) -> M:
    """``data`` (read from ``path``) checked against ``model``; every problem is raised at
    once, each as ``file:line: field.path: reason``. ``prefix`` is where ``data`` sits in
    the file (``("mission",)`` for a mission block)."""
    try:
        payload = json.dumps(data, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(path, [f"{path}: unsupported value in file: {exc}"]) from None
    try:
        return model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = (*prefix, *_clean_loc(tuple(err["loc"])))
            line = line_of(node, loc)
            where = f"{path}:{line}" if line is not None else str(path)
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (not part of the schema; check the spelling)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            msg = msg.removeprefix("Value error, ")
            problems.append(f"{where}: {format_loc(loc)}: {msg}")
        raise ScenarioError(path, problems) from None


# ------------------------------------------------------------ name resolution
def _shipped(kind: Kind) -> dict[str, Path]:
    folder = resources.files("lunarsite.launch") / kind
    out: dict[str, Path] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            out[entry.name.removesuffix(".yaml")] = Path(str(entry))
    return dict(sorted(out.items()))


def resolve(ref: str, kind: Kind, base_dir: Path | None) -> Path:
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref
    if looks_like_path:
        path = Path(ref).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path
    shipped = _shipped(kind)
    if ref in shipped:
        return shipped[ref]
    if Path(ref).is_file():
        return Path(ref)
    known = ", ".join(shipped) or "none"
    noun = {"scenarios": "scenario", "rovers": "rover", "modules": "module catalog"}[kind]
    raise ScenarioError(ref, [f"{ref}: no shipped {noun} of that name (shipped: {known})"])


def list_scenarios() -> list[tuple[str, str]]:
    """Shipped scenarios as (name, description)."""
    out = []
    for name, path in _shipped("scenarios").items():
        data, _ = read_yaml(path)
        out.append((name, str(data.get("description", "")).strip()))
    return out


def list_rovers() -> list[tuple[str, str]]:
    """Shipped rovers as (name, description)."""
    out = []
    for name, path in _shipped("rovers").items():
        data, _ = read_yaml(path)
        out.append((name, str(data.get("description", "")).strip()))
    return out


def load_rover(ref: str, base_dir: Path | None = None) -> tuple[RoverConfig, Path]:
    """Read and validate a rover file, by shipped name or by path."""
    path = resolve(ref, "rovers", base_dir)
    data, node = read_yaml(path)
    return validate(path, RoverConfig, data, node), path


def load_catalog(ref: str = "catalog", base_dir: Path | None = None) -> tuple[Catalog, Path]:
    """Read and validate a module catalog, by shipped name (``catalog``) or by path."""
    path = resolve(ref, "modules", base_dir)
    data, node = read_yaml(path)
    return validate(path, Catalog, data, node), path
