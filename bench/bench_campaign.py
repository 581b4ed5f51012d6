"""Campaign speed-up: the same seeds of a scenario one after another, then as a campaign.

Run: python bench/bench_campaign.py [--scenario drive_test] [--seeds 0:20] [--workers 2]

First every seed runs in this process, one after another, each into its own run folder
(the runner as ``lunarsite run`` uses it); then the same seeds run as a campaign on a
local Ray with ``--workers`` worker processes (``lunarsite campaign``), Ray's start-up
included. Prints JSON: both wall times, their ratio, and each run's outcome on both sides
(the two should agree: a run is deterministic given its seed). Tests never assert on
these figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from lunarsite.launch.bench import _machine
from lunarsite.launch.campaign import CampaignSpec, parse_seeds, run_campaign
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="drive_test")
    ap.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0:20"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    scenario = load_scenario(args.scenario)
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        sequential = {}
        for seed in args.seeds:
            outcome = run_sim(
                scenario,
                root / "sequential" / f"seed-{seed:04d}",
                seed=seed,
                time_limit_s=scenario.config.time_limit_s,
            )
            sequential[seed] = outcome.metrics["success"]
            print(f"sequential seed {seed}: {outcome.metrics['reason']}", file=sys.stderr)
        sequential_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_campaign(
            CampaignSpec(args.scenario, args.seeds),
            root / "campaign",
            workers=args.workers,
        )
        campaign_s = time.perf_counter() - t0
    parallel = {r["seed"]: r["success"] for r in result.rows}
    out = {
        "benchmark": "campaign",
        "machine": _machine(),
        "scenario": args.scenario,
        "seeds": list(args.seeds),
        "workers": args.workers,
        "sequential_wall_s": round(sequential_s, 1),
        "campaign_wall_s": round(campaign_s, 1),
        "campaign_over_sequential": round(campaign_s / sequential_s, 3),
        "succeeded_sequential": sum(sequential.values()),
        "succeeded_campaign": sum(parallel.values()),
        "outcomes_agree": sequential == parallel,
        "crashed": result.summary["crashed"],
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
