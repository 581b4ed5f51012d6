"""Navigation figures: planning time on a 401 × 401 costmap, path length against the
grid's shortest path, and the closed loop on the ``traverse`` scenario.

Run: python bench/bench_nav.py [--pairs 40] [--seed 0] [--seeds 5] [--goals 20]
(the same as ``lunarsite bench nav``). Prints JSON; tests never assert on these figures.
The measures are in :mod:`lunarsite.launch.navbench`: planning on a 40 m site at 0.1 m
with 3× the typical rock density; the closed loop over traverse seeds 1..``--seeds``
with ``--goals`` random reachable goals each (share reached, rock contacts, tip-overs,
localization error at each goal against ground truth), run as a campaign on Ray with
``--workers`` at once (default: the CPU count), each run's folder kept under
``runs/bench-nav-TIME``. ``--seeds 0``: planner only.
"""

from __future__ import annotations

import argparse
import json
import sys

from lunarsite.launch.navbench import bench_nav


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--goals", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    out = bench_nav(
        pairs=args.pairs, seed=args.seed, seeds=args.seeds, goals=args.goals, workers=args.workers
    )
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
