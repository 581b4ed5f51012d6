"""Hand-made folders for the report tests: a campaign folder in the layout the campaign
runner writes, and a run folder as a serial rover leaves it (no truth, no energy), and a
way to open a page in headless Chromium and read what it found."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

NASTY = "<script>alert('x')</script> & \"quotes\""
"""Text a page must show as text, never run."""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
)


def chromium() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        pytest.skip("chromium not installed (Debian package: chromium)")
    return path


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, str | None] = {}
        self.images: list[str] = []
        self.sources: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.root = a
        elif tag == "img" and a.get("src"):
            self.images.append(str(a["src"]))
        elif tag in ("source", "video") and a.get("src"):
            self.sources.append(str(a["src"]))
        elif tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))


@dataclass(frozen=True)
class PageCheck:
    """What Chromium found after loading a page (the DOM it ended with)."""

    root: dict[str, str | None]
    images: list[str]
    sources: list[str]
    links: list[str]
    dom: str


def open_in_chromium(page: Path, profile: Path) -> PageCheck:
    """Load ``page`` in headless Chromium, let it run, and parse the DOM it ends with."""
    proc = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = _Dom()
    dom.feed(proc.stdout)
    return PageCheck(dom.root, dom.images, dom.sources, dom.links, proc.stdout)


def _plot(path: Path, title: str) -> None:
    fig = Figure(figsize=(4, 3))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0.2, 0.8, 0.5])
    ax.set_title(title)
    fig.savefig(path)


RUNS = [
    # run_id, variation, seed, status, success, reason
    ("v0-s0", "v0", 0, "succeeded", True, "all steps done"),
    ("v0-s1", "v0", 1, "fell_short", False, f"final error 0.2 m > 0.05 m {NASTY}"),
    ("v1-s0", "v1", 0, "crashed", False, "ZeroDivisionError: float division by zero"),
    ("v1-s1", "v1", 1, "succeeded", True, "all steps done"),
]


def make_campaign(folder: Path, *, complete: bool = True) -> Path:
    """A campaign folder as the campaign runner leaves it; ``complete=False``: only
    ``campaign.json`` (a campaign that has just started)."""
    folder.mkdir(parents=True, exist_ok=True)
    campaign = {
        "scenario": "rover_square",
        "scenario_file": "/somewhere/rover_square.yaml",
        "seeds": [0, 1],
        "variations": [
            {"name": "v0", "params": {}},
            {"name": "v1", "params": {"rover.drive.max_wheel_torque_nm": 0.3}},
        ],
        "workers": 2,
        "address": None,
        "started": "2026-01-02T10:00:00",
        "finished": "2026-01-02T10:05:00" if complete else None,
        "wall_time_s": 300.0 if complete else None,
    }
    (folder / "campaign.json").write_text(json.dumps(campaign, indent=1))
    if not complete:
        return folder
    with (folder / "runs.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["run_id", "variation", "seed", "status", "success", "reason", "sim_time_s",
             "wall_time_s", "final_error_m", "steps.0.duration_s"]
        )  # fmt: skip
        for k, (run_id, variation, seed, status, ok, reason) in enumerate(RUNS):
            w.writerow([run_id, variation, seed, status, ok, reason, 25.0 + k, 3.0, 0.01 * k, 4.1])
    summary = {
        "runs": 4,
        "succeeded": 2,
        "crashed": 1,
        "success_share": {"value": 0.5, "ci95": [0.15, 0.85], "method": "wilson"},
        "metrics": {
            "final_error_m": {"median": 0.015, "ci95": [0.0, 0.03], "n": 3, "method": "bootstrap"},
            "sim_time_s": {"median": 26.5, "ci95": [25.0, 28.0], "n": 3, "method": "bootstrap"},
        },
        "failures": [
            {"run_id": r[0], "seed": r[2], "variation": r[1], "status": r[3], "reason": r[5]}
            for r in RUNS
            if not r[4]
        ],
        "by_variation": {
            "v0": {
                "runs": 2,
                "succeeded": 1,
                "success_share": {"value": 0.5, "ci95": [0.09, 0.91]},
            },
            "v1": {
                "runs": 2,
                "succeeded": 1,
                "success_share": {"value": 0.5, "ci95": [0.09, 0.91]},
            },
        },
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    _plot(folder / "success_by_variation.png", "success by variation")
    _plot(folder / "final_error_m.png", "final error")
    for run_id, *_rest in RUNS:
        run_dir = folder / "runs" / run_id
        run_dir.mkdir(parents=True)
        if run_id == "v1-s0":
            (run_dir / "traceback.txt").write_text("Traceback (most recent call last):\n...\n")
        else:
            (run_dir / "report.html").write_text(f"<!DOCTYPE html><title>{run_id}</title>")
    return folder


def make_serial_run(folder: Path) -> Path:
    """A run folder as a rover over a serial link leaves it: the estimate only."""
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {
        "scenario": NASTY,
        "scenario_file": "rover_square.yaml",
        "rover": "lab_rover",
        "backend": "serial",
        "seed": 0,
        "success": False,
        "status": "execution_failed",
        "reason": f"link down {NASTY}",
        "ended_by": "fault",
        "acceptance": {"criteria": {"max_final_error_m": 0.05}, "checks": {"final_error": False}},
        "oracle": False,
        "sim_time_s": 3.0,
        "steps": [{"index": 0, "kind": "drive", "status": "succeeded"}],
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    t = np.arange(0.0, 3.0, 0.05)
    with (folder / "trajectory.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "est_x_m", "est_y_m", "est_yaw_rad", "cmd_linear_mps"])
        for ti in t:
            w.writerow([f"{ti:.4f}", f"{0.3 * ti:.5f}", "0.00000", "0.00000", "0.30000"])
    (folder / "events.csv").write_text(
        't_s,event\n0.0000,step 1/12 (drive)\n3.0000,"end: execution_failed: link down"\n'
    )
    return folder
