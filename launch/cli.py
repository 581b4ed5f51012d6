"""The ``lunarsite`` command line. The only place in the package that talks to the terminal.

Exit status: 0 success; 1 the run ended but fell short of its acceptance criteria (or a
link failed); 2 bad input (a scenario or rover file, an argument), reported without a
traceback; 130 interrupted by Ctrl-C (the rover stopped, the run folder written).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .files import ScenarioError
from .progress import progress_reporter
from .schema import list_rovers, list_scenarios, load_scenario

__all__ = ["main"]

EXIT_OK = 0
EXIT_SHORT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

ROVER_COMMANDS = ("rover", "teleop", "link-check", "virtual-rover")

log = logging.getLogger("lunarsite")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (value > 0.0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text!r}")
    return value


def whole_number(text: str, minimum: int = 0) -> int:
    """An argument that must be a whole number of at least ``minimum``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        what = "zero or positive" if minimum == 0 else f"at least {minimum}"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _seed(text: str) -> int:
    return whole_number(text, 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lunarsite",
        description="Lunar construction rovers: simulate scenarios, check files, benchmark.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario in simulation and write a run folder")
    run.add_argument("scenario", help="a shipped scenario name (see 'scenarios') or a YAML path")
    run.add_argument("--seed", type=_seed, default=None, help="random seed (default: the file's)")
    run.add_argument("--out", type=Path, default=None, help="run folder (default: runs/NAME-TIME)")
    run.add_argument(
        "--time-limit",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="simulated time allowed (default: the file's time_limit_s)",
    )
    run.add_argument("--gui", action="store_true", help="open the PyBullet viewer")
    run.add_argument("--video", action="store_true", help="also write video.mp4 (chase camera)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--no-mcap", action="store_true", help="do not write run.mcap (benchmarks)")
    run.add_argument(
        "--link",
        choices=["virtual", "avr"],
        default=None,
        help="firmware in the loop: drive the simulated rover through the reference "
        "firmware over a pty (virtual: the core built here; avr: the Arduino binary in "
        "simavr); real time, the controller sees only the link",
    )

    sub.add_parser("scenarios", help="list the shipped scenarios and rovers")

    plan = sub.add_parser(
        "plan",
        help="print and draw a scenario's plan without simulating (earthwork: cut/fill and "
        "hauls from its starting terrain; place_modules: the assembly order)",
    )
    plan.add_argument("scenario", help="a shipped scenario name or a YAML path")
    plan.add_argument("--seed", type=_seed, default=None, help="random seed (default: the file's)")
    plan.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for plan.png and plan.json (default: runs/NAME-plan-TIME)",
    )

    rep = sub.add_parser(
        "report", help="rebuild report.html of a run or campaign folder from its files"
    )
    rep.add_argument("folder", type=Path, help="a run folder or a campaign folder")

    val = sub.add_parser("validate", help="check a scenario file (and its rover) without running")
    val.add_argument("scenario", help="a shipped scenario name or a YAML path")

    bench = sub.add_parser("bench", help="measure speed and print JSON")
    bench.add_argument(
        "what",
        choices=["sim", "soil", "link", "nav"],
        help="sim: real-time factor of drive_test_dr (dead reckoning) and of traverse with its "
        "camera drawing the terrain whole or culled; soil: soil update, "
        "heightfield refresh and dig_and_dump soil-on vs rigid; link: setpoint and "
        "telemetry rates and round trips to the virtual rover at 115200 baud; nav: "
        "planning time on 400 × 400 cells and the traverse closed loop over --seeds × --goals",
    )
    bench.add_argument(
        "--sim-seconds",
        type=_positive_float,
        default=60.0,
        help="simulated seconds per measurement (default 60)",
    )
    bench.add_argument("--seed", type=_seed, default=0)
    bench.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="nav: traverse seeds 1..N for the closed loop (default 5; 0: planner only)",
    )
    bench.add_argument(
        "--goals", type=int, default=20, help="nav: random goals per seed (default 20)"
    )

    from .rover_cli import add_rover_commands  # rover, teleop, link-check, virtual-rover

    add_rover_commands(sub)
    from .firmware_cli import add_firmware_commands  # firmware build, firmware flash

    add_firmware_commands(sub)
    from .campaign_cli import add_campaign_command

    add_campaign_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    console = Console(stderr=True)
    out = Console()
    try:
        if args.command == "scenarios":
            return _cmd_scenarios(out)
        if args.command == "validate":
            return _cmd_validate(args, out)
        if args.command == "run":
            return _cmd_run(args, out, console)
        if args.command == "plan":
            return _cmd_plan(args, out)
        if args.command == "report":
            return _cmd_report(args, out, console)
        if args.command == "bench":
            return _cmd_bench(args, out)
        if args.command == "campaign":
            from .campaign_cli import run_campaign_command

            return run_campaign_command(args, out, console)
        if args.command == "firmware":
            from .firmware_cli import run_firmware_command

            return run_firmware_command(args, out, console)
        if args.command in ROVER_COMMANDS:
            from .rover_cli import dispatch

            return dispatch(args, out, console)
    except ScenarioError as exc:
        console.print("[bold red]error:[/] invalid input", highlight=False)
        for line in exc.problems:
            console.print(f"  {line}", highlight=False, markup=False)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        console.print("interrupted")
        return EXIT_INTERRUPTED
    raise AssertionError(f"unhandled command {args.command}")


