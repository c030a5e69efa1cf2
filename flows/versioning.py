"""Dataset versions: what DVC and git say a dataset is, and the workspace that holds them.

Workspace. Ingested datasets live in a workspace: ``$PERCEPT_WORKSPACE`` if set, else
``$PERCEPT_HOME/workspace``. On first use it is created as its own git repository with DVC
initialised in it, so ingesting never commits into the source checkout ``percept`` runs from::

    <workspace>/.git, .dvc/        git + DVC (core.autostage off, analytics off)
    <workspace>/data/<name>/       the files of dataset <name> (git-ignored, DVC-tracked)
    <workspace>/data/<name>.dvc    DVC's record of them (md5 of the folder, size, file count)
    <workspace>/.ingest/           scratch space of a running ingest (same filesystem as data/)

DVC's cache is ``<workspace>/.dvc/cache``. The default remote is a local folder,
``$PERCEPT_HOME/dvc-remote``; set ``$PERCEPT_DVC_REMOTE`` before the workspace is first created
to use another (an ``s3://`` URL needs DVC's ``dvc-s3`` plugin installed). DVC's per-repo state
(``core.site_cache_dir``) goes to ``$PERCEPT_HOME/dvc-site`` rather than ``/var/tmp/dvc``.

A dataset version is the md5 that ``data/<name>.dvc`` holds at a git commit, plus that commit.
``publish`` swaps a new folder in and commits; an interrupted publish is rolled back by
``recover`` (run by the next ingest and by ``ensure_local``), so the committed version stays
readable. DVC runs in process through ``dvc.repo.Repo`` (an interpreter per ``dvc`` command costs
seconds on a busy machine); git runs as a subprocess.

Test hook: when ``$PERCEPT_INGEST_TEST_PAUSE`` names a file, ``publish`` writes its pid there and
sleeps right after swapping the new folder in, so a test can kill it at the worst moment. That
single check in ``publish`` is the hook's whole footprint.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from perception.config import percept_home

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Variables that would point git at another repository (set inside git hooks, for example).
_GIT_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")
TEST_PAUSE_ENV = "PERCEPT_INGEST_TEST_PAUSE"


@dataclass(frozen=True)
class DatasetVersion:
    """One committed version of a dataset.

    name: dataset name (folder under ``<workspace>/data``). path: that folder.
    md5: DVC's md5 of the folder as the ``.dvc`` file writes it (``<hex>.dir``).
    git_rev: the workspace commit that recorded this md5. created: its commit time, ISO 8601.
    """

    name: str
    path: Path
    md5: str
    git_rev: str
    created: str

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.md5:
            raise ValueError(f"dataset version {self.name!r} needs an md5, got {self.md5!r}")


def check_name(name: str) -> str:
    """``name`` if it can be a dataset folder name, else ``ValueError``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == "latest":
        raise ValueError(
            f"dataset name {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
            "start with a letter or digit, and not be 'latest'"
        )
    return name


def workspace_root() -> Path:
    """``$PERCEPT_WORKSPACE`` if set, else ``$PERCEPT_HOME/workspace`` (not created here)."""
    env = os.environ.get("PERCEPT_WORKSPACE")
    return Path(env).expanduser().resolve() if env else percept_home() / "workspace"


def _run(
    args: list[str], cwd: Path, *, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
    proc = subprocess.run(args, cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True)
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"`{' '.join(args)}` failed in {cwd}: {detail[0]}")
    return proc


def git(ws: Path, *args: str, check: bool = True) -> str:
    return _run(["git", "-c", "commit.gpgsign=false", *args], ws, check=check).stdout


@contextmanager
def dvc_repo(ws: Path) -> Iterator[Any]:
    """DVC's ``Repo`` for ``ws``, in process: one import instead of an interpreter per command.

    DVC's INFO chatter is silenced; its errors come out as ``RuntimeError`` with DVC's sentence.
    """
    from dvc.exceptions import DvcException
    from dvc.logger import set_loggers_level
    from dvc.repo import Repo

    with set_loggers_level(logging.WARNING):
        try:
            with Repo(str(ws)) as repo:
                yield repo
        except DvcException as exc:
            raise RuntimeError(f"DVC failed in {ws}: {exc}") from exc


def _has_head(ws: Path) -> bool:
    return _run(["git", "rev-parse", "--verify", "-q", "HEAD"], ws, check=False).returncode == 0


