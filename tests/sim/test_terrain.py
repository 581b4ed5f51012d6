"""Tests for the terrain (lunarsite.sim.terrain and its siblings: terrain_config,
terrain_statistics, rock_shapes, terrain_generation, dem): statistics, crater shape,
generation, DEM files."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy.spatial import ConvexHull

from lunarsite.sim.dem import load_dem
from lunarsite.sim.rock_shapes import rock_vertices
from lunarsite.sim.terrain import MAX_HEIGHTFIELD_SAMPLES, Crater, Terrain, TerrainError
from lunarsite.sim.terrain_config import (
    ClearZone,
    CraterConfig,
    DemTerrainConfig,
    ProceduralTerrainConfig,
    RockConfig,
    RoughnessConfig,
    TerrainConfig,
)
from lunarsite.sim.terrain_generation import _stamp_crater, generate_terrain
from lunarsite.sim.terrain_statistics import (
    crater_cumulative_density_per_m2,
    crater_diameter_for_density,
    crater_profile,
    fresh_depth_ratio,
    rock_cumulative_density_per_m2,
)

SITE_20 = (20.0, 20.0)
NO_ROUGHNESS = RoughnessConfig(rms_m=0.0)


def _config(
    *,
    craters: CraterConfig | None = None,
    rocks: RockConfig | None = None,
    roughness: RoughnessConfig = NO_ROUGHNESS,
    clear_zones: tuple[ClearZone, ...] = (),
) -> ProceduralTerrainConfig:
    return ProceduralTerrainConfig(
        craters=craters if craters is not None else CraterConfig(enabled=False),
        rocks=rocks if rocks is not None else RockConfig(enabled=False),
        roughness=roughness,
        clear_zones=clear_zones,
    )


# --------------------------------------------------------------------------------------
# Size-frequency distributions and depth ratios
# --------------------------------------------------------------------------------------


def test_crater_density_gives_reference_yard_counts() -> None:
    # reference/LUNAR.md: about 12 craters >= 1 m and 44 >= 0.5 m in a 20 x 20 m yard.
    area = 400.0
    assert area * crater_cumulative_density_per_m2(1.0) == pytest.approx(29174e-6 * area)
    assert round(area * crater_cumulative_density_per_m2(1.0)) == 12
    assert round(area * crater_cumulative_density_per_m2(0.5)) == 44


def test_crater_density_branches_at_80_m() -> None:
    d = np.array([10.0, 80.0, 100.0])
    got = crater_cumulative_density_per_m2(d)
    assert isinstance(got, np.ndarray)
    expected = np.array([29174 * 10**-1.92, 29174 * 80**-1.92, 156228 * 100**-2.389]) / 1e6
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert isinstance(crater_cumulative_density_per_m2(2.0), float)


@pytest.mark.parametrize("diameter_m", [0.3, 1.0, 7.0, 79.0, 80.5, 150.0, 900.0])
def test_crater_density_inverse_round_trips(diameter_m: float) -> None:
    n = np.array([crater_cumulative_density_per_m2(diameter_m)])
    assert crater_diameter_for_density(n)[0] == pytest.approx(diameter_m, rel=1e-9)


@pytest.mark.parametrize(
    ("distribution", "diameter_m", "expected_per_m2"),
    [
        ("typical", 1.0, 0.0003),
        ("typical", 0.1, 0.0003 * 0.1**-2.482),
        ("blocky", 1.0, 0.002),
        ("blocky", 0.5, 0.002 * 0.5**-2.6607),
    ],
)
def test_rock_density_golden_values(
    distribution: Literal["typical", "blocky"], diameter_m: float, expected_per_m2: float
) -> None:
    got = rock_cumulative_density_per_m2(diameter_m, distribution)
    assert got == pytest.approx(expected_per_m2, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: rock_cumulative_density_per_m2(1.0, "sandy"), "distribution"),  # type: ignore[call-overload]
        (lambda: rock_cumulative_density_per_m2(0.0, "typical"), "positive"),
        (lambda: crater_cumulative_density_per_m2(-1.0), "positive"),
        (lambda: fresh_depth_ratio(np.array([1.0, 0.0])), "positive"),
        (lambda: crater_profile(np.array([-0.1])), ">= 0"),
    ],
)
def test_statistics_reject_bad_input(call: Callable[[], object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        call()


@pytest.mark.parametrize(
    ("diameter_m", "ratio"),
    [
        (0.5, 0.10),
        (9.99, 0.10),
        (10.0, 0.11),
        (39.9, 0.11),
        (40.0, 0.13),
        (99.0, 0.13),
        (500.0, 0.13),
    ],
)
def test_fresh_depth_ratio_follows_stopar_classes(diameter_m: float, ratio: float) -> None:
    assert fresh_depth_ratio(diameter_m) == ratio


# --------------------------------------------------------------------------------------
# Crater profile and stamping
# --------------------------------------------------------------------------------------


def test_profile_floor_rim_and_outside() -> None:
    r = np.array([0.0, 0.1, 0.2, 0.99, 1.0, 1.02, 1.6, 5.0])
    p = crater_profile(r)
    np.testing.assert_allclose(p[:3], -0.181)
    np.testing.assert_allclose(p[3:6], 0.0368)
    np.testing.assert_array_equal(p[6:], 0.0)
    assert p.max() - p.min() == pytest.approx(0.2178)


@pytest.mark.parametrize("breakpoint_r", [0.2, 0.98, 1.02, 1.5])
def test_profile_is_continuous_at_breakpoints(breakpoint_r: float) -> None:
    eps = 1e-9
    below, above = crater_profile(np.array([breakpoint_r - eps, breakpoint_r + eps]))
    assert abs(below - above) < 0.005  # in units of D


def test_profile_rises_from_floor_to_rim_and_falls_outside() -> None:
    inside = crater_profile(np.linspace(0.2, 1.0, 200))
    outside = crater_profile(np.linspace(1.02, 1.5, 200))
    assert np.all(np.diff(inside) >= 0.0)
    assert np.all(np.diff(outside) <= 0.0)


@pytest.mark.parametrize(("diameter_m", "depth_m"), [(2.0, 0.2), (0.6, 0.03), (5.0, 0.35)])
def test_stamped_crater_has_its_depth(diameter_m: float, depth_m: float) -> None:
    cell = 0.05
    heights = np.zeros((161, 161))
    _stamp_crater(heights, Crater(4.0, 4.0, diameter_m, depth_m), cell)
    assert heights.max() - heights.min() == pytest.approx(depth_m, rel=0.01)
    assert heights.min() == pytest.approx(-0.181 / 0.2178 * depth_m)


def test_generated_crater_depth_matches_drawn_depth() -> None:
    # About one crater of 3-3.5 m per site (including those cutting in from outside).
    cfg = _config(craters=CraterConfig(min_diameter_m=3.0, max_diameter_m=3.5, density_scale=2.0))
    for seed in range(200):
        t = generate_terrain(cfg, SITE_20, 0.05, np.random.default_rng(seed))
        if len(t.craters) != 1:
            continue
        c = t.craters[0]
        reach = 1.5 * c.diameter_m / 2
        if reach < c.x_m < 20 - reach and reach < c.y_m < 20 - reach:
            break
    else:
        pytest.fail("no seed gave a single crater inside the site")
    assert 0.04 * c.diameter_m <= c.depth_m <= 0.10 * c.diameter_m
    h = t.heights_m
    assert h.max() - h.min() == pytest.approx(c.depth_m, rel=0.01)
    assert t.height_at(c.x_m, c.y_m) == pytest.approx(-0.181 / 0.2178 * c.depth_m, rel=1e-6)


# --------------------------------------------------------------------------------------
# Statistics of generated sites
# --------------------------------------------------------------------------------------


def _assert_poisson_mean(counts: list[int], expected: float, label: str) -> None:
    mean = float(np.mean(counts))
    stderr = math.sqrt(expected / len(counts))
    assert abs(mean - expected) < 4.0 * stderr, (
        f"{label}: mean {mean:.3f} over {len(counts)} sites, expected {expected:.3f} "
        f"± {4 * stderr:.3f}"
    )


@pytest.mark.slow
def test_crater_counts_match_viper_distribution() -> None:
    cfg = _config(craters=CraterConfig())
    w, h = SITE_20
    area = w * h
    n_max = crater_cumulative_density_per_m2(10.0)
    seeds = 200
    ge_half: list[int] = []
    ge_one: list[int] = []
    for seed in range(seeds):
        t = generate_terrain(cfg, SITE_20, 0.5, np.random.default_rng(seed))
        d = np.array([c.diameter_m for c in t.craters])
        x = np.array([c.x_m for c in t.craters])
        y = np.array([c.y_m for c in t.craters])
        depth = np.array([c.depth_m for c in t.craters])
        assert np.all((d >= 0.5) & (d <= 10.0))
        assert np.all(depth >= 0.04 * d - 1e-12)
        assert np.all(depth <= fresh_depth_ratio(d) * d + 1e-12)
        inside = (x >= 0) & (x <= w) & (y >= 0) & (y <= h)
        ge_half.append(int(np.sum(inside & (d >= 0.5))))
        ge_one.append(int(np.sum(inside & (d >= 1.0))))
    _assert_poisson_mean(ge_half, area * (crater_cumulative_density_per_m2(0.5) - n_max), ">=0.5")
    _assert_poisson_mean(ge_one, area * (crater_cumulative_density_per_m2(1.0) - n_max), ">=1")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("distribution", "site", "seeds"),
    [("typical", SITE_20, 200), ("blocky", (8.0, 8.0), 60)],
)
def test_rock_counts_match_viper_distribution(
    distribution: Literal["typical", "blocky"], site: tuple[float, float], seeds: int
) -> None:
    # rigid_min 0.1 m puts every rock of 0.1 m or more in Terrain.rocks, where it can be counted.
    rocks = RockConfig(distribution=distribution, rigid_min_diameter_m=0.1)
    cfg = _config(rocks=rocks)
    area = site[0] * site[1]
    dist = rocks.distribution
    n_max = rock_cumulative_density_per_m2(1.0, dist)
    ge_10cm: list[int] = []
    ge_20cm: list[int] = []
    for seed in range(seeds):
        t = generate_terrain(cfg, site, 0.5, np.random.default_rng(seed))
        d = np.array([r.diameter_m for r in t.rocks])
        assert np.all((d >= 0.1) & (d <= 1.0))
        ge_10cm.append(len(d))
        ge_20cm.append(int(np.sum(d >= 0.2)))
    _assert_poisson_mean(
        ge_10cm, area * (rock_cumulative_density_per_m2(0.1, dist) - n_max), ">=0.1"
    )
    _assert_poisson_mean(
        ge_20cm, area * (rock_cumulative_density_per_m2(0.2, dist) - n_max), ">=0.2"
    )


# --------------------------------------------------------------------------------------
# Generation: grid, layers, clear zones, determinism
# --------------------------------------------------------------------------------------


def test_grid_layout_of_lunabotics_arena() -> None:
    t = generate_terrain(ProceduralTerrainConfig(), (6.88, 5.0), 0.02, np.random.default_rng(1))
    assert t.shape == (251, 345)
    assert t.heights_m.dtype == np.float64
    assert t.origin_xy_m == (0.0, 0.0)
    assert t.size_xy_m == pytest.approx((6.88, 5.0))
    assert t.x_coords_m[-1] == pytest.approx(6.88)
    assert t.y_coords_m[1] == pytest.approx(0.02)
    assert not t.heights_m.flags.writeable


@pytest.mark.parametrize(
    ("size_xy_m", "cell_m", "fragment"),
    [
        ((20.0, 20.05), 0.1, "not a whole number of cells"),
        ((20.0, 20.0), 0.3, "not a whole number of cells"),
        ((200.0, 200.0), 0.1, "exceeds the PyBullet heightfield limit"),
        ((0.0, 5.0), 0.1, "must be positive"),
        ((5.0, 5.0), 0.0, "cell_size_m must be positive"),
    ],
)
def test_generate_rejects_bad_grids(
    size_xy_m: tuple[float, float], cell_m: float, fragment: str
) -> None:
    with pytest.raises(TerrainError, match=fragment):
        generate_terrain(ProceduralTerrainConfig(), size_xy_m, cell_m, np.random.default_rng(0))


def test_sample_limit_is_inclusive() -> None:
    # 2048 x 1024 samples = 2^21 exactly: allowed.
    t = generate_terrain(_config(), (2047 * 0.1, 1023 * 0.1), 0.1, np.random.default_rng(0))
    assert t.heights_m.size == MAX_HEIGHTFIELD_SAMPLES


def test_roughness_has_configured_rms_and_zero_mean() -> None:
    cfg = _config(roughness=RoughnessConfig(rms_m=0.02, hurst=0.7, correlation_length_m=1.0))
    h = generate_terrain(cfg, SITE_20, 0.1, np.random.default_rng(3)).heights_m
    assert abs(h.mean()) < 1e-12
    assert h.std() == pytest.approx(0.02, rel=1e-9)
    # Correlated: neighbours are much closer than the rms.
    assert np.abs(np.diff(h, axis=1)).mean() < 0.5 * h.std()


def test_flat_when_everything_is_off() -> None:
    h = generate_terrain(_config(), SITE_20, 0.1, np.random.default_rng(3)).heights_m
    np.testing.assert_array_equal(h, 0.0)


def test_rigid_rocks_are_not_stamped_and_small_ones_are() -> None:
    rng = np.random.default_rng(5)
    rigid_only = _config(rocks=RockConfig(min_diameter_m=0.3, rigid_min_diameter_m=0.3))
    t = generate_terrain(rigid_only, SITE_20, 0.05, rng)
    assert len(t.rocks) > 0
    np.testing.assert_array_equal(t.heights_m, 0.0)

    small_only = _config(rocks=RockConfig(distribution="blocky", rigid_min_diameter_m=1.0))
    t = generate_terrain(small_only, SITE_20, 0.05, np.random.default_rng(5))
    assert t.rocks == ()
    assert t.heights_m.min() == 0.0
    assert 0.0 < t.heights_m.max() <= 0.5 * 1.0 * (1 - 0.2)


def test_rigid_rock_shapes() -> None:
    cfg = _config(rocks=RockConfig(distribution="blocky"))
    t = generate_terrain(cfg, SITE_20, 0.1, np.random.default_rng(11))
    assert len(t.rocks) > 10
    for rock in t.rocks:
        v = rock.vertices_m
        assert v.ndim == 2
        assert v.shape[1] == 3
        assert 0.2 <= rock.diameter_m <= 1.0
        assert 0.0 <= rock.x_m <= 20.0
        assert 0.0 <= rock.y_m <= 20.0
        # Convex: every vertex is a hull vertex.
        hull = ConvexHull(v)
        assert len(hull.vertices) == len(v)
        # Largest horizontal extent is the diameter; flattened; centred on the centroid.
        xy = v[:, :2]
        extent = np.max(np.linalg.norm(xy[:, None] - xy[None, :], axis=-1))
        assert extent == pytest.approx(rock.diameter_m, rel=1e-9)
        assert rock.height_m < rock.diameter_m
        assert np.linalg.norm(v.mean(axis=0)) < 0.1 * rock.diameter_m
        assert 0.2 * rock.height_m <= rock.embed_depth_m <= 0.5 * rock.height_m


def test_rigid_rock_vertices_are_centred_on_solid_centroid() -> None:
    v = rock_vertices(0.5, np.random.default_rng(2))
    hull = ConvexHull(v)
    # Centroid by Monte Carlo over the bounding box (independent of the implementation).
    rng = np.random.default_rng(0)
    pts = rng.uniform(v.min(axis=0), v.max(axis=0), size=(200_000, 3))
    inside = np.all(pts @ hull.equations[:, :3].T + hull.equations[:, 3] <= 0.0, axis=1)
    np.testing.assert_allclose(pts[inside].mean(axis=0), 0.0, atol=2e-3)


@pytest.mark.parametrize("seed", range(4))
def test_clear_zones_keep_rocks_and_craters_out(seed: int) -> None:
    zones = (ClearZone(x_m=10.0, y_m=10.0, radius_m=3.0), ClearZone(x_m=0.0, y_m=0.0, radius_m=2.0))
    craters = CraterConfig(density_scale=3.0)
    rocks = RockConfig(distribution="blocky", density_scale=3.0)
    open_site = _config(craters=craters, rocks=rocks)
    cleared = _config(craters=craters, rocks=rocks, clear_zones=zones)
    t_open = generate_terrain(open_site, SITE_20, 0.05, np.random.default_rng(seed))
    t = generate_terrain(cleared, SITE_20, 0.05, np.random.default_rng(seed))

    xx, yy = np.meshgrid(t.x_coords_m, t.y_coords_m)
    for z in zones:
        in_zone = np.hypot(xx - z.x_m, yy - z.y_m) < z.radius_m
        # The same seed without the zone does put something there, so this can fail.
        assert np.any(t_open.heights_m[in_zone] != 0.0)
        np.testing.assert_array_equal(t.heights_m[in_zone], 0.0)
        for c in t.craters:
            assert math.hypot(c.x_m - z.x_m, c.y_m - z.y_m) > 0.75 * c.diameter_m + z.radius_m
        for r in t.rocks:
            assert math.hypot(r.x_m - z.x_m, r.y_m - z.y_m) > r.diameter_m / 2 + z.radius_m
    assert len(t.craters) < len(t_open.craters)
    assert 0 < len(t.rocks) < len(t_open.rocks)


def test_same_seed_same_terrain_and_different_seeds_differ() -> None:
    cfg = ProceduralTerrainConfig(rocks=RockConfig(distribution="blocky"))
    a = generate_terrain(cfg, SITE_20, 0.1, np.random.default_rng(42))
    b = generate_terrain(cfg, SITE_20, 0.1, np.random.default_rng(42))
    c = generate_terrain(cfg, SITE_20, 0.1, np.random.default_rng(43))
    np.testing.assert_array_equal(a.heights_m, b.heights_m)
    assert a.craters == b.craters
    assert len(a.rocks) == len(b.rocks) > 0
    for ra, rb in zip(a.rocks, b.rocks, strict=True):
        assert (ra.x_m, ra.y_m, ra.diameter_m, ra.embed_depth_m) == (
            rb.x_m,
            rb.y_m,
            rb.diameter_m,
            rb.embed_depth_m,
        )
        np.testing.assert_array_equal(ra.vertices_m, rb.vertices_m)
    assert not np.array_equal(a.heights_m, c.heights_m)
    assert a.craters != c.craters


def test_generation_does_not_touch_global_random_state() -> None:
    np.random.seed(0)  # noqa: NPY002 (the legacy global state is what is checked)
    before = np.random.get_state()[1].copy()  # type: ignore[index]  # noqa: NPY002
    generate_terrain(ProceduralTerrainConfig(), SITE_20, 0.1, np.random.default_rng(0))
    after = np.random.get_state()[1]  # type: ignore[index]  # noqa: NPY002
    np.testing.assert_array_equal(after, before)


# --------------------------------------------------------------------------------------
# Terrain value
# --------------------------------------------------------------------------------------


def _plane_terrain() -> Terrain:
    xs = np.arange(11) * 0.5 + 1.0
    ys = np.arange(7) * 0.5 - 2.0
    heights = 0.3 + 0.1 * xs[None, :] - 0.2 * ys[:, None]
    return Terrain(heights, 0.5, (1.0, -2.0))


@pytest.mark.parametrize(("x_m", "y_m"), [(1.0, -2.0), (6.0, 1.0), (2.3, -0.7), (3.75, 0.2)])
def test_height_at_is_exact_on_a_plane(x_m: float, y_m: float) -> None:
    t = _plane_terrain()
    assert t.contains(x_m, y_m)
    assert t.height_at(x_m, y_m) == pytest.approx(0.3 + 0.1 * x_m - 0.2 * y_m, abs=1e-12)


@pytest.mark.parametrize(("x_m", "y_m"), [(0.99, 0.0), (6.01, 0.0), (2.0, 1.01), (2.0, math.nan)])
def test_height_at_outside_raises(x_m: float, y_m: float) -> None:
    t = _plane_terrain()
    assert not t.contains(x_m, y_m)
    with pytest.raises(ValueError, match="outside the terrain"):
        t.height_at(x_m, y_m)


def test_terrain_rejects_bad_arrays() -> None:
    with pytest.raises(ValueError, match="2x2"):
        Terrain(np.zeros((1, 5)), 0.1)
    with pytest.raises(ValueError, match="non-finite"):
        Terrain(np.array([[0.0, np.inf], [0.0, 0.0]]), 0.1)


# --------------------------------------------------------------------------------------
# DEM files
# --------------------------------------------------------------------------------------


def test_npy_dem_round_trip_keeps_north_up(tmp_path: Path) -> None:
    ny, nx = 40, 30
    raw = 0.1 * np.arange(ny)[:, None] + 0.01 * np.arange(nx)[None, :]  # rises to the north
    np.save(tmp_path / "site.npy", raw)
    cfg = DemTerrainConfig(
        kind="dem", path="site.npy", cell_size_m=0.05, height_scale_m=2.0, height_offset_m=-1.0
    )
    t = load_dem(cfg, tmp_path)
    assert t.shape == (ny, nx)
    assert t.origin_xy_m == (0.0, 0.0)
    assert t.cell_size_m == 0.05
    assert t.size_xy_m == pytest.approx(((nx - 1) * 0.05, (ny - 1) * 0.05))
    np.testing.assert_allclose(t.heights_m, -1.0 + 2.0 * raw)
    assert t.height_at(0.0, t.size_xy_m[1]) > t.height_at(0.0, 0.0)
    # An absolute path ignores base_dir.
    absolute = cfg.model_copy(update={"path": str(tmp_path / "site.npy")})
    np.testing.assert_array_equal(load_dem(absolute, Path("/nonexistent")).heights_m, t.heights_m)


def test_png_dem_round_trip_flips_image_rows(tmp_path: Path) -> None:
    ny, nx = 25, 35
    south_up = 1000 * np.arange(ny)[:, None] + np.arange(nx)[None, :]  # rises to the north
    image = np.flipud(south_up).astype(np.uint16)  # image row 0 is the north edge
    assert cv2.imwrite(str(tmp_path / "site.png"), image)
    cfg = DemTerrainConfig(
        kind="dem", path="site.png", cell_size_m=0.1, height_scale_m=0.001, height_offset_m=-5.0
    )
    t = load_dem(cfg, tmp_path)
    assert t.shape == (ny, nx)
    np.testing.assert_allclose(t.heights_m, -5.0 + 0.001 * south_up)
    assert t.heights_m[-1, 0] == pytest.approx(-5.0 + 0.001 * 1000 * (ny - 1))  # north-west
    assert t.height_at(0.0, t.size_xy_m[1]) > t.height_at(0.0, 0.0)


def _write_npy(array: np.ndarray) -> Callable[[Path], None]:
    return lambda p: np.save(p, array)


def _write_png(array: np.ndarray) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        assert cv2.imwrite(str(p), array)

    return write


def _write_bytes(data: bytes) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        p.write_bytes(data)

    return write


def _write_huge_npy(p: Path) -> None:
    side = math.isqrt(MAX_HEIGHTFIELD_SAMPLES) + 2  # 1450^2 > 2^21
    mm = np.lib.format.open_memmap(p, mode="w+", dtype=np.float16, shape=(side, side))
    del mm


def _write_pickled_npy(p: Path) -> None:
    np.save(p, np.array([[{"a": 1}, None], [None, None]], dtype=object), allow_pickle=True)


_nan_grid = np.zeros((4, 4))
_nan_grid[1, 2] = np.nan


@pytest.mark.parametrize(
    ("name", "write", "fragment"),
    [
        ("missing.npy", None, "not found"),
        ("site.tif", _write_bytes(b"II*\x00"), "unsupported extension '.tif'"),
        ("cube.npy", _write_npy(np.zeros((3, 3, 3))), "3 dimensions; expected 2"),
        ("ints.npy", _write_npy(np.zeros((3, 3), dtype=np.int64)), "dtype int64"),
        ("nan.npy", _write_npy(_nan_grid), "1 non-finite values"),
        ("row.npy", _write_npy(np.zeros((1, 5))), "at least 2 x 2"),
        ("huge.npy", _write_huge_npy, "exceed the PyBullet heightfield limit"),
        ("pickled.npy", _write_pickled_npy, "cannot read as a .npy array"),
        ("garbage.npy", _write_bytes(b"not an array"), "cannot read as a .npy array"),
        ("bytes.png", _write_png(np.zeros((4, 4), dtype=np.uint8)), "8-bit"),
        ("rgb.png", _write_png(np.zeros((4, 4, 3), dtype=np.uint16)), "3 channels"),
        ("tiny.png", _write_png(np.zeros((1, 4), dtype=np.uint16)), "at least 2 x 2"),
        ("garbage.png", _write_bytes(b"not a png"), "cannot be read as an image"),
    ],
)
def test_bad_dem_files_are_rejected(
    tmp_path: Path, name: str, write: Callable[[Path], None] | None, fragment: str
) -> None:
    if write is not None:
        write(tmp_path / name)
    cfg = DemTerrainConfig(kind="dem", path=name, cell_size_m=0.1)
    with pytest.raises(TerrainError) as info:
        load_dem(cfg, tmp_path)
    message = str(info.value)
    assert fragment in message
    assert str(tmp_path / name) in message


# --------------------------------------------------------------------------------------
# Configuration models
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "fragment"),
    [
        (CraterConfig, {"dimaeter": 1.0}, "Extra inputs are not permitted"),
        (CraterConfig, {"min_diameter_m": 2.0, "max_diameter_m": 1.0}, "must be greater than"),
        (CraterConfig, {"min_diameter_m": 1.0, "max_diameter_m": 1.0}, "must be greater than"),
        (CraterConfig, {"density_scale": -1.0}, "greater than or equal to 0"),
        (RockConfig, {"min_diameter_m": 0.5, "max_diameter_m": 0.2}, "must be greater than"),
        (RockConfig, {"rigid_min_diameter_m": 2.0}, "rigid_min_diameter_m"),
        (RockConfig, {"min_diameter_m": 0.3, "rigid_min_diameter_m": 0.2}, "rigid_min"),
        (RockConfig, {"distribution": "gravel"}, "typical"),
        (RoughnessConfig, {"hurst": 1.0}, "less than 1"),
        (RoughnessConfig, {"rms_m": "0.1"}, "valid number"),
        (ClearZone, {"x_m": 0.0, "y_m": 0.0, "radius_m": 0.0}, "greater than 0"),
        (ProceduralTerrainConfig, {"seed": 3}, "Extra inputs are not permitted"),
        (DemTerrainConfig, {"kind": "dem", "path": "a.npy"}, "cell_size_m"),
    ],
)
def test_config_rejects_bad_values(model: type, data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        model.model_validate(data)  # type: ignore[attr-defined]


def test_terrain_config_discriminates_on_kind() -> None:
    adapter: TypeAdapter[ProceduralTerrainConfig | DemTerrainConfig] = TypeAdapter(TerrainConfig)
    dem = adapter.validate_python({"kind": "dem", "path": "x.png", "cell_size_m": 0.1})
    assert isinstance(dem, DemTerrainConfig)
    proc = adapter.validate_python({"kind": "procedural", "rocks": {"distribution": "blocky"}})
    assert isinstance(proc, ProceduralTerrainConfig)
    assert proc.rocks.distribution == "blocky"
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "lidar"})


def test_config_is_frozen() -> None:
    cfg = CraterConfig()
    with pytest.raises(ValidationError):
        cfg.min_diameter_m = 2.0  # type: ignore[misc]
