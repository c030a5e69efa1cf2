"""Unit tests of flows.versioning on plain git repositories (no DVC, no Prefect)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flows.versioning import (
    DatasetVersion,
    check_name,
    list_versions,
    recover,
    resolve_version,
    workspace_root,
)


def _git(ws: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=ws, check=True, capture_output=True)


def _commit_records(ws: Path, steps: list[tuple[str, str | None]]) -> None:
    """One commit per (name, md5) step; md5 None deletes the record."""
    (ws / "data").mkdir(parents=True, exist_ok=True)
    if not (ws / ".git").exists():
        _git(ws, "init", "-q")
    for name, md5 in steps:
        rec = ws / "data" / f"{name}.dvc"
        if md5 is None:
            _git(ws, "rm", "-q", str(rec))
        else:
            rec.write_text(f"outs:\n- md5: {md5}\n  nfiles: 1\n  hash: md5\n  path: {name}\n")
            _git(ws, "add", str(rec))
        _git(ws, "commit", "-q", "-m", f"{name} {md5}")


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("demo", None),
        ("mot15-v2.1_a", None),
        ("", ValueError),
        ("latest", ValueError),
        ("../escape", ValueError),
        ("a/b", ValueError),
        (".hidden", ValueError),
        ("x" * 101, ValueError),
    ],
)
def test_check_name(name: str, error: type[Exception] | None) -> None:
    if error:
        with pytest.raises(error, match="dataset name"):
            check_name(name)
    else:
        assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "md5", "error"),
    [("demo", "ab.dir", None), ("demo", "", ValueError), ("bad/name", "ab.dir", ValueError)],
)
def test_dataset_version_validates(name: str, md5: str, error: type[Exception] | None) -> None:
    fields = {"name": name, "path": Path("/w/data/x"), "md5": md5, "git_rev": "r", "created": "t"}
    if error:
        with pytest.raises(error):
            DatasetVersion(**fields)
    else:
        assert DatasetVersion(**fields).md5 == md5


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PERCEPT_WORKSPACE": "/srv/ws"}, Path("/srv/ws")),
        ({"PERCEPT_HOME": "/srv/home"}, Path("/srv/home/workspace")),
    ],
)
def test_workspace_root(env: dict[str, str], expected: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERCEPT_WORKSPACE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert workspace_root() == expected


# steps: (name, md5 or None to delete), oldest first.
LISTING = [
    ([], False, []),
    ([("a", "a1.dir")], False, [("a", "a1.dir")]),
    ([("a", "a1.dir"), ("b", "b1.dir"), ("a", "a2.dir")], False, [("a", "a2.dir"), ("b", "b1.dir")]),
    (
        [("a", "a1.dir"), ("b", "b1.dir"), ("a", "a2.dir")],
        True,
        [("a", "a2.dir"), ("b", "b1.dir"), ("a", "a1.dir")],
    ),
    ([("a", "a1.dir"), ("b", "b1.dir"), ("b", None)], False, [("a", "a1.dir")]),
]


@pytest.mark.parametrize(("steps", "history", "expected"), LISTING)
def test_list_versions(tmp_path: Path, steps: list, history: bool, expected: list) -> None:
    if steps:
        _commit_records(tmp_path, steps)
    versions = list_versions(history=history, workspace=tmp_path)
    assert [(v.name, v.md5) for v in versions] == expected
    assert all(v.path == tmp_path / "data" / v.name and len(v.git_rev) == 40 for v in versions)


@pytest.mark.parametrize(
    ("query", "expected", "error"),
    [("latest", "b", None), ("a", "a", None), ("b", "b", None), ("c", None, "no dataset named 'c'")],
)
def test_resolve_version(tmp_path: Path, query: str, expected: str | None, error: str | None) -> None:
    _commit_records(tmp_path, [("a", "a1.dir"), ("b", "b1.dir")])
    if error:
        with pytest.raises(ValueError, match=error):
            resolve_version(query, workspace=tmp_path)
    else:
        assert resolve_version(query, workspace=tmp_path).name == expected


def test_resolve_version_without_datasets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no datasets ingested yet"):
        resolve_version(workspace=tmp_path / "missing")


def _interrupted(ws: Path, *, committed: bool) -> None:
    """Workspace state of a publish killed before (False) or after (True) its git commit."""
    _commit_records(ws, [("demo", "old.dir")])
    (ws / "data" / "demo").mkdir()
    (ws / "data" / "demo" / "f.txt").write_text("new")
    prev = ws / ".ingest" / "previous-demo"
    prev.mkdir(parents=True)
    (prev / "f.txt").write_text("old")
    (ws / ".ingest" / "build-x" / "demo").mkdir(parents=True)
    if committed:
        _commit_records(ws, [("demo", "new.dir")])
    else:
        (ws / "data" / "demo.dvc").write_text("outs:\n- md5: new.dir\n  path: demo\n")


@pytest.mark.parametrize(
    ("committed", "rolled_back", "content", "md5"),
    [(False, ["demo"], "old", "old.dir"), (True, [], "new", "new.dir")],
)
def test_recover(tmp_path: Path, committed: bool, rolled_back: list[str], content: str, md5: str) -> None:
    _interrupted(tmp_path, committed=committed)
    assert recover(tmp_path) == rolled_back
    assert (tmp_path / "data" / "demo" / "f.txt").read_text() == content
    assert md5 in (tmp_path / "data" / "demo.dvc").read_text()
    assert list((tmp_path / ".ingest").iterdir()) == []


def test_recover_without_scratch(tmp_path: Path) -> None:
    assert recover(tmp_path) == []


@pytest.mark.integration
@pytest.mark.parametrize("existing_repo", [False, True])
def test_ensure_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing_repo: bool) -> None:
    from flows.versioning import ensure_workspace

    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    if existing_repo:  # a user's repo: its ignore lines and staged work must survive untouched
        ws.mkdir()
        _git(ws, "init", "-q")
        (ws / ".gitignore").write_text("*.log")
        (ws / "notes.txt").write_text("mine")
        _git(ws, "add", "notes.txt")
    assert ensure_workspace(ws) == ws
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ws, capture_output=True, text=True).stdout
    config = (ws / ".dvc" / "config").read_text()
    assert "autostage = false" in config and str(tmp_path / "home" / "dvc-remote") in config
    assert str(tmp_path / "home" / "dvc-site") in (ws / ".dvc" / "config.local").read_text()
    assert (ws / ".gitignore").read_text().splitlines() == (["*.log"] if existing_repo else []) + ["/.ingest/"]
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=ws, capture_output=True, text=True)
    assert staged.stdout.split() == (["notes.txt"] if existing_repo else [])
    assert ensure_workspace(ws) == ws  # second call: already there, nothing new
    again = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ws, capture_output=True, text=True).stdout
    assert again == head