def ensure_workspace(root: Path | None = None) -> Path:
    """The workspace folder, created on first use (git init, dvc init, remote, first commit).

    A folder that already has ``.dvc/`` and a commit is used as it is. A half-created one (a
    crash during creation) is initialised again.
    """
    ws = Path(root) if root is not None else workspace_root()
    if (ws / ".dvc").is_dir() and (ws / ".git").exists() and _has_head(ws):
        return ws
    ws.mkdir(parents=True, exist_ok=True)
    if not (ws / ".git").exists():
        git(ws, "init", "-q")
    if not git(ws, "config", "user.email", check=False).strip():
        git(ws, "config", "user.email", "percept@localhost")
        git(ws, "config", "user.name", "percept")
    home = percept_home()
    _dvc_init(ws, site_cache=home / "dvc-site")
    remote = os.environ.get("PERCEPT_DVC_REMOTE") or str(home / "dvc-remote")
    from dvc.config import Config

    config = Config(dvc_dir=str(ws / ".dvc"), validate=False)
    with config.edit("repo") as conf:
        conf["core"].update(autostage="false", analytics="false", check_update="false", remote="percept")
        conf["remote"]["percept"] = {"url": remote}
    with config.edit("local") as conf:
        conf["core"]["site_cache_dir"] = str(home / "dvc-site")
    for ignore in (ws / ".gitignore", ws / ".dvcignore"):
        _append_line(ignore, "/.ingest/")
    (ws / "data").mkdir(exist_ok=True)
    ours = (".gitignore", ".dvcignore", ".dvc/config", ".dvc/.gitignore")
    git(ws, "add", "--", *ours)
    git(ws, "commit", "-q", "-m", "percept workspace: git + DVC with a default remote", "--", *ours)
    return ws


