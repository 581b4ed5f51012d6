"""DEM files as a :class:`~.terrain.Terrain`: :func:`load_dem`.

``.npy``: a 2-D floating-point array, row 0 the south edge. ``.png``: 16-bit single
channel, row 0 the north edge (flipped here). The scenario's
:class:`~.terrain_config.DemTerrainConfig` gives the path, cell size, height scale and
offset.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .terrain import MAX_HEIGHTFIELD_SAMPLES, Terrain, TerrainError
from .terrain_config import DemTerrainConfig

__all__ = ["load_dem"]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


def _check_sample_count(path: Path, shape: tuple[int, ...]) -> None:
    if len(shape) == 2 and (shape[0] < 2 or shape[1] < 2):
        raise TerrainError(
            f"DEM {path}: {shape[0]} x {shape[1]} samples; at least 2 x 2 are needed"
        )
    n = math.prod(shape)
    if n > MAX_HEIGHTFIELD_SAMPLES:
        raise TerrainError(
            f"DEM {path}: {n} samples exceed the PyBullet heightfield limit of "
            f"{MAX_HEIGHTFIELD_SAMPLES}; downsample it"
        )


def _read_npy(path: Path) -> FloatArray:
    try:
        raw: Any = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise TerrainError(f"DEM {path}: cannot read as a .npy array ({exc})") from exc
    if not isinstance(raw, np.ndarray):
        raise TerrainError(f"DEM {path}: expected one array, not an archive")
    if raw.ndim != 2:
        raise TerrainError(f"DEM {path}: array has {raw.ndim} dimensions; expected 2 (ny, nx)")
    if not np.issubdtype(raw.dtype, np.floating):
        raise TerrainError(
            f"DEM {path}: dtype {raw.dtype}; expected a floating-point array of heights"
        )
    _check_sample_count(path, raw.shape)
    out: FloatArray = np.array(raw, dtype=np.float64)
    return out


def _read_png(path: Path) -> FloatArray:
    import cv2  # local: only DEM images need OpenCV

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise TerrainError(f"DEM {path}: cannot be read as an image")
    if img.ndim != 2:
        raise TerrainError(
            f"DEM {path}: image has {img.shape[2]} channels; expected a single-channel "
            f"(grayscale) 16-bit PNG"
        )
    if img.dtype != np.uint16:
        bits = img.dtype.itemsize * 8
        raise TerrainError(f"DEM {path}: image is {bits}-bit ({img.dtype}); expected 16-bit")
    _check_sample_count(path, img.shape)
    # Image row 0 is the north edge; the terrain's row 0 is the south edge.
    out: FloatArray = np.flipud(img).astype(np.float64)
    return out


def load_dem(config: DemTerrainConfig, base_dir: Path) -> Terrain:
    """Read a DEM file into a :class:`Terrain` with its origin at (0, 0).

    A relative ``config.path`` resolves against ``base_dir`` (the scenario file's folder).
    ``.npy``: a 2-D floating-point array, row 0 south. ``.png``: 16-bit single channel, row
    0 north (flipped here). Height = ``height_offset_m + height_scale_m × value``.

    Raises:
        TerrainError: the file is missing or unreadable, has an unsupported extension,
            wrong dimensions or dtype, non-finite values, fewer than 2 x 2 or more than
            :data:`MAX_HEIGHTFIELD_SAMPLES` samples. The message names the path.
    """
    path = Path(config.path).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise TerrainError(f"DEM file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        values = _read_npy(path)
    elif suffix == ".png":
        values = _read_png(path)
    else:
        raise TerrainError(
            f"DEM {path}: unsupported extension {path.suffix!r}; use .npy or a 16-bit .png"
        )
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise TerrainError(f"DEM {path}: {bad} non-finite values (NaN or infinity)")
    heights = config.height_offset_m + config.height_scale_m * values
    if not np.all(np.isfinite(heights)):
        raise TerrainError(f"DEM {path}: heights overflow after scaling")
    ny, nx = heights.shape
    logger.debug("loaded DEM %s: %d x %d samples at %.3f m", path, nx, ny, config.cell_size_m)
    return Terrain(heights, config.cell_size_m, (0.0, 0.0), (), ())
