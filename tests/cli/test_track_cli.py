"""``percept track`` and ``percept eval-tracks`` through typer's CliRunner."""

from __future__ import annotations

import json
import shutil

import pytest
import typer
from typer.testing import CliRunner

from cli import track as track_cli
from perception.data.mot import read_mot


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    track_cli.register(app)
    return app


def invoke(app, args):
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("tracker", ["bytetrack", "sort", None])
def test_track_writes_results_and_json(app, test_data, tmp_path, tracker):
    out = tmp_path / "TUD-Campus.txt"
    args = ["track", str(test_data / "mot15" / "TUD-Campus"), "--out", str(out), "--json"]
    result = invoke(app, args + (["--tracker", tracker] if tracker else []))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert set(summary) == {"frames", "update_seconds", "update_hz"}
    assert summary["frames"] == 71 and summary["update_hz"] > 0
    records = read_mot(out)
    assert len(records) > 100 and records.frame.max() <= 71


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, t: ["track", str(t), "--out", str(t / "r.txt")], "det/det.txt"),
        (lambda d, t: ["track", str(d), "--out", str(t / "r.txt"), "--tracker", "x"], "unknown tracker"),
        (lambda d, t: ["eval-tracks", "--gt-root", str(d), "--results", str(t / "no")], "not a folder"),
        (lambda d, t: ["eval-tracks", "--gt-root", str(t), "--results", str(t)], "none of the 0 sequences in"),
        (lambda d, t: ["eval-tracks", "--gt-root", str(t / "no"), "--results", str(t)], "not a folder"),
    ],
)
def test_clear_errors(app, test_data, tmp_path, make_args, message):
    result = invoke(app, make_args(test_data / "mot15" / "TUD-Campus", tmp_path))
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())  # rich wraps long lines
    assert "Traceback" not in result.output


def test_eval_tracks_table_and_json(app, test_data, tmp_path):
    gt_root = tmp_path / "gt"
    shutil.copytree(test_data / "mot15" / "TUD-Campus", gt_root / "TUD-Campus")
    shutil.copytree(test_data / "mot15" / "KITTI-17", gt_root / "KITTI-17")  # no results: skipped
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(gt_root / "TUD-Campus" / "gt" / "gt.txt", results / "TUD-Campus.txt")
    result = invoke(app, ["eval-tracks", "--gt-root", str(gt_root), "--results", str(results), "--json"])
    assert result.exit_code == 0, result.output
    assert "HOTA" in result.output and "TUD-Campus" in result.output
    assert "skipped (no results): KITTI-17" in result.output
    scores = json.loads(result.output.strip().splitlines()[-1])
    assert list(scores) == ["TUD-Campus", "COMBINED"]
    assert scores["COMBINED"]["MOTA"] == pytest.approx(100.0)
