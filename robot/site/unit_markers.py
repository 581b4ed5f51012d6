"""Which ArUco marker is printed where on which unit.

A catalog entry says which faces of a unit carry a marker and how large
(:class:`~lunarsite.robot.site.modules.Marker`); the ids are handed out per unit, in the
order the scenario lists its units, from ``first_id`` on (after the site beacons' ids).
This is what the rover knows before it starts, like a beacon survey: which id is on
which face of which unit. Where the unit stands it learns only by looking.

A marker lies on its face the way :data:`FACE_AXES` says: its image's right and up
directions and its outward normal, in the unit's frame (x along its length, y along its
width, z up; origin at the box's centre). The simulator textures its units by this and
the rover reads a unit's pose from a sighted marker by the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .modules import Face, ModuleType

__all__ = ["FACE_AXES", "MarkerLayoutError", "UnitMarker", "marker_centre_m", "unit_markers"]

Axis = tuple[float, float, float]

FACE_AXES: dict[Face, tuple[Axis, Axis, Axis]] = {
    "top": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "front": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
    "back": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0), (-1.0, 0.0, 0.0)),
    "left": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "right": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
}
"""Per face: the marker image's right, its up, and the face's outward normal (right ×
up), in the unit's frame."""


class MarkerLayoutError(ValueError):
    """More markers than the dictionary has ids."""


@dataclass(frozen=True, slots=True)
class UnitMarker:
    """One marker on one unit."""

    unit_id: str
    module: ModuleType
    face: Face
    marker_id: int
    size_m: float
    """Side of the black square, in m."""


def marker_centre_m(module: ModuleType, face: Face) -> Axis:
    """The centre of a face's marker in the unit's frame (box centre origin), in m."""
    normal = FACE_AXES[face][2]
    half = (0.5 * module.size_m[0], 0.5 * module.size_m[1], 0.5 * module.size_m[2])
    return (normal[0] * half[0], normal[1] * half[1], normal[2] * half[2])


def unit_markers(
    units: Sequence[tuple[str, ModuleType]], *, first_id: int = 0, id_count: int = 50
) -> list[UnitMarker]:
    """Hand out marker ids to the units in order, ``first_id`` on, face by face in the
    catalog's order; raises :class:`MarkerLayoutError` past the dictionary's ``id_count``
    (DICT_4X4_50 has 50)."""
    out: list[UnitMarker] = []
    next_id = first_id
    for uid, module in units:
        for m in module.markers:
            if next_id >= id_count:
                raise MarkerLayoutError(
                    f"unit {uid!r}: marker ids run out ({id_count} in the dictionary, "
                    f"from {first_id}; {len(units)} units)"
                )
            out.append(UnitMarker(uid, module, m.face, next_id, m.size_m))
            next_id += 1
    return out
