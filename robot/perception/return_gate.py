"""Which returns of a scan an elevation map may believe: a gate against false returns.

A scanner now and then reports a return at a range where nothing is (the Livox HAP's
datasheet gives a false alarm ratio of 0.01%: about one point in every two or three of
``traverse``'s scans). Cast along a ray that looks down at the ground, a return short of
the ground lies in mid-air above it, and one beyond it lies under it. Fused into a map as
it comes, one such point makes a phantom step or hole in a cell the costmap then inflates
into a lethal disc the rover's width across. On flat ground with the HAP's figures, 20
scans from one spot left 2% of the cells 2-3 m away lethal (none without false returns).

A point is believed when something else vouches for it:

1. the cell's own estimate: it lies within ``k`` sigmas of the map's height there
   (its own variance and the cell's together);
2. another return of the same scan in the same cell, within ``k`` sigmas of it: a rock
   or a fresh cut is hit by several beams at once, a false return by one;
3. a return the same cell held back within the last ``keep_updates`` scans, within
   ``k`` sigmas of it: a rock seen once from afar is seen again by the next scan.

Any other point is held back (remembered for rule 3) and not fused. A real change of the
ground is believed one scan late; a false return, which falls in a random cell of a
random scan, is never believed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..site.grid import FloatArray

__all__ = ["ReturnGate"]


@dataclass
class ReturnGate:
    """Holds, per cell of a map of ``size`` cells, the last return held back there; see
    the module docstring."""

    size: int
    sigmas: float = 4.0
    """How many sigmas a point may lie from what vouches for it."""
    keep_updates: int = 10
    """How many scans a held-back return waits for a second that agrees with it."""

    def __post_init__(self) -> None:
        self._held_z = np.full(self.size, np.nan)
        self._held_var = np.full(self.size, np.inf)
        self._held_at = np.full(self.size, -(10**9), dtype=np.int64)
        self._update = 0
        self.held_back = 0
        """Returns held back so far (not fused)."""

    def believed(
        self,
        flat: npt.NDArray[np.int64],
        z: FloatArray,
        point_var: FloatArray,
        prior_height: FloatArray,
        prior_var: FloatArray,
    ) -> npt.NDArray[np.bool_]:
        """Which of one scan's points (flat cell index ``flat``, height ``z``, variance
        ``point_var``) to fuse, given the map's flat ``prior_height``/``prior_var``
        (``inf`` variance: unknown). Remembers the rest."""
        self._update += 1
        k2 = self.sigmas**2
        h, v = prior_height[flat], prior_var[flat]
        known = np.isfinite(v)
        ok = np.zeros(len(z), dtype=bool)
        ok[known] = (z[known] - h[known]) ** 2 <= k2 * (v[known] + point_var[known])
        # 2: a partner in the same cell; sorted by height, the nearest are adjacent.
        order = np.lexsort((z, flat))
        fs, zs, vs = flat[order], z[order], point_var[order]
        pair = (fs[1:] == fs[:-1]) & ((zs[1:] - zs[:-1]) ** 2 <= k2 * (vs[1:] + vs[:-1]))
        partner = np.zeros(len(z), dtype=bool)
        partner[order[1:][pair]] = True
        partner[order[:-1][pair]] = True
        ok |= partner
        # 3: a return held back lately in the same cell.
        rest = np.nonzero(~ok)[0]
        cells = flat[rest]
        recent = self._held_at[cells] >= self._update - self.keep_updates
        agree = (z[rest] - self._held_z[cells]) ** 2 <= k2 * (
            point_var[rest] + self._held_var[cells]
        )
        again = recent & agree
        ok[rest[again]] = True
        held = rest[~again]
        self._held_z[flat[held]] = z[held]
        self._held_var[flat[held]] = point_var[held]
        self._held_at[flat[held]] = self._update
        self.held_back += len(held)
        return ok

    def forget(self, cells: npt.NDArray[np.bool_]) -> None:
        """Drop what is held back in the flat boolean mask ``cells``."""
        self._held_at[cells] = -(10**9)
