"""The ``ingest`` Prefect flow: a source becomes a DVC-versioned dataset in the workspace.

Sources (``parse_source``):

- ``synth:sequences=5,frames=60,seed=0``: synthetic scenes (missing keys take those defaults);
- a percept dataset folder (has ``dataset.yaml``): copied as it is;
- a MOTChallenge folder (sequence folders with ``seqinfo.ini``);
- a COCO JSON file; its images are in ``images/`` beside it unless ``images_dir`` says otherwise;
- a video file or a stream URL (``rtsp://``, ``http(s)://``...): unlabelled frames.

The flow builds the dataset in a scratch folder of the workspace, validates it, then
``flows.versioning.publish`` swaps it in, tracks it with DVC, pushes and commits. See
``flows.versioning`` for the workspace and what happens when an ingest is interrupted.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.versioning import (
    DatasetVersion,
    check_name,
    ensure_workspace,
    publish,
    recover,
    staging_dir,
    workspace_lock,
)
from perception.data.dataset import validate_dataset

SYNTH_DEFAULTS = {"sequences": 5, "frames": 60, "seed": 0}
VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts"})
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
KINDS = ("synth", "dataset", "mot", "coco", "video")


@dataclass(frozen=True)
class Source:
    """A parsed source. kind: one of ``KINDS``. uri: path or URL (empty for synth).
    options: synth -> sequences/frames/seed; coco -> images; video -> max_frames."""

    kind: str
    uri: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown source kind {self.kind!r}; kinds are {list(KINDS)}")


def parse_source(source: str, *, images_dir: str | None = None, max_frames: int | None = None) -> Source:
    """Decide what ``source`` is; ``ValueError`` with a sentence when it is none of the kinds."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    text = source.strip()
    if text == "synth" or text.startswith("synth:"):
        return Source(kind="synth", options=_synth_options(text[len("synth:") :]))
    if _URL.match(text):
        return Source(kind="video", uri=text, options={"max_frames": max_frames})
    path = Path(text).expanduser()
    if not text or not path.exists():
        raise ValueError(
            f"source {source!r} is neither an existing file or folder, a synth: spec nor a URL"
        )
    if path.is_dir():
        if (path / "dataset.yaml").is_file():
            return Source(kind="dataset", uri=str(path))
        if any(p.is_file() for p in path.glob("*/seqinfo.ini")):
            return Source(kind="mot", uri=str(path))
        raise ValueError(f"folder {path} has neither dataset.yaml nor MOTChallenge sequences (*/seqinfo.ini)")
    if path.suffix.lower() == ".json":
        images = Path(images_dir).expanduser() if images_dir else path.parent / "images"
        if not images.is_dir():
            raise ValueError(f"COCO images folder {images} does not exist; pass images_dir")
        return Source(kind="coco", uri=str(path), options={"images": str(images)})
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return Source(kind="video", uri=str(path), options={"max_frames": max_frames})
    raise ValueError(
        f"file {path} is not a COCO .json or a video ({', '.join(sorted(VIDEO_SUFFIXES))})"
    )


def _synth_options(spec: str) -> dict[str, int]:
    options = dict(SYNTH_DEFAULTS)
    for item in filter(None, (s.strip() for s in spec.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in SYNTH_DEFAULTS:
            raise ValueError(
                f"synth spec item {item!r} must be key=value with key in {sorted(SYNTH_DEFAULTS)}"
            )
        try:
            options[key] = int(value)
        except ValueError:
            raise ValueError(f"synth spec {key}={value!r} is not an integer") from None
    for key in ("sequences", "frames"):
        if options[key] < 1:
            raise ValueError(f"synth spec {key} must be >= 1, got {options[key]}")
    return options


def materialise(src: Source, out: Path, *, name: str) -> None:
    """Write ``src`` as a percept dataset into ``out`` (which must not exist yet) and validate it."""
    if src.kind == "synth":
        from perception.data.synthetic import write_dataset

        write_dataset(out, name=name, progress=False, **src.options)
    elif src.kind == "dataset":
        validate_dataset(src.uri)  # fail before copying a large folder
        shutil.copytree(src.uri, out, symlinks=False)
    elif src.kind == "mot":
        from perception.data.convert import mot_to_dataset

        mot_to_dataset(src.uri, out, name=name)
    elif src.kind == "coco":
        from perception.data.convert import coco_to_dataset

        coco_to_dataset(src.uri, src.options["images"], out, name=name)
    else:
        from perception.data.convert import video_to_dataset

        video_to_dataset(src.uri, out, name=name, max_frames=src.options.get("max_frames"))
    validate_dataset(out)


@task(name="parse-source", cache_policy=NO_CACHE)
def parse_source_task(source: str, images_dir: str | None, max_frames: int | None) -> Source:
    return parse_source(source, images_dir=images_dir, max_frames=max_frames)


@task(name="build-dataset", cache_policy=NO_CACHE)
def build_task(src: Source, workspace: Path, name: str) -> Path:
    """Build into a scratch folder of the workspace; nothing stays behind when it fails."""
    scratch = staging_dir(workspace)
    try:
        materialise(src, scratch / name, name=name)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return scratch / name


@task(name="publish-version", cache_policy=NO_CACHE)
def publish_task(workspace: Path, name: str, staged: Path) -> tuple[DatasetVersion, bool]:
    try:
        return publish(workspace, name, staged)
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)


@flow(name="ingest")
def ingest(
    source: str, name: str, images_dir: str | None = None, max_frames: int | None = None
) -> DatasetVersion:
    """Ingest ``source`` as dataset ``name``; identical content returns the committed version."""
    check_name(name)
    src = parse_source_task(source, images_dir, max_frames)
    workspace = ensure_workspace()
    with workspace_lock(workspace):
        for rolled_back in recover(workspace):
            get_run_logger().warning("rolled back an interrupted ingest of %r", rolled_back)
        staged = build_task(src, workspace, name)
        version, changed = publish_task(workspace, name, staged)
    state = "new" if changed else "unchanged"
    get_run_logger().info("%s %s at %s (%s)", name, version.md5, version.git_rev[:10], state)
    if changed:
        trigger_retrain_task(version)
    return version


@task(name="trigger-retrain", cache_policy=NO_CACHE)
def trigger_retrain_task(version: DatasetVersion) -> str | None:
    """New data starts a run of the served ``retrain`` deployment (``percept schedule``), if any.

    A deployment run, not an automation: it needs no event trigger set up on the server, and its
    idempotency key (name + md5) means the same content never retrains twice. Without a reachable
    server or deployment this does nothing; a failure here never fails the ingest.
    """
    from flows.schedule import trigger_retrain_on_new_version

    try:
        run_id = trigger_retrain_on_new_version(version)
    except Exception as exc:  # the version is already published; retraining can be started by hand
        get_run_logger().warning("could not trigger retrain for %s: %s", version.name, exc)
        return None
    if run_id:
        get_run_logger().info("triggered retrain run %s for %s %s", run_id, version.name, version.md5)
    return run_id
