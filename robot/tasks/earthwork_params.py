"""What an earthwork task is given and what it reports: values, no behaviour.

:class:`EarthworkTaskParams` is the task's input (the scenario schema in
``lunarsite.launch`` converts a checked file into it); :class:`EarthworkProgress` is what
it has done so far, for the progress line and the run's report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..perception.site_survey import SurveyParams
from ..planning.earthwork import CutFill, EarthworkParams
from ..planning.hauls import HaulPlan
from ..site.design import Design, DesignScore, ModuleBox, ResolvedDesign
from ..site.grid import FloatArray, GridSpec

__all__ = ["EarthworkProgress", "EarthworkTaskParams"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class EarthworkTaskParams:
    """What an earthwork task is asked to do (values; the scenario schema converts)."""

    designs: tuple[Design, ...]
    grid: GridSpec
    """The survey grid: the work area and a margin, 2–5 cm cells."""
    planner: EarthworkParams
    modules: tuple[ModuleBox, ...] = ()
    """Rigid modules on the site: no wheel stands on them, no bucket digs them."""
    borrow_mask: BoolArray | None = None
    spoil_mask: BoolArray | None = None
    no_go_mask: BoolArray | None = None
    loads_per_round: int = 8
    done_share: float = 0.95
    max_rounds: int = 30
    survey_standoff_m: float = 1.6
    dig_speed_mps: float = 0.08
    cruise_speed_mps: float = 0.25
    approach_m: float = 0.4
    max_pass_m: float = 0.6
    grade_pads: bool = False
    """Back-blade each level pad after every round of hauls (:mod:`.earthwork_grading`).
    Off by default: on landing_pad seeds 0 and 2 the lanes it graded came out worse than
    they went in (the wheels of each lane rut the one graded before it)."""
    survey: SurveyParams = field(default_factory=SurveyParams)


@dataclass
class EarthworkProgress:
    """What is being done and what is finished (for the progress line and the report)."""

    phase: str = "start"
    rounds: int = 0
    loads: int = 0
    haul_phase: int = 0
    """0: surveying or between loads; 1: digging; 2: carrying; 3: dumping."""
    skipped: int = 0
    """Loads with no station the rover could reach."""
    grade_lanes: int = 0
    """Back-blading passes made."""
    planned_kg: float = 0.0
    planned_work_kg_m: float = 0.0
    weighings: list[tuple[float, float]] = field(default_factory=list)
    """(time in s, kg): every weighing of the bucket after a dig pass, by its own scale."""
    weighed_kg: float = 0.0
    """The loads carried, as the rover weighed them before carrying, in kg."""
    full_loads: int = 0
    """Loads weighed full (near the planned load or more) before they were carried."""
    top_ups: int = 0
    """Extra passes dug because the bucket weighed light."""
    cut_yields: list[float] = field(default_factory=list)
    """Per weighed pass: the kilograms it put in the bucket over the kilograms the
    expected surface said its swept strip held. Reported, not acted on: passes sized by
    its median (trench, four seeds, two hours) came back no fuller. It is bimodal: a pass
    whose edge the ground under the wheels set a few centimetres high takes next to
    nothing and one set low fills the bucket to the brim (trench seed 0: median 0.54,
    9 of 35 loads under 3 kg and 7 brim-full at 19.5 kg, against 6 and 3 of 32
    unsized)."""
    unsticks: int = 0
    """Bucket pushes made to get off what held the rover (a leg that slipped)."""
    scores: dict[str, DesignScore] = field(default_factory=dict)
    """Each design judged on the latest survey."""
    survey_m: FloatArray | None = None
    """The latest survey's heights (NaN unseen)."""
    designs: tuple[ResolvedDesign, ...] = ()
    first_plan: tuple[CutFill, HaulPlan] | None = None
    """The cut and fill and the loads of the first plan (for the run's picture)."""

    @property
    def bound_kg_m(self) -> float:
        """The transport bound of the first plan, in kg·m (0 before it)."""
        return self.first_plan[1].bound_kg_m if self.first_plan is not None else 0.0
