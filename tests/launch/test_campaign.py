"""Campaigns on Ray: real runs of rover_square (about 1.5 s each) in worker processes.

Each test starts its own Ray (a few seconds), so they are marked slow.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lunarsite.launch.campaign import CampaignSpec, run_campaign
from lunarsite.launch.campaign_workers import FINISHED_MARK, RunJob, execute_run, run_jobs
from lunarsite.launch.files import ScenarioError
from lunarsite.launch.sweep import Variation

pytestmark = pytest.mark.slow

LUNARSITE = [sys.executable, "-m", "lunarsite.launch.cli"]
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def _lunarsite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUNARSITE, *args], capture_output=True, text=True, env=ENV, timeout=240)


def _folder_verdicts(folder: Path) -> dict[str, bool]:
    """Each run's success as its own metrics.json says (not the campaign's table)."""
    out = {}
    for run in sorted((folder / "runs").iterdir()):
        out[run.name] = json.loads((run / "metrics.json").read_text())["success"]
    return out


def test_campaign_runs_every_seed_and_summarizes_them(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(  # a tight final-error limit that some runs miss
        "variations:\n"
        "  - {name: loose, set: {acceptance.max_final_error_m: 0.5}}\n"
        "  - {name: tight, set: {acceptance.max_final_error_m: 0.004}}\n"
    )
    folder = tmp_path / "camp"
    proc = _lunarsite(
        "campaign",
        "rover_square",
        "--seeds",
        "0:3",
        "--workers",
        "2",
        "--sweep",
        str(sweep),
        "--out",
        str(folder),
    )
    verdicts = _folder_verdicts(folder)
    assert len(verdicts) == 6
    assert set(verdicts) == {f"{v}-seed-000{s}" for v in ("loose", "tight") for s in range(3)}
    for run_id in verdicts:
        metrics = json.loads((folder / "runs" / run_id / "metrics.json").read_text())
        assert metrics["seed"] == int(run_id[-1])
    table = pq.read_table(folder / "runs.parquet").to_pylist()
    assert {r["run_id"]: r["success"] for r in table} == verdicts
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["succeeded"] == sum(verdicts.values())
    assert summary["by_variation"]["loose"]["succeeded"] == sum(
        ok for k, ok in verdicts.items() if k.startswith("loose")
    )
    failed = sorted(k for k, ok in verdicts.items() if not ok)
    assert sorted(f["run_id"] for f in summary["failures"]) == failed
    assert proc.returncode == (0 if not failed else 1), proc.stderr
    for picture in ("success.png", "metrics.png"):
        assert (folder / picture).stat().st_size > 5000
    page = (folder / "report.html").read_text()
    for run_id in verdicts:  # every run linked from the campaign's page
        assert f"runs/{run_id}/report.html" in page
    meta = json.loads((folder / "campaign.json").read_text())
    assert meta["workers"] == 2 and meta["finished"] is not None


def _die_on_seed_7(job: RunJob) -> dict[str, object]:
    if job.seed == 7:
        os._exit(3)  # a worker dying in C code looks like this to Ray
    return execute_run(job)


def test_crashed_runs_are_recorded_and_the_campaign_goes_on(tmp_path: Path) -> None:
    def job(seed: int, scenario: str) -> RunJob:
        return RunJob(f"seed-{seed}", scenario, "base", {}, seed, str(tmp_path / f"r{seed}"), 5.0)

    shipped = str(Path(__file__).resolve().parents[2] / "launch/scenarios/rover_square.yaml")
    jobs = [job(1, shipped), job(2, str(tmp_path / "gone.yaml")), job(7, shipped)]
    rows = {r["run_id"]: r for r in run_jobs(jobs, 2, None, fn=_die_on_seed_7)}
    assert rows["seed-1"]["status"] in ("succeeded", "fell_short")
    assert rows["seed-2"]["status"] == "crashed"
    assert "ScenarioError" in rows["seed-2"]["reason"] and "gone.yaml" in rows["seed-2"]["reason"]
    assert "Traceback" in (tmp_path / "r2" / "traceback.txt").read_text()
    assert rows["seed-7"]["status"] == "crashed"
    assert "died" in (tmp_path / "r7" / "traceback.txt").read_text()
    for seed in (1, 2, 7):
        mark = json.loads((tmp_path / f"r{seed}" / FINISHED_MARK).read_text())
        assert mark == rows[f"seed-{seed}"]


def test_a_scenario_that_does_not_validate_stops_before_any_run(tmp_path: Path) -> None:
    spec = CampaignSpec(
        "rover_square", (0, 1), (Variation("ok", {}), Variation("bad", {"time_limit_s": -1}))
    )
    with pytest.raises(ScenarioError, match="time_limit_s"):
        run_campaign(spec, tmp_path / "camp", workers=1)
    assert not (tmp_path / "camp").exists()


def test_execute_run_writes_a_crash_with_its_traceback(tmp_path: Path) -> None:
    job = RunJob("x", str(tmp_path / "missing.yaml"), "base", {}, 0, str(tmp_path / "x"), None)
    row = execute_run(job)
    assert row["status"] == "crashed" and row["success"] is False
    assert "missing.yaml" in (tmp_path / "x" / "traceback.txt").read_text()


def _marks(folder: Path) -> dict[str, int]:
    return {
        p.parent.name: p.stat().st_mtime_ns for p in (folder / "runs").glob(f"*/{FINISHED_MARK}")
    }


def test_killed_campaign_resumes_losing_only_runs_in_flight(tmp_path: Path) -> None:
    folder = tmp_path / "camp"
    cmd = [
        *LUNARSITE,
        "campaign",
        "rover_square",
        "--seeds",
        "0:8",
        "--workers",
        "2",
        "--out",
        str(folder),
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, env=ENV, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if (folder / "runs").is_dir() and len(_marks(folder)) >= 3:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _marks(folder)
    for _ in range(20):  # Ray's workers outlive the driver a moment; a run may still finish
        time.sleep(0.5)
        if _marks(folder) == before:
            break
        before = _marks(folder)
    started = {p.name for p in (folder / "runs").iterdir()}
    in_flight = started - set(before)
    assert 3 <= len(before) < 8, "the kill came too late to test a resume"
    assert len(in_flight) <= 2  # at most --workers runs were running
    out = _lunarsite(*cmd[len(LUNARSITE) : -1])
    # A worker left running by the kill may still finish its run before the restart (on
    # a loaded machine, after the marks above looked settled): that run is not lost
    # either, so the restart finds at least the runs counted above finished.
    m = re.search(r"(\d+) run now, (\d+) finished before", " ".join(out.stdout.split()))
    assert m is not None, out.stdout
    run_now, finished = int(m.group(1)), int(m.group(2))
    assert run_now + finished == 8 and finished >= len(before)
    assert finished <= len(before) + len(in_flight)
    after = _marks(folder)
    assert set(after) == {f"seed-{s:04d}" for s in range(8)}
    assert {k: after[k] for k in before} == before  # finished runs were not run again
    assert json.loads((folder / "campaign.json").read_text())["resumed"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_same_command_runs_on_a_ray_cluster(tmp_path: Path) -> None:
    port = _free_port()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen(
        [
            ray_bin,
            "start",
            "--head",
            "--block",
            "--port",
            str(port),
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
        ],
        env=ENV,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert head.stdout is not None
        for line in head.stdout:
            if "block forever" in line:
                break
        folder = tmp_path / "camp"
        out = _lunarsite(
            "campaign",
            "rover_square",
            "--seeds",
            "0:3",
            "--workers",
            "2",
            "--address",
            f"127.0.0.1:{port}",
            "--time-limit",  # what is tested is where the runs ran, not how they ended
            "5",
            "--out",
            str(folder),
        )
        assert out.returncode in (0, 1), out.stderr
        assert len(_marks(folder)) == 3
        meta = json.loads((folder / "campaign.json").read_text())
        assert meta["address"] == f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
