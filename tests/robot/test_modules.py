"""The module catalog's schema and the placement checks: each refusal names the
placement and the field."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from lunarsite.robot.site.modules import (
    Catalog,
    Grasp,
    GraspEnvelope,
    Marker,
    ModuleType,
    Placement,
    PlacementError,
    check_placements,
)

PAVER = ModuleType(
    name="paver",
    kind="paver",
    size_m=(0.3, 0.2, 0.06),
    mass_kg=10.0,
    grasp=Grasp(axis="y", height_m=0.03),
    markers=(Marker(face="top", size_m=0.15),),
    max_slope_rad=0.1,
    rests_on=("ground", "paver"),
)
HAB = ModuleType(
    name="hab",
    kind="habitat",
    size_m=(0.8, 0.6, 0.5),
    mass_kg=30.0,
    grasp=Grasp(axis="x", height_m=0.25),
    max_slope_rad=0.05,
    needs_pad=True,
)
CATALOG = Catalog(types=(PAVER, HAB))
SITE = (0.0, 10.0, 0.0, 8.0)
TOOL = GraspEnvelope(payload_kg=40.0, min_opening_m=0.15, max_opening_m=1.0, max_length_m=0.9)
PAD = {"pad_a": ((4.0, 4.0), (6.0, 4.0), (6.0, 6.0), (4.0, 6.0))}


def check(*placements: Placement, **kw: object) -> None:
    check_placements(placements, CATALOG, site_bounds_m=SITE, pads=PAD, **kw)  # type: ignore[arg-type]


def test_grasp_width_and_points_follow_the_axis() -> None:
    assert PAVER.grasp_width_m == 0.2
    assert HAB.grasp_width_m == 0.8
    (a, b) = HAB.grasp_points_m()
    assert b[0] - a[0] == pytest.approx(0.8)
    assert a[1] == b[1] == 0.0 and a[2] == 0.25


def test_a_good_design_passes() -> None:
    check(
        Placement("p1", "paver", 2.0, 2.0),
        Placement("p2", "paver", 2.0, 2.0, on="p1"),
        Placement("h", "hab", 5.0, 5.0, pad="pad_a"),
        tool=TOOL,
    )


@pytest.mark.parametrize(
    ("placements", "kw", "match"),
    [
        (
            (Placement("p", "brick", 2.0, 2.0),),
            {},
            r"placements\[0\] \('p'\)\.type: 'brick' is not in",
        ),
        ((Placement("p", "paver", 9.9, 2.0),), {}, r"\('p'\): its footprint leaves the site"),
        # Turned 90°, a 0.3 × 0.2 paver at y = 7.86 reaches y = 8.01.
        ((Placement("p", "paver", 5.0, 7.86, yaw_rad=1.5707963),), {}, "leaves the site"),
        (
            (Placement("h", "hab", 5.0, 5.0, pad="pad_a"),),
            {"tool": dataclasses.replace(TOOL, payload_kg=25.0)},
            r"\.type: a hab weighs 30\.0 kg, more than the tool holds \(25\.0 kg\)",
        ),
        (
            (Placement("h", "hab", 5.0, 5.0, pad="pad_a"),),
            {"tool": dataclasses.replace(TOOL, max_opening_m=0.7)},
            r"0\.8 m across its grasp, wider",
        ),
        # The paver is 0.2 m across its grasp (y) and 0.3 m along the arms (x).
        (
            (Placement("p", "paver", 2.0, 2.0),),
            {"tool": dataclasses.replace(TOOL, min_opening_m=0.25)},
            r"0\.2 m across its grasp, narrower than the tool closes \(0\.250 m\)",
        ),
        (
            (Placement("p", "paver", 2.0, 2.0),),
            {"tool": dataclasses.replace(TOOL, max_length_m=0.25)},
            r"0\.3 m along the tool's arms",
        ),
        (
            (Placement("h", "hab", 5.0, 5.0),),
            {},
            r"\('h'\)\.pad: a hab stands only on a levelled pad",
        ),
        ((Placement("h", "hab", 5.0, 5.0, pad="pad_b"),), {}, "no level_pad design named 'pad_b'"),
        ((Placement("h", "hab", 5.7, 5.0, pad="pad_a"),), {}, "not inside pad 'pad_a'"),
        ((Placement("p", "paver", 2.0, 2.0, on="q"),), {}, r"\.on: no placement with id 'q'"),
        (
            (
                Placement("h", "hab", 5.0, 5.0, pad="pad_a"),
                Placement("p", "paver", 5.0, 5.0, on="h"),
            ),
            {},
            r"placements\[1\] \('p'\)\.on: a paver rests on ground, paver, not on a habitat",
        ),
        (
            (Placement("a", "paver", 2.0, 2.0), Placement("b", "paver", 2.12, 2.0, on="a")),
            {},
            r"\('b'\)\.on: its centre is not over 'a'.*tip off",
        ),
        (
            (Placement("a", "paver", 2.0, 2.0, on="b"), Placement("b", "paver", 2.0, 2.0, on="a")),
            {},
            "the supports form a cycle",
        ),
        (
            (Placement("a", "paver", 2.0, 2.0), Placement("a", "paver", 3.0, 2.0)),
            {},
            "id is used twice",
        ),
    ],
)
def test_refusals_name_the_placement_and_field(
    placements: tuple[Placement, ...], kw: dict[str, object], match: str
) -> None:
    with pytest.raises(PlacementError, match=match):
        check(*placements, **kw)


def test_a_slightly_off_centre_unit_still_rests() -> None:
    # 0.3 × 0.2 paver: a quarter of the smaller side (5 cm) to spare from its ends
    # leaves ±0.10 m along x for the centre; 0.09 m off is inside, 0.12 m (above) not.
    check(Placement("a", "paver", 2.0, 2.0), Placement("b", "paver", 2.09, 2.0, on="a"))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"grasp": Grasp(axis="y", height_m=0.1)}, "above its top"),
        ({"markers": (Marker(face="top", size_m=0.25),)}, "larger than its face"),
        (
            {"markers": (Marker(face="top", size_m=0.1), Marker(face="top", size_m=0.1))},
            "two markers",
        ),
        ({"mass_kg": -1.0}, "greater than 0"),
    ],
)
def test_catalog_entries_are_checked(change: dict[str, object], match: str) -> None:
    fields = PAVER.model_dump()
    fields.update(change)
    with pytest.raises(ValidationError, match=match):
        ModuleType.model_validate(fields, strict=False)


def test_a_type_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        Catalog(types=(PAVER, PAVER))
