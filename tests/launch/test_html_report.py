"""report.html of run and campaign folders: built from the raw files alone, opened in
headless Chromium (every picture loads, no error), rebuilt by ``lunarsite report``."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from lunarsite.launch import report as report_module
from lunarsite.launch.cli import main
from lunarsite.launch.html_report import ReportError, write_report
from lunarsite.launch.report_plots import activity_lane, read_timeline
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario
from lunarsite.launch.video import h264_encoder
from tests.launch.conftest import VideoRun
from tests.launch.report_fixtures import (
    RUNS,
    PageCheck,
    make_campaign,
    make_serial_run,
    open_in_chromium,
)
from tests.launch.test_video import probe


def _assert_page_clean(check: PageCheck, folder: Path) -> None:
    """Chromium ran the page's check, every picture loaded, nothing failed, and the
    pictures shown are exactly the folder's PNG files."""
    assert check.root.get("data-report-checked") == "yes", check.dom[:500]
    assert check.root.get("data-broken-images") == ""
    assert "data-report-errors" not in check.root, check.root["data-report-errors"]
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert pngs, f"no pictures in {folder}"
    assert sorted(unquote(src) for src in check.images) == pngs
    assert check.root.get("data-images") == str(len(pngs))
    for href in check.links:  # relative links to files that exist
        assert "://" not in href and not href.startswith("/"), href
        assert (folder / unquote(href)).exists(), href


# --------------------------------------------------------------------------- runs
@pytest.mark.slow
def test_run_report_opens_in_chromium_with_its_pictures_and_video(
    square_video_run: VideoRun, tmp_path: Path
) -> None:
    folder = square_video_run.folder
    page = folder / "report.html"
    assert page.is_file()  # written at the end of the run
    for name in ("report_trajectory.png", "report_timeline.png", "report_energy.png"):
        assert (folder / name).is_file(), name
    check = open_in_chromium(page, tmp_path / "profile")
    _assert_page_clean(check, folder)
    assert check.sources == ["video.mp4"]
    if h264_encoder() is None:
        pytest.skip("ffmpeg with libx264 not installed (Debian package: ffmpeg)")
    assert probe(folder / "video.mp4")["codec_name"] == "h264"
    assert check.root.get("data-videos-ready") == "video.mp4 640x480"  # Chromium plays it
    text = page.read_text()
    for expected in ("rover_square seed 0", "lab_rover", "Acceptance", "all_steps_done"):
        assert expected in text
    for raw in ("metrics.json", "trajectory.csv", "events.csv"):
        assert f'href="{raw}"' in text


