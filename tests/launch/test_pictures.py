"""Tests for lunarsite.launch.pictures and .terrain_maps: hill shading and maps (north up)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib.figure import Figure

from lunarsite.launch.pictures import PictureError, figure_to_rgb, hillshade_rgb
from lunarsite.launch.terrain_maps import (
    terrain_map_figure,
    write_difference_map,
    write_terrain_map,
)

CELL_M = 0.05
N = 80  # cells per side: a 4 m x 4 m site
ORIGIN_XY_M = (-2.0, -2.0)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Site x, y of every cell, shaped like a height grid (row 0 = south)."""
    coords = ORIGIN_XY_M[0] + CELL_M * np.arange(N)
    x_m, y_m = np.meshgrid(coords, coords)  # y_m[j, i] grows with j: row 0 is south
    return x_m, y_m


def _cone() -> np.ndarray:
    x_m, y_m = _grid()
    heights_m: np.ndarray = np.clip(0.5 - 0.3 * np.hypot(x_m, y_m), 0.0, None)
    return heights_m


def _plateau(side: str) -> np.ndarray:
    """0.4 m plateau on one side of the site, 0 m on the other, a ramp between."""
    x_m, y_m = _grid()
    along = {"north": y_m, "south": -y_m, "east": x_m, "west": -x_m}[side]
    heights_m: np.ndarray = np.clip(along, -0.5, 0.5) * 0.4 + 0.2
    return heights_m


def _luminance(rgb: np.ndarray) -> np.ndarray:
    luminance: np.ndarray = rgb[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])
    return luminance


# ------------------------------------------------------------------- orientation


