"""The ingest flow: source parsing (unit) and real Prefect + DVC + git runs (integration)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.ingest import Source, ingest, parse_source_task
from flows.versioning import TEST_PAUSE_ENV, ensure_local, list_versions, resolve_version

REPO = Path(__file__).resolve().parents[2]


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _git(ws: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=ws, check=True, capture_output=True, text=True).stdout.strip()


# ---- unit: what a source string is -------------------------------------------------------------

PARSE = [
    ("synth:sequences=5,frames=60,seed=0", {}, "synth", {"sequences": 5, "frames": 60, "seed": 0}, None),
    ("synth", {}, "synth", {"sequences": 5, "frames": 60, "seed": 0}, None),
    ("synth: frames=7 , seed=3", {}, "synth", {"sequences": 5, "frames": 7, "seed": 3}, None),
    ("synth:fps=3", {}, None, None, "key=value with key in"),
    ("synth:frames=many", {}, None, None, "not an integer"),
    ("synth:sequences=0", {}, None, None, "sequences must be >= 1"),
    ("synth:frames", {}, None, None, "key=value"),
    ("rtsp://cam.local/stream", {"max_frames": 9}, "video", {"max_frames": 9}, None),
    ("{data}/vtest_clip.mp4", {}, "video", {"max_frames": None}, None),
    ("{data}/vtest_clip.mp4", {"max_frames": 0}, None, None, "max_frames must be >= 1"),
    ("{data}/mot15", {}, "mot", {}, None),
    ("{data}/coco/instances.json", {}, "coco", {"images": "{data}/coco/images"}, None),
    ("{data}/coco/instances.json", {"images_dir": "{data}/nope"}, None, None, "images folder"),
    ("{data}/mot15/TUD-Campus/gt/gt.txt", {}, None, None, "not a COCO .json or a video"),
    ("{data}/coco", {}, None, None, "neither dataset.yaml nor MOTChallenge"),
    ("{data}/does-not-exist", {}, None, None, "neither an existing file or folder"),
    ("", {}, None, None, "neither an existing file or folder"),
]


@pytest.mark.parametrize(("source", "kwargs", "kind", "options", "error"), PARSE)
def test_parse_source(
    test_data: Path, source: str, kwargs: dict, kind: str | None, options: dict | None, error: str | None
) -> None:
    fill = lambda s: s.format(data=test_data) if isinstance(s, str) else s  # noqa: E731
    kwargs = {"images_dir": None, "max_frames": None, **{k: fill(v) for k, v in kwargs.items()}}
    if error:
        with pytest.raises(ValueError, match=error):
            parse_source_task.fn(fill(source), **kwargs)
        return
    src = parse_source_task.fn(fill(source), **kwargs)
    assert (src.kind, dict(src.options)) == (kind, {k: fill(v) for k, v in options.items()})


def test_parse_source_dataset_folder(tmp_path: Path, make_dataset) -> None:
    src = parse_source_task.fn(str(make_dataset(tmp_path / "ds")), images_dir=None, max_frames=None)
    assert (src.kind, src.uri) == ("dataset", str(tmp_path / "ds"))


@pytest.mark.parametrize(
    ("kind", "error"), [("synth", None), ("coco", None), ("zip", ValueError), ("", ValueError)]
)
def test_source_kind(kind: str, error: type[Exception] | None) -> None:
    if error:
        with pytest.raises(error, match="unknown source kind"):
            Source(kind=kind)
    else:
        assert Source(kind=kind).kind == kind


# ---- integration: real Prefect (test server), DVC and git ---------------------------------------

@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_ingest_creates_a_pushed_committed_version(tmp_path: Path, workspace: Path, make_dataset) -> None:
    src = make_dataset(tmp_path / "src", seed=1)
    v = ingest(str(src), "tiny")
    record = (workspace / "data" / "tiny.dvc").read_text()
    assert v.md5.endswith(".dir") and f"md5: {v.md5}" in record
    assert v.git_rev == _git(workspace, "rev-parse", "HEAD")
    assert _git(workspace, "log", "-1", "--format=%H", "--", "data/tiny.dvc") == v.git_rev
    assert _git(workspace, "status", "--porcelain") == ""
    remote = tmp_path / "home" / "dvc-remote" / "files" / "md5"
    pushed = {p.parent.name + p.name for p in remote.rglob("*") if p.is_file()}
    files = {hashlib.md5(p.read_bytes()).hexdigest() for p in src.rglob("*") if p.is_file()}
    assert pushed == files | {v.md5}  # every file's object plus the folder listing
    assert _tree_hashes(v.path) == _tree_hashes(src)
    assert list_versions() == [v] and resolve_version() == v


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_reingest_identical_content_is_a_noop(tmp_path: Path, workspace: Path, make_dataset) -> None:
    first = ingest(str(make_dataset(tmp_path / "a", seed=1)), "tiny")
    head = _git(workspace, "rev-parse", "HEAD")
    again = ingest(str(make_dataset(tmp_path / "b", seed=1)), "tiny")  # same bytes, another folder
    assert again == first and _git(workspace, "rev-parse", "HEAD") == head
    assert _git(workspace, "status", "--porcelain") == ""
    changed = ingest(str(make_dataset(tmp_path / "c", seed=2)), "tiny")
    assert changed.md5 != first.md5 and changed.git_rev != head
    assert [v.md5 for v in list_versions(history=True)] == [changed.md5, first.md5]


@pytest.mark.integration
def test_killed_ingest_keeps_the_previous_version(
    tmp_path: Path, workspace: Path, prefect_api: str, make_dataset
) -> None:
    old_src, new_src = make_dataset(tmp_path / "old", seed=1), make_dataset(tmp_path / "new", seed=2)
    old = ingest(str(old_src), "tiny")
    marker = tmp_path / "paused"
    env = {**os.environ, "PREFECT_API_URL": prefect_api, TEST_PAUSE_ENV: str(marker), "PYTHONPATH": str(REPO)}
    code = "import sys; from flows.ingest import ingest; ingest(sys.argv[1], 'tiny')"
    proc = subprocess.Popen([sys.executable, "-c", code, str(new_src)], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the ingest subprocess never reached the pause point"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _tree_hashes(workspace / "data" / "tiny") == _tree_hashes(new_src)  # killed mid-swap
    assert resolve_version("tiny") == old
    assert ensure_local(old) == old.path and _tree_hashes(old.path) == _tree_hashes(old_src)
    new = ingest(str(new_src), "tiny")
    assert new.md5 != old.md5 and _tree_hashes(new.path) == _tree_hashes(new_src)
    assert list((workspace / ".ingest").iterdir()) == []


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_pull_restores_identical_files(tmp_path: Path, workspace: Path, make_dataset) -> None:
    src = make_dataset(tmp_path / "src", sequences=3, seed=1)
    v = ingest(str(src), "tiny")
    shutil.rmtree(workspace / ".dvc" / "cache")
    shutil.rmtree(v.path)
    assert ensure_local(v) == v.path
    assert _tree_hashes(v.path) == _tree_hashes(src)
    assert _git(workspace, "status", "--porcelain") == ""


def _drop_frame(root: Path) -> None:
    (root / "seq-000" / "img1" / "000002.jpg").unlink()


def _bad_class(root: Path) -> None:
    (root / "seq-001" / "gt" / "gt.txt").write_text("1,1,1,2,8,10,1,5,1\n")


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize(
    ("break_it", "message", "existing"),
    [
        (_drop_frame, "4 .jpg frames, seqinfo.ini says 5", False),
        (_bad_class, "class 5 but dataset.yaml has 1", True),
    ],
)
def test_malformed_dataset_leaves_nothing_behind(
    tmp_path: Path, workspace: Path, make_dataset, break_it, message: str, existing: bool
) -> None:
    before = ingest(str(make_dataset(tmp_path / "good", seed=1)), "tiny") if existing else None
    bad = make_dataset(tmp_path / "bad", seed=2)
    break_it(bad)
    head = _git(workspace, "rev-parse", "HEAD") if existing else None
    with pytest.raises(ValueError, match=message):
        ingest(str(bad), "tiny")
    assert list((workspace / ".ingest").iterdir()) == []
    assert _git(workspace, "status", "--porcelain") == ""
    if existing:
        assert _git(workspace, "rev-parse", "HEAD") == head and resolve_version("tiny") == before
        assert _tree_hashes(before.path) == _tree_hashes(tmp_path / "good")
    else:
        assert not (workspace / "data" / "tiny").exists() and not (workspace / "data" / "tiny.dvc").exists()
        assert list_versions() == []


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api", "workspace")
@pytest.mark.parametrize(
    ("source", "kwargs", "sequences"),
    [
        ("synth:sequences=2,frames=3,seed=0", {}, 2),
        ("{data}/mot15", {}, 3),
        ("{data}/coco/instances.json", {}, 4),
        ("{data}/vtest_clip.mp4", {"max_frames": 3}, 1),
    ],
)
def test_ingest_each_source_kind(test_data: Path, source: str, kwargs: dict, sequences: int) -> None:
    from perception.data.dataset import validate_dataset

    v = ingest(source.format(data=test_data), "kind", **kwargs)
    assert len(validate_dataset(v.path).sequences) == sequences
    assert resolve_version("kind") == v


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_api")
def test_cli_ingest_prints_new_then_unchanged(tmp_path: Path, workspace: Path, make_dataset) -> None:
    import json

    from typer.testing import CliRunner

    from cli.main import app

    src, record = make_dataset(tmp_path / "src", seed=1), tmp_path / "build" / "ingest.json"
    first = CliRunner().invoke(app, ["ingest", str(src), "--name", "tiny", "--record", str(record)])
    again = CliRunner().invoke(app, ["ingest", str(src), "--name", "tiny"])
    v = resolve_version("tiny")
    assert (first.exit_code, again.exit_code) == (0, 0), first.output + again.output
    assert "new version" in first.output and "unchanged" in again.output and v.md5 in again.output
    assert json.loads(record.read_text()) == {
        "name": "tiny", "md5": v.md5, "git_rev": v.git_rev, "created": v.created, "path": str(v.path)
    }