def _cmd_scenarios(out: Console) -> int:
    table = Table(title="Scenarios", show_lines=False)
    table.add_column("name", style="bold")
    table.add_column("description")
    for name, desc in list_scenarios():
        table.add_row(name, desc)
    out.print(table)
    rovers = Table(title="Rovers")
    rovers.add_column("name", style="bold")
    rovers.add_column("description")
    for name, desc in list_rovers():
        rovers.add_row(name, desc)
    out.print(rovers)
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace, out: Console) -> int:
    scenario = load_scenario(args.scenario)
    cfg = scenario.config
    size = scenario.site_size_m
    out.print(
        f"[green]ok[/] {scenario.path}: scenario {cfg.name!r}, rover {scenario.rover.name!r} "
        f"({scenario.rover_path.name}), site {size[0]:g} × {size[1]:g} m, "
        + scenario.kind.summary(scenario.mission),
        highlight=False,
    )
    return EXIT_OK


def _cmd_plan(args: argparse.Namespace, out: Console) -> int:
    from lunarsite.robot.planning.assembly import AssemblyError
    from lunarsite.robot.planning.earthwork import PlanningError

    from .assembly_plan import preview_assembly, write_assembly_picture
    from .earthwork_plan import preview_plan, write_plan_picture

    scenario = load_scenario(args.scenario)
    seed = scenario.config.seed if args.seed is None else args.seed
    out_dir = prepare_out_dir(args.out, f"{scenario.config.name}-plan")
    preview: Any
    draw: Callable[[Any, Path], None]
    try:
        if scenario.kind.kind == "place_modules":
            preview, draw = preview_assembly(scenario), write_assembly_picture
        else:
            preview, draw = preview_plan(scenario, seed), write_plan_picture
    except (PlanningError, AssemblyError) as exc:
        out.print(f"[bold red]planning failed:[/] {exc}", highlight=False)
        return EXIT_SHORT
    for line in preview.lines():
        out.print(line, highlight=False)
    (out_dir / "plan.json").write_text(json.dumps(preview.summary(), indent=1))
    draw(preview, out_dir / "plan.png")
    out.print(f"plan: {out_dir / 'plan.png'}", highlight=False)
    return EXIT_OK


def _cmd_report(args: argparse.Namespace, out: Console, console: Console) -> int:
    from .html_report import ReportError, write_report

    try:
        path = write_report(args.folder)
    except ReportError as exc:
        console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    out.print(str(path), highlight=False, markup=False, soft_wrap=True)
    return EXIT_OK


def prepare_out_dir(out_dir: Path | None, name: str) -> Path:
    """The run folder to write (created; refused when it exists and is not empty)."""
    from .report import default_out_dir

    out_dir = out_dir or default_out_dir(name)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ScenarioError(out_dir, [f"--out {out_dir}: folder exists and is not empty"])
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(out_dir, [f"--out {out_dir}: cannot create folder: {exc}"]) from None
    return out_dir