def _append_line(path: Path, line: str) -> None:
    """Add ``line`` to a text file unless it is there (an existing repo keeps its own lines)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if line not in text.splitlines():
        sep = "" if not text or text.endswith("\n") else "\n"
        path.write_text(f"{text}{sep}{line}\n", encoding="utf-8")


def _dvc_init(ws: Path, *, site_cache: Path) -> None:
    """``dvc init``; a subprocess so its state lands in ``site_cache`` before the config says so."""
    env = {
        "DVC_SITE_CACHE_DIR": os.environ.get("DVC_SITE_CACHE_DIR", str(site_cache)),
        "DVC_NO_ANALYTICS": "1",
    }
    _run([sys.executable, "-m", "dvc", "init", "-q", "--force"], ws, env=env)


@contextmanager
def workspace_lock(ws: Path) -> Iterator[None]:
    """Exclusive lock on the workspace for one ingest; the OS drops it if the process dies."""
    lock = ws / ".dvc" / "tmp" / "percept-ingest.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def staging_dir(ws: Path) -> Path:
    """A fresh folder under ``<workspace>/.ingest`` to build a dataset in before ``publish``."""
    root = ws / ".ingest"
    root.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="build-", dir=root))


def _previous(ws: Path, name: str) -> Path:
    return ws / ".ingest" / f"previous-{name}"


def recover(ws: Path) -> list[str]:
    """Undo what an interrupted ingest left behind; call with the workspace lock held.

    Removes stale build folders. For each dataset whose publish was cut short, either finishes
    it (the commit happened: drop the kept previous folder) or rolls it back (restore the
    previous folder and the committed ``.dvc`` file). Returns the names rolled back.
    """
    scratch = ws / ".ingest"
    if not scratch.is_dir():
        return []
    for build in scratch.glob("build-*"):
        shutil.rmtree(build, ignore_errors=True)
    rolled_back = []
    for prev in sorted(scratch.glob("previous-*")):
        name = prev.name[len("previous-") :]
        if _committed(ws, name):
            shutil.rmtree(prev)
        else:
            _roll_back(ws, name, prev)
            rolled_back.append(name)
    return rolled_back


def _committed(ws: Path, name: str) -> bool:
    """Whether ``data/<name>`` is present and its ``.dvc`` file matches HEAD."""
    rel = f"data/{name}.dvc"
    if not (ws / "data" / name).is_dir() or not (ws / rel).exists():
        return False
    tracked = git(ws, "ls-files", "--", rel).strip()
    return bool(tracked) and not git(ws, "status", "--porcelain", "--", rel).strip()


def _roll_back(ws: Path, name: str, prev: Path | None) -> None:
    """Put back the previous folder (``None``: there was none) and the committed records."""
    current = ws / "data" / name
    if current.exists():
        shutil.rmtree(current)
    if prev is not None:
        os.rename(prev, current)
    for rel in (f"data/{name}.dvc", "data/.gitignore"):
        if git(ws, "ls-files", "--", rel).strip():
            git(ws, "checkout", "-q", "HEAD", "--", rel)
        elif rel.endswith(".dvc"):
            (ws / rel).unlink(missing_ok=True)


def _md5_of(dvc_text: str) -> str:
    data = yaml.safe_load(dvc_text) or {}
    outs = data.get("outs") or [{}]
    return str(outs[0].get("md5", ""))


def publish(ws: Path, name: str, staged: Path) -> tuple[DatasetVersion, bool]:
    """Make ``staged`` the current ``data/<name>``: swap, ``dvc add``, ``dvc push``, git commit.

    Call with the workspace lock held; ``staged`` must be a validated dataset folder on the same
    filesystem (from ``staging_dir``). Returns the version and whether it is new; identical
    content gives the committed version back and commits nothing. On any failure the previous
    version is restored before the error propagates.
    """
    check_name(name)
    data, target = ws / "data", ws / "data" / name
    data.mkdir(exist_ok=True)
    prev = _previous(ws, name)
    rel = f"data/{name}.dvc"
    moved_old = moved_new = False
    try:
        if target.exists():
            os.rename(target, prev)
            moved_old = True
        os.rename(staged, target)
        moved_new = True
        if pause := os.environ.get(TEST_PAUSE_ENV):  # the test hook (module docstring)
            _pause_for_test(Path(pause))
        with dvc_repo(ws) as repo:
            repo.add([str(target)])
            new_md5 = _md5_of((ws / rel).read_text(encoding="utf-8"))
            old = git(ws, "show", f"HEAD:{rel}", check=False)
            changed = _md5_of(old) != new_md5 if old else True
            if changed:
                repo.push(targets=[str(ws / rel)])
        if changed:
            git(ws, "add", "--", rel, "data/.gitignore")
            git(ws, "commit", "-q", "-m", f"ingest {name}: {new_md5}", "--", rel, "data/.gitignore")
    except BaseException:
        if moved_new or moved_old:
            _roll_back(ws, name, prev if moved_old else None)
        raise
    if prev.exists():
        shutil.rmtree(prev)
    return current_version(ws, name), changed


def _pause_for_test(marker: Path) -> None:
    marker.write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(120)


def current_version(ws: Path, name: str) -> DatasetVersion:
    """The committed version of ``name`` in workspace ``ws``; ``ValueError`` if there is none."""
    for v in list_versions(workspace=ws):
        if v.name == name:
            return v
    raise ValueError(f"no dataset named {name!r} has been ingested into {ws}")


def list_versions(*, history: bool = False, workspace: Path | None = None) -> list[DatasetVersion]:
    """Committed dataset versions, newest first: one per name, or every one with ``history``.

    Reads git only (HEAD and its log), never the working tree, so a running or interrupted
    ingest does not show. An uncreated workspace has no versions.
    """
    ws = workspace if workspace is not None else workspace_root()
    if not (ws / ".git").exists() or not _has_head(ws):
        return []
    listed = git(ws, "ls-tree", "--name-only", "HEAD", "data/").split()
    current = {Path(p).stem for p in listed if p.endswith(".dvc")}
    log = git(ws, "log", "--format=%x00%H %cI", "--name-only", "--diff-filter=AM", "--", "data/*.dvc")
    out: list[DatasetVersion] = []
    seen: set[str] = set()
    for entry in log.split("\0")[1:]:
        header, *paths = entry.strip().splitlines()
        rev, created = header.split(" ", 1)
        for p in paths:
            m = re.fullmatch(r"data/([^/]+)\.dvc", p.strip())
            if not m or m.group(1) not in current or (m.group(1) in seen and not history):
                continue
            name = m.group(1)
            seen.add(name)
            md5 = _md5_of(git(ws, "show", f"{rev}:{p.strip()}"))
            path = ws / "data" / name
            out.append(DatasetVersion(name=name, path=path, md5=md5, git_rev=rev, created=created))
    return out


def resolve_version(name: str = "latest", *, workspace: Path | None = None) -> DatasetVersion:
    """The current version of ``name``, or of the most recently ingested dataset for ``latest``."""
    versions = list_versions(workspace=workspace)
    if not versions:
        raise ValueError("no datasets ingested yet: run `percept ingest SOURCE --name NAME` first")
    if name == "latest":
        return versions[0]
    for v in versions:
        if v.name == name:
            return v
    raise ValueError(f"no dataset named {name!r}; ingested: {sorted(v.name for v in versions)}")


def ensure_local(version: DatasetVersion) -> Path:
    """``version.path`` holding exactly that version's files; ``dvc pull`` fills what is missing.

    Only the current version of a name can be made local (``ValueError`` otherwise). Rolls back
    an interrupted ingest first; content is checked with ``dvc status`` (cheap when unchanged).
    """
    ws = version.path.parent.parent
    with workspace_lock(ws):
        recover(ws)
        current = current_version(ws, version.name)
        if current.md5 != version.md5:
            raise ValueError(
                f"dataset {version.name!r} is at {current.md5} now, not {version.md5}; "
                "only the current version can be made local"
            )
        record = str(ws / "data" / f"{version.name}.dvc")
        with dvc_repo(ws) as repo:
            if repo.status(targets=[record]):
                repo.pull(targets=[record], force=True)
    return version.path