@pytest.mark.slow
def test_lunarsite_report_rebuilds_the_same_page_from_the_raw_files(
    square_video_run: VideoRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = tmp_path / "moved run"  # moved, with a space in its name
    shutil.copytree(square_video_run.folder, moved)
    original = (moved / "report.html").read_text()
    for made in [moved / "report.html", *moved.glob("report_*.png")]:
        made.unlink()
    assert main(["report", str(moved)]) == 0
    assert capsys.readouterr().out.strip() == str(moved / "report.html")
    assert (moved / "report.html").read_text() == original


def test_serial_run_report_without_truth_or_energy_escapes_every_text(tmp_path: Path) -> None:
    folder = make_serial_run(tmp_path / "serial")
    page = write_report(folder)
    text = page.read_text()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in text
    assert "no energy_used_wh column" in text
    assert "no ground truth" in text
    assert "<video" not in text
    assert (folder / "report_trajectory.png").is_file()
    assert not (folder / "report_energy.png").exists()


def test_serial_run_report_opens_cleanly(tmp_path: Path) -> None:
    folder = make_serial_run(tmp_path / "serial")
    check = open_in_chromium(write_report(folder), tmp_path / "profile")
    _assert_page_clean(check, folder)


def test_a_failing_report_never_loses_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(folder: Path) -> Path:
        raise RuntimeError("report bug")

    monkeypatch.setattr(report_module, "write_run_report", broken)
    out = tmp_path / "run"
    with caplog.at_level(logging.ERROR):
        outcome = run_sim(load_scenario("rover_square"), out, seed=0, time_limit_s=0.5)
    assert outcome.metrics["scenario"] == "rover_square"
    assert (out / "metrics.json").is_file() and (out / "trajectory.csv").is_file()
    assert not (out / "report.html").exists()
    assert "could not write the report" in caplog.text and "report bug" in caplog.text


# ---------------------------------------------------------------------- campaigns
def test_campaign_report_opens_in_chromium_with_its_plots(tmp_path: Path) -> None:
    folder = make_campaign(tmp_path / "campaign")
    page = write_report(folder)
    assert page == folder / "report.html"
    check = open_in_chromium(page, tmp_path / "profile")
    _assert_page_clean(check, folder)
    text = page.read_text()
    assert "2 of 4 runs succeeded: 50 % (95 % interval 15–85 %); 1 crashed" in text
    assert "rover.drive.max_wheel_torque_nm = 0.3" in text
    assert "0–1 (2 seeds)" in text
    assert "bootstrap" in text and "wilson" in text
    assert "<script>alert" not in text  # a failure's reason is text
    # every run linked to its report; the crash to its traceback
    for run_id, *_ in RUNS:
        target = "traceback.txt" if run_id == "v1-s0" else "report.html"
        assert f"runs/{run_id}/{target}" in check.links
    assert "ZeroDivisionError" in text


def test_campaign_report_of_a_campaign_just_started(tmp_path: Path) -> None:
    folder = make_campaign(tmp_path / "campaign", complete=False)
    text = write_report(folder).read_text()
    assert "not finished" in text
    assert "No runs.csv." in text
    assert "No plots." in text


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such folder"),
        (lambda p: p.mkdir(), "not a run folder (no metrics.json) nor a campaign folder"),
        (lambda p: (p.mkdir(), (p / "metrics.json").write_text("{oops")), "cannot read"),
        (lambda p: (p.mkdir(), (p / "campaign.json").write_text("[1]")), "expected a JSON"),
    ],
)
def test_report_of_a_bad_folder_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    folder = tmp_path / "some folder"
    make(folder)  # type: ignore[operator]
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and message in err
    assert "Traceback" not in err
    with pytest.raises(ReportError, match=re.escape(message)):
        write_report(folder)


# ------------------------------------------------------------------------ timeline
@pytest.mark.parametrize(
    ("activity", "lane"),
    [
        ("step 3/12 (turn)", "turn"),
        ("goal 2/20 (following), 1 reached", "following"),
        ("dig 4 (layer 1, lane 2); 3 dumps", "dig"),
        ("load 2: dump at (1.0, 2.5); 1 loads, 1 surveys", "load: dump at"),
        ("survey 3; 2 loads, 2 surveys", "survey"),
        ("waypoint 2/4", "waypoint"),
        ("calibrating; 0 dumps", "calibrating"),
    ],
)
def test_activity_lanes(activity: str, lane: str) -> None:
    assert activity_lane(activity) == lane


def test_timeline_spans_run_from_one_change_to_the_next(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "t_s,event\n0.0,step 1/3 (drive)\n4.0,step 2/3 (turn)\n6.0,step 3/3 (drive)\n"
        '9.0,steps 3/3\n9.0,"end: succeeded: all steps done, at last"\n'
    )
    timeline = read_timeline(path)
    assert [(s.lane, s.start_s, s.end_s) for s in timeline.spans] == [
        ("drive", 0.0, 4.0),
        ("turn", 4.0, 6.0),
        ("drive", 6.0, 9.0),
    ]
    assert timeline.lanes == ("drive", "turn")
    assert timeline.end_s == 9.0
    assert timeline.ending == "succeeded: all steps done, at last"
    assert json.dumps(timeline.lanes)  # plain strings
