"""Blocks of soil-grid samples: the dirty and active regions the soil grid keeps.

:class:`Box` is a block of samples ``[j0, j1) × [i0, i1)``; :func:`merge` keeps a list of
disjoint regions that may still need slumping, merging neighbours whose union costs little
more to relax than the two; :func:`pair_slices` pairs each sample of a window with its
neighbour one way (:meth:`lunarsite.sim.soil.SoilGrid.relax`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Box", "merge", "pair_slices"]

IntArray = NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Box:
    """A block of grid samples ``[j0, j1) × [i0, i1)`` (rows, columns)."""

    j0: int
    j1: int
    i0: int
    i1: int

    def union(self, other: Box | None) -> Box:
        if other is None:
            return self
        return Box(
            min(self.j0, other.j0),
            max(self.j1, other.j1),
            min(self.i0, other.i0),
            max(self.i1, other.i1),
        )

    def grown(self, cells: int, shape: tuple[int, int]) -> Box:
        return Box(
            max(0, self.j0 - cells),
            min(shape[0], self.j1 + cells),
            max(0, self.i0 - cells),
            min(shape[1], self.i1 + cells),
        )

    @property
    def slices(self) -> tuple[slice, slice]:
        return (slice(self.j0, self.j1), slice(self.i0, self.i1))

    @property
    def empty(self) -> bool:
        return self.j1 <= self.j0 or self.i1 <= self.i0

    @staticmethod
    def of_flat(flat: IntArray, nx: int) -> Box | None:
        """Bounding box of flat sample indices (None when there are none)."""
        if flat.size == 0:
            return None
        j, i = np.divmod(flat, nx)
        return Box(int(j.min()), int(j.max()) + 1, int(i.min()), int(i.max()) + 1)


def pair_slices(dj: int, di: int, ny: int, nx: int) -> tuple[tuple[slice, slice], ...]:
    """Slices (a, b) such that b = a + (dj, di) for every pair inside an ny × nx window."""
    ja = slice(0, ny - dj)
    jb = slice(dj, ny)
    if di >= 0:
        ia, ib = slice(0, nx - di), slice(di, nx)
    else:
        ia, ib = slice(-di, nx), slice(0, nx + di)
    return ((ja, ia), (jb, ib))


def _overlap(a: Box, b: Box) -> bool:
    return a.j0 < b.j1 and b.j0 < a.j1 and a.i0 < b.i1 and b.i0 < a.i1


_MERGE_SLACK_SAMPLES = 2500
"""Two relaxation regions are merged when their bounding box holds at most this many
samples more than the two: a numpy pass over a few thousand samples costs about as much as
the fixed overhead of a separate pass (four wheel ruts under a rover relax as one)."""


def _area(b: Box) -> int:
    return (b.j1 - b.j0) * (b.i1 - b.i0)


def merge(boxes: list[Box], box: Box, shape: tuple[int, int]) -> list[Box]:
    """Add ``box`` to disjoint ``boxes``, merging any that come within 4 samples of it or
    whose union wastes at most ``_MERGE_SLACK_SAMPLES``."""
    out: list[Box] = []
    for other in boxes:
        if (
            _overlap(other.grown(4, shape), box)
            or _area(box.union(other)) - _area(box) - _area(other) <= _MERGE_SLACK_SAMPLES
        ):
            box = box.union(other)
        else:
            out.append(other)
    # A merge can grow the box into others it did not touch before.
    if len(out) < len(boxes):
        return merge(out, box, shape)
    out.append(box)
    return out
