"""A campaign's statistics, table, sweep files and seed ranges (no Ray, no simulation)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lunarsite.launch.campaign import parse_seeds
from lunarsite.launch.campaign_stats import (
    median_interval,
    run_row,
    summarize,
    wilson_interval,
    write_tables,
)
from lunarsite.launch.files import ScenarioError, apply_overrides
from lunarsite.launch.sweep import load_sweep, validate_variations


@pytest.mark.parametrize(("k", "n"), [(0, 5), (5, 5), (3, 10), (17, 20), (97, 100), (1, 1)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    from scipy.stats import binomtest

    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(expected.low, abs=1e-9)
    assert hi == pytest.approx(expected.high, abs=1e-9)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson_interval(6, 5)
    with pytest.raises(ValueError, match="n >= 1"):
        wilson_interval(0, 0)


def test_median_interval_covers_the_true_median_and_has_the_asymptotic_width() -> None:
    # The median of n normal samples has a standard error of sqrt(pi/2)*sigma/sqrt(n);
    # a 95% interval should hold the true median in about 95% of repeated samples.
    rng = np.random.default_rng(7)
    n, sigma, trials = 80, 2.0, 200
    hits, widths = 0, []
    for _ in range(trials):
        lo, hi = median_interval(list(rng.normal(10.0, sigma, size=n)))
        hits += lo <= 10.0 <= hi
        widths.append(hi - lo)
    assert 0.88 <= hits / trials <= 0.99
    width = 2 * 1.96 * math.sqrt(math.pi / 2) * sigma / math.sqrt(n)
    assert float(np.median(widths)) == pytest.approx(width, rel=0.25)
    x = list(rng.normal(size=20))
    assert median_interval(x) == median_interval(x)  # seeded: reproducible


def test_median_interval_of_one_value_and_of_nothing() -> None:
    assert median_interval([3.0, math.nan]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="no finite"):
        median_interval([math.nan])


def _metrics(success: bool, err: float, reason: str = "done") -> dict[str, object]:
    return {
        "success": success,
        "reason": reason,
        "seed": 1,
        "final_position_error_m": err,
        "acceptance": {"criteria": {"max_final_error_m": 0.1}, "checks": {"final": success}},
        "goals": [{"index": 0}],
    }


def test_rows_summary_and_failures() -> None:
    rows = [
        run_row("a-seed-0001", "a", 1, _metrics(True, 0.02)),
        run_row("a-seed-0002", "a", 2, _metrics(False, 0.30, "goal walled off")),
        run_row("b-seed-0001", "b", 1, None, crashed="RuntimeError: boom"),
        run_row("b-seed-0002", "b", 2, _metrics(True, 0.04)),
    ]
    assert rows[0]["acceptance.checks.final"] is True
    assert "goals" not in rows[0]  # lists stay in the run folder
    assert rows[2]["status"] == "crashed" and rows[2]["reason"] == "RuntimeError: boom"
    s = summarize(rows)
    assert (s["runs"], s["succeeded"], s["crashed"]) == (4, 2, 1)
    assert s["success_share"]["value"] == 0.5
    assert [f["run_id"] for f in s["failures"]] == ["a-seed-0002", "b-seed-0001"]
    assert s["failures"][0]["reason"] == "goal walled off"
    assert s["metrics"]["final_position_error_m"]["median"] == pytest.approx(0.04)
    assert s["metrics"]["final_position_error_m"]["n"] == 3
    assert "acceptance.criteria.max_final_error_m" not in s["metrics"]  # a setting
    assert "seed" not in s["metrics"]
    assert s["by_variation"]["b"] == {
        "runs": 2,
        "succeeded": 1,
        "crashed": 1,
        "success_share": s["by_variation"]["b"]["success_share"],
    }
    assert s["by_variation"]["b"]["success_share"]["ci95"] == pytest.approx(
        list(wilson_interval(1, 2))
    )


def test_tables_read_back_the_same(tmp_path: Path) -> None:
    import csv

    import pyarrow.parquet as pq

    rows = [
        run_row("seed-0001", "base", 1, _metrics(True, 0.02)),
        run_row("seed-0002", "base", 2, None, crashed="ValueError: x"),
    ]
    write_tables(rows, tmp_path)
    table = pq.read_table(tmp_path / "runs.parquet").to_pylist()
    assert [r["run_id"] for r in table] == ["seed-0001", "seed-0002"]
    assert table[0]["success"] is True and table[1]["success"] is False
    assert table[0]["final_position_error_m"] == pytest.approx(0.02)
    assert table[1]["final_position_error_m"] is None
    with (tmp_path / "runs.csv").open() as fh:
        read = list(csv.DictReader(fh))
    assert read[1]["status"] == "crashed" and read[1]["final_position_error_m"] == ""
    assert list(read[0])[:6] == ["run_id", "variation", "seed", "status", "success", "reason"]


@pytest.mark.parametrize(
    ("text", "seeds"), [("0:3", (0, 1, 2)), ("5:6", (5,)), ("1,4,9", (1, 4, 9))]
)
def test_parse_seeds(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["3:3", "a:b", "-1:2", "1,1", "", "1:2:3"])
def test_parse_seeds_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="expected A:B"):
        parse_seeds(text)


def test_sweep_grid_and_variations(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "variations:\n"
        "  - {name: slow, set: {time_limit_s: 60}}\n"
        "  - {name: fast, set: {time_limit_s: 30}}\n"
        "grid:\n"
        "  seed: [1, 2]\n"
        "  sim.control_hz: [10.0, 20.0]\n"
    )
    vs = load_sweep(path)
    assert len(vs) == 2 * 2 * 2
    assert vs[0].name == "slow+seed=1,control_hz=10"
    assert vs[0].params == {"time_limit_s": 60, "seed": 1, "sim.control_hz": 10.0}
    assert len({v.name for v in vs}) == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("variations:\n  - {name: a, set: {x: 1}}\n  - {name: a, set: {x: 2}}\n", "used more"),
        ("variations:\n  - {name: a, set: {x: 1}}\ngrid:\n  x: [1, 2]\n", "both set x"),
        ("variations:\n  - {name: 'a b', set: {x: 1}}\n", "name"),
        ("grid:\n  x: []\n", "grid"),
        ("bogus: 1\n", "bogus"),
    ],
)
def test_bad_sweep_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message) as info:
        load_sweep(path)
    assert str(path) in str(info.value)


def test_a_variation_the_scenario_refuses_names_the_sweep_and_the_variation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("grid:\n  time_limit_s: [60, -5]\n")
    with pytest.raises(ScenarioError) as info:
        validate_variations("rover_square", load_sweep(path), path)
    text = str(info.value)
    assert f"{path}: variation 'time_limit_s=-5'" in text
    assert "time_limit_s" in text and "time_limit_s=60" not in text


def test_overrides_set_nested_keys_and_refuse_walking_into_values(tmp_path: Path) -> None:
    data = {"a": {"b": 1}, "l": [{"x": 1}, {"x": 2}]}
    out = apply_overrides(tmp_path, data, {"a.b": 5, "l.1.x": 9, "new.key": True})
    assert out == {"a": {"b": 5}, "l": [{"x": 1}, {"x": 9}], "new": {"key": True}}
    assert data["a"] == {"b": 1}  # the file's data is untouched
    with pytest.raises(ScenarioError, match=r"a\.b is a value"):
        apply_overrides(tmp_path, data, {"a.b.c": 1})
    with pytest.raises(ScenarioError, match="not an index of a list of 2"):
        apply_overrides(tmp_path, data, {"l.5.x": 1})
