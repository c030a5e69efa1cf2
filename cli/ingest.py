"""``percept ingest SOURCE --name NAME``: run the ingest flow and print the dataset version."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Optional

import typer

from cli.common import console, fail


class _NoRunErrors(logging.Filter):
    """Drops Prefect's per-run error records (with tracebacks): the CLI states the error itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def ingest(
    source: str = typer.Argument(
        ...,
        help="synth:sequences=5,frames=60,seed=0 | dataset folder | MOTChallenge folder | COCO .json"
        " | video file or URL",
    ),
    name: str = typer.Option(..., "--name", help="Dataset name: the folder under <workspace>/data."),
    images: Optional[Path] = typer.Option(
        None, "--images", help="COCO images folder (default: images/ beside the json)."
    ),
    max_frames: Optional[int] = typer.Option(
        None, "--max-frames", min=1, help="Video: stop after this many frames."
    ),
    record: Optional[Path] = typer.Option(
        None, "--record", help="Also write the version as JSON to this file."
    ),
) -> None:
    """Version a dataset with DVC in the workspace; identical content is a no-op."""
    # Prefect's per-run console logs drown the result; warnings still show.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.ingest import ingest as ingest_flow
    from flows.ingest import parse_source
    from flows.versioning import check_name, resolve_version

    for logger_name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _NoRunErrors) for f in logger.filters):
            logger.addFilter(_NoRunErrors())
    images_dir = str(images) if images else None
    try:
        check_name(name)
        parse_source(source, images_dir=images_dir, max_frames=max_frames)  # fail before starting Prefect
        try:
            before = resolve_version(name)
        except ValueError:
            before = None
        version = ingest_flow(source, name, images_dir=images_dir, max_frames=max_frames)
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    unchanged = before == version
    console.print(f"[bold]{version.name}[/] {'unchanged' if unchanged else 'new version'}")
    console.print(f"  md5      {version.md5}")
    console.print(f"  git rev  {version.git_rev}")
    console.print(f"  created  {version.created}")
    console.print(f"  path     {version.path}")
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "name": version.name,
            "md5": version.md5,
            "git_rev": version.git_rev,
            "created": version.created,
            "path": str(version.path),
        }
        record.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