@pytest.mark.parametrize(
    ("high_side", "high_part", "low_part"),
    [
        # Image row 0 is north; column 0 is west. A quarter of the image on each side.
        ("north", np.s_[: N // 4, :], np.s_[-N // 4 :, :]),
        ("south", np.s_[-N // 4 :, :], np.s_[: N // 4, :]),
        ("east", np.s_[:, -N // 4 :], np.s_[:, : N // 4]),
        ("west", np.s_[:, : N // 4], np.s_[:, -N // 4 :]),
    ],
)
def test_hillshade_shows_north_up_east_right(
    high_side: str, high_part: tuple[slice, slice], low_part: tuple[slice, slice]
) -> None:
    rgb = hillshade_rgb(_plateau(high_side), CELL_M)
    assert rgb.dtype == np.uint8
    assert rgb.shape == (N, N, 3)
    # Both plateaus are flat, so they get the same shading; only the elevation colour
    # differs, and the colormap's lightness rises with height.
    luminance = _luminance(rgb)
    assert luminance[high_part].mean() > luminance[low_part].mean() + 60.0


def test_hillshade_lights_the_north_west_flank_of_a_cone() -> None:
    """Default sun from azimuth 315° (north-west): that flank is brighter than the SE one."""
    luminance = _luminance(hillshade_rgb(_cone(), CELL_M))
    # Flanks 0.7 m from the summit, at the same height; north-up image, so NW is up-left.
    k = round(0.5 / CELL_M)
    centre = N // 2
    north_west = luminance[centre - k - 2 : centre - k + 2, centre - k - 2 : centre - k + 2]
    south_east = luminance[centre + k - 2 : centre + k + 2, centre + k - 2 : centre + k + 2]
    assert north_west.mean() > south_east.mean() + 60.0


def test_hillshade_sun_from_south_east_swaps_the_lit_flank() -> None:
    luminance = _luminance(hillshade_rgb(_cone(), CELL_M, azimuth_deg=135.0))
    k = round(0.5 / CELL_M)
    centre = N // 2
    assert luminance[centre + k, centre + k] > luminance[centre - k, centre - k] + 60.0


def test_hillshade_of_flat_ground_and_missing_cells() -> None:
    heights = np.zeros((4, 5))
    heights[0, 0] = np.nan  # south-west corner: bottom-left of a north-up image
    rgb = hillshade_rgb(heights, 0.1)
    assert rgb.shape == (4, 5, 3)
    assert tuple(rgb[-1, 0]) == (128, 128, 128)
    assert len({tuple(px) for px in rgb.reshape(-1, 3)}) == 2


@pytest.mark.parametrize(
    ("heights", "cell", "message"),
    [
        (np.zeros(5), 0.1, r"heights_m must be a 2-D array .* shape \(5,\)"),
        (np.zeros((1, 5)), 0.1, r"heights_m .* at least 2 x 2 cells, got shape \(1, 5\)"),
        (np.zeros((3, 3)), 0.0, r"cell_size_m must be a finite positive number, got 0\.0"),
        (np.zeros((3, 3)), float("nan"), r"cell_size_m must be a finite positive number"),
    ],
)
def test_hillshade_rejects_bad_input(heights: np.ndarray, cell: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hillshade_rgb(heights, cell)


# ------------------------------------------------------------------- terrain map


def test_terrain_map_png_has_expected_size(tmp_path: Path) -> None:
    x_m = np.linspace(-1.5, 1.5, 50)
    path = tmp_path / "map.png"
    write_terrain_map(
        path,
        _cone(),
        CELL_M,
        ORIGIN_XY_M,
        paths={"true": np.c_[x_m, 0.5 * x_m, np.zeros_like(x_m)], "estimated": np.c_[x_m, x_m]},
        waypoints_xy_m=np.array([[1.0, 1.0], [-1.0, 1.0]]),
        rocks=[(0.5, -1.0, 0.3), (-1.0, -1.0, 0.2)],
        title="cone",
        waypoint_tolerance_m=0.2,
    )
    image = cv2.imread(str(path))
    assert image is not None
    height_px, width_px = image.shape[:2]
    assert 900 <= width_px <= 1100
    assert 500 <= height_px <= 1200  # a square site: roughly square picture
    # Not a blank canvas: the hill shading spans many colours.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 100


def _pixel_at(fig_rgb: np.ndarray, fig: Figure, x_m: float, y_m: float) -> np.ndarray:
    """5 x 5 pixels of the rendered figure around site point (x_m, y_m) on the map axes."""
    x_px, y_px = fig.axes[0].transData.transform((x_m, y_m))
    row = fig_rgb.shape[0] - round(float(y_px))  # display y grows upwards, image rows down
    col = round(float(x_px))
    return fig_rgb[row - 2 : row + 3, col - 2 : col + 3]


@pytest.mark.parametrize("high_side", ["north", "south"])
def test_terrain_map_puts_the_high_side_where_its_coordinates_are(high_side: str) -> None:
    """Sample the rendered map at site coordinates: catches a flipped or mirrored image."""
    fig = terrain_map_figure(_plateau(high_side), CELL_M, ORIGIN_XY_M)
    rgb = figure_to_rgb(fig)
    north = _luminance(_pixel_at(rgb, fig, 0.0, 1.6)).mean()
    south = _luminance(_pixel_at(rgb, fig, 0.0, -1.6)).mean()
    if high_side == "north":
        assert north > south + 60.0
    else:
        assert south > north + 60.0
    ax = fig.axes[0]
    assert ax.get_ylim()[0] < ax.get_ylim()[1]  # north up
    assert ax.get_xlim()[0] < ax.get_xlim()[1]  # east right


def test_terrain_map_extends_to_show_paths_outside_the_grid() -> None:
    fig = terrain_map_figure(
        _cone(), CELL_M, ORIGIN_XY_M, paths={"true": np.array([[0.0, 0.0], [3.0, 2.5]])}
    )
    ax = fig.axes[0]
    assert ax.get_xlim()[1] >= 3.0
    assert ax.get_ylim()[1] >= 2.5
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["true", "start"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"paths": {"true": np.zeros(4)}}, r"paths\['true'\] must be an \(N, 2\) array"),
        ({"waypoints_xy_m": np.zeros((3, 1))}, r"waypoints_xy_m must be an \(N, 2\) array"),
        ({"rocks": [(0.0, 0.0, -0.1)]}, r"diameter > 0 m"),
        ({"waypoint_tolerance_m": 0.0}, r"waypoint_tolerance_m must be positive"),
    ],
)
def test_terrain_map_rejects_bad_overlays(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_terrain_map(tmp_path / "m.png", _cone(), CELL_M, ORIGIN_XY_M, **kwargs)  # type: ignore[arg-type]


def test_terrain_map_into_missing_folder_raises_picture_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "map.png"
    with pytest.raises(PictureError, match="missing"):
        write_terrain_map(path, _cone(), CELL_M, ORIGIN_XY_M)


# ---------------------------------------------------------------- difference map


def test_difference_map_of_a_bump(tmp_path: Path) -> None:
    x_m, y_m = _grid()
    before = _cone()
    after = before + 0.1 * np.exp(-((x_m - 1.0) ** 2 + y_m**2) / 0.1)
    path = tmp_path / "diff.png"
    write_difference_map(path, before, after, CELL_M, ORIGIN_XY_M, title="after dumping")
    image = cv2.imread(str(path))
    assert image is not None
    height_px, width_px = image.shape[:2]
    assert width_px >= 1000
    assert height_px >= 300
    # The bump is drawn in the red end of the diverging map: strongly red pixels exist.
    assert _red_rows(image).size > 50


def _red_rows(image_bgr: np.ndarray) -> np.ndarray:
    b, g, r = (image_bgr[..., k].astype(int) for k in range(3))
    return np.nonzero((r > 150) & (r - b > 80) & (r - g > 80))[0]


def test_difference_map_shows_north_up(tmp_path: Path) -> None:
    """The same layout with the bump in the north, then the south: red must move up."""
    x_m, y_m = _grid()
    rows = {}
    for side, y0_m in (("north", 1.2), ("south", -1.2)):
        after = 0.1 * np.exp(-(x_m**2 + (y_m - y0_m) ** 2) / 0.1)
        path = tmp_path / f"{side}.png"
        write_difference_map(path, np.zeros_like(after), after, CELL_M, ORIGIN_XY_M)
        image = cv2.imread(str(path))
        assert image is not None
        rows[side] = _red_rows(image).mean()
    assert rows["north"] < rows["south"] - 30.0


def test_difference_map_rejects_different_shapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\(80, 80\).*\(40, 80\)"):
        write_difference_map(tmp_path / "d.png", _cone(), _cone()[:40], CELL_M, ORIGIN_XY_M)
    assert not (tmp_path / "d.png").exists()
