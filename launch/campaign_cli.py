"""``lunarsite campaign``: one scenario over many seeds on Ray (see :mod:`.campaign`)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from .campaign import CampaignError, CampaignSpec, parse_seeds, run_campaign
from .files import ScenarioError
from .sweep import BASE, load_sweep

__all__ = ["add_campaign_command", "run_campaign_command"]


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers(text: str) -> int:
    from .cli import whole_number

    return whole_number(text, 1)


def add_campaign_command(sub: Any) -> None:
    p = sub.add_parser(
        "campaign",
        help="run one scenario over many seeds (and sweep variations) on Ray; resumable",
    )
    p.add_argument("scenario", help="a shipped scenario name or a YAML path")
    p.add_argument(
        "--seeds",
        type=_seeds,
        required=True,
        metavar="A:B",
        help="seeds A to B-1 (A:B) or a list (1,4,9)",
    )
    p.add_argument(
        "--sweep",
        type=Path,
        default=None,
        metavar="FILE",
        help="a YAML sweep file: variations of scenario keys to run each seed under",
    )
    p.add_argument(
        "--workers", type=_workers, default=None, help="runs at once (default: the CPU count)"
    )
    p.add_argument(
        "--address",
        default=None,
        help="an existing Ray cluster (as 'ray start --head' prints it); "
        "default: a local Ray for this campaign",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="campaign folder (default: runs/campaign-NAME-TIME); "
        "an existing one of the same campaign is resumed",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="simulated time allowed per run (default: the file's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run_campaign_command(args: argparse.Namespace, out: Console, console: Console) -> int:
    from .cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_SHORT
    from .report import default_out_dir
    from .schema import load_scenario

    if args.time_limit is not None and not (0.0 < args.time_limit < float("inf")):
        raise ScenarioError(
            "--time-limit", [f"--time-limit: must be positive, got {args.time_limit}"]
        )
    variations = load_sweep(args.sweep) if args.sweep is not None else [BASE]
    name = load_scenario(args.scenario).config.name
    folder = args.out or default_out_dir(f"campaign-{name}")
    spec = CampaignSpec(
        args.scenario,
        args.seeds,
        tuple(variations),
        time_limit_s=args.time_limit,
        sweep_file=str(args.sweep.resolve()) if args.sweep is not None else None,
    )
    total = len(spec.seeds) * len(spec.variations)
    workers = args.workers or os.cpu_count() or 1
    console.print(
        f"campaign [bold]{name}[/]: {len(spec.seeds)} seeds × {len(spec.variations)} "
        f"variation(s) = {total} runs on {workers} workers"
        + (f" (Ray at {args.address})" if args.address else "")
        + f" → {folder}",
        highlight=False,
    )
    counts = {"succeeded": 0, "fell_short": 0, "crashed": 0}
    wall0 = time.monotonic()

    def on_progress(done: int, total: int, row: dict[str, Any]) -> None:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        if args.quiet:
            return
        elapsed = time.monotonic() - wall0
        reason = "" if row["success"] else f": {row['reason']}"
        console.print(
            f"  [{done}/{total}] {row['run_id']} {row['status']}{reason}  "
            f"({counts['succeeded']} ok, {counts['fell_short']} short, "
            f"{counts['crashed']} crashed; {elapsed:.0f} s)",
            highlight=False,
            markup=False,
        )

    try:
        result = run_campaign(
            spec, folder, workers=args.workers, address=args.address, on_progress=on_progress
        )
    except CampaignError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    s = result.summary
    share = s["success_share"]
    lo, hi = share["ci95"]
    out.print(
        f"{name}: {s['succeeded']}/{s['runs']} runs succeeded "
        f"({100 * share['value']:.0f}%, 95% interval {100 * lo:.0f}–{100 * hi:.0f}%), "
        f"{s['crashed']} crashed; {result.ran} run now, {result.skipped} finished before; "
        f"{result.wall_time_s:.0f} s",
        highlight=False,
    )
    for f in s["failures"][:10]:
        out.print(f"  {f['run_id']}: {f['status']}: {f['reason']}", highlight=False, markup=False)
    if len(s["failures"]) > 10:
        out.print(f"  … and {len(s['failures']) - 10} more in summary.json", highlight=False)
    out.print(f"campaign folder: {folder}", highlight=False)
    return EXIT_OK if s["succeeded"] == s["runs"] else EXIT_SHORT
