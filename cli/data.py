"""``percept data synth|list`` and ``percept ingest``."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import console, fail

data_app = typer.Typer(help="Datasets: synthesize scenes, list ingested versions.", no_args_is_help=True)


@data_app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the dataset into (must not exist or be empty)."),
    sequences: int = typer.Option(5, "--sequences", min=1, help="Number of sequences."),
    frames: int = typer.Option(60, "--frames", min=1, help="Frames per sequence."),
    seed: int = typer.Option(0, "--seed", help="Same seed, byte-identical output."),
) -> None:
    """Render synthetic driving scenes in MOTChallenge layout plus dataset.yaml."""
    from perception.data.synthetic import write_dataset

    try:
        spec = write_dataset(out, sequences=sequences, frames=frames, seed=seed, progress=True)
    except ValueError as exc:
        fail(str(exc))
    console.print(f"wrote {len(spec.sequences)} sequences x {frames} frames to {out}")
    for split in ("train", "val", "test"):
        console.print(f"  {split:5s}: {', '.join(spec.split(split)) or '-'}")


@data_app.command("list")
def list_versions() -> None:
    """Dataset versions ingested under this project, with DVC md5 and date."""
    from flows.versioning import list_versions as _list

    from rich.table import Table

    versions = _list()
    if not versions:
        console.print("no datasets ingested yet: try `percept ingest synth:sequences=5,frames=60 --name demo`")
        return
    table = Table("name", "md5", "git rev", "created", "path")
    for v in versions:
        table.add_row(v.name, v.md5, (v.git_rev or "-")[:10], v.created, str(v.path))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