def _cmd_run(args: argparse.Namespace, out: Console, console: Console) -> int:
    from .pictures import PictureError
    from .runner import refuse_backend, run_sim

    scenario = load_scenario(args.scenario)
    refuse_backend(scenario, "sim")
    out_dir = prepare_out_dir(args.out, scenario.config.name)
    seed = scenario.config.seed if args.seed is None else args.seed
    limit = args.time_limit or scenario.config.time_limit_s
    console.print(
        f"running [bold]{scenario.config.name}[/] seed {seed}, rover {scenario.rover.name}, "
        f"up to {limit:g} s simulated → {out_dir}",
        highlight=False,
    )
    video = out_dir / "video.mp4" if args.video else None
    if args.link is not None:
        return _cmd_run_fil(args, out, console, scenario, out_dir, seed, limit)
    with progress_reporter(console, scenario.config.name, quiet=args.quiet) as progress:
        try:
            outcome = run_sim(
                scenario,
                out_dir,
                seed=seed,
                time_limit_s=limit,
                gui=args.gui,
                video_path=video,
                progress=progress,
                log_mcap=not args.no_mcap,
            )
        except PictureError as exc:
            raise ScenarioError(out_dir, [f"video: {exc}"]) from None
    return report_outcome(out, outcome.metrics, outcome.judgement.lines, out_dir, outcome)


def _cmd_run_fil(
    args: argparse.Namespace,
    out: Console,
    console: Console,
    scenario: Any,
    out_dir: Path,
    seed: int,
    limit: float,
) -> int:
    from lunarsite.firmware_bridge.build import FirmwareBuildError
    from lunarsite.firmware_bridge.virtual_rover import VirtualRoverError

    from .runner import refuse_backend, run_fil

    refuse_backend(scenario, "serial")
    with progress_reporter(console, scenario.config.name, quiet=args.quiet) as progress:
        try:
            outcome = run_fil(
                scenario,
                out_dir,
                link=args.link,
                seed=seed,
                time_limit_s=limit,
                progress=progress,
                log_mcap=not args.no_mcap,
            )
        except (FirmwareBuildError, VirtualRoverError) as exc:
            console.print(f"error: firmware ({args.link}): {exc}", highlight=False, markup=False)
            return EXIT_SHORT
    return report_outcome(out, outcome.metrics, outcome.judgement.lines, out_dir, outcome)


def report_outcome(
    out: Console, d: dict[str, Any], lines: Sequence[str], out_dir: Path, outcome: Any
) -> int:
    """Print how a run ended and where its folder is; returns the exit status."""
    verdict = "[green]succeeded[/]" if d["success"] else "[red]fell short[/]"
    out.print(
        f"{d['scenario']} seed {d['seed']} on {d['backend']}: {verdict} "
        f"({d['status']}: {d['reason']})",
        highlight=False,
    )
    rtf = d["real_time_factor"]
    timing = f"{d['sim_time_s']:.1f} s on the rover's clock, {d['wall_time_s']:.1f} s wall" + (
        f" ({rtf}× real time)" if rtf is not None and d["backend"] == "sim" else ""
    )
    extra = [timing]
    if "final_position_error_m" in d:
        extra.append(
            f"distance {d['distance_driven_m']:.2f} m; final position error "
            f"{d['final_position_error_m']:.3f} m (estimate vs truth)"
        )
    for line in (*lines, *extra, f"run folder: {out_dir}"):
        out.print(f"  {line}", highlight=False)
    if not d["success"]:
        failed = [k for k, ok in d["acceptance"]["checks"].items() if not ok]
        out.print(f"  failed checks: {', '.join(failed)}", highlight=False)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if d["success"] else EXIT_SHORT


def _cmd_bench(args: argparse.Namespace, out: Console) -> int:
    if args.what == "link":
        from .linkbench import bench_link

        result = bench_link()  # 5 s of streaming in real time; see bench/bench_link.py
    elif args.what == "soil":
        from .bench import bench_soil

        result = bench_soil(sim_seconds=args.sim_seconds, seed=args.seed)
    elif args.what == "nav":
        from .navbench import bench_nav

        err = Console(stderr=True, highlight=False)

        def on_seed(seed: int, d: dict[str, Any]) -> None:
            err.print(
                f"traverse seed {seed}: {d['goals_reached']}/{d['goals']} goals, "
                f"{d['rock_contacts']} rock contacts, {d['tip_overs']} tip-overs, "
                f"{d['real_time_factor']}× real time"
            )

        if args.seeds > 0:
            err.print(f"traverse: {args.seeds} seeds × {args.goals} goals, a few minutes each")
        result = bench_nav(
            seed=args.seed, seeds=max(args.seeds, 0), goals=max(args.goals, 1), on_seed=on_seed
        )
    else:
        from .bench import bench_sim

        result = bench_sim(sim_seconds=args.sim_seconds, seed=args.seed)
    out.print_json(json.dumps(result))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
