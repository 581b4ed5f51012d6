"""The shipped module catalog loads; a bad catalog file names its line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from lunarsite.launch.files import ScenarioError, load_catalog
from lunarsite.robot.site.modules import Placement, PlacementError, check_placements


def test_the_shipped_catalog_holds_the_issue_types() -> None:
    catalog, path = load_catalog()
    assert path.name == "catalog.yaml"
    kinds = {t.kind for t in catalog.types}
    assert kinds == {"paver", "habitat", "solar_panel", "beacon"}
    for t in catalog.types:  # mass against size: a denser unit than basalt is a typo
        volume = t.size_m[0] * t.size_m[1] * t.size_m[2]
        assert t.mass_kg / volume < 3000.0, t.name
    # The lab rover's gripper is 8 cm wide: its paver must fit between the jaws.
    lab = catalog.get("lab_paver")
    assert lab is not None and lab.grasp_width_m < 0.08


def test_a_shipped_habitat_off_its_pad_is_refused() -> None:
    catalog, _ = load_catalog()
    with pytest.raises(PlacementError, match="stands only on a levelled pad"):
        check_placements(
            [Placement("h", "habitat_module", 5.0, 5.0)], catalog, site_bounds_m=(0, 10, 0, 10)
        )


def test_a_bad_catalog_names_the_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "types:\n"
        "  - name: brick\n"
        "    kind: paver\n"
        "    size_m: [0.2, 0.1, 0.05]\n"
        "    mass_kg: 2.0\n"
        "    grasp: {axis: z, height_m: 0.02}\n"
        "    max_slope_rad: 0.1\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as err:
        load_catalog(str(path))
    text = str(err.value)
    assert "mine.yaml" in text and "types[0].grasp.axis" in text


def test_an_unknown_catalog_name_lists_the_shipped_ones() -> None:
    with pytest.raises(
        ScenarioError, match=r"no shipped module catalog of that name \(shipped: catalog\)"
    ):
        load_catalog("bricks")
