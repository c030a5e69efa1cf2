"""``percept``: one typer app; each module under ``cli/`` registers its own commands."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="percept",
    help="Keep camera perception fresh: versioned data, retraining, gated promotion, serving.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines ``register(app)``. Keep the list sorted; add a line when a module lands.
COMMAND_MODULES = [
    "cli.data",
    "cli.demo",
    "cli.ingest",
    "cli.models",
    "cli.retrain",
    "cli.serve",
    "cli.track",
    "cli.train",
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


if __name__ == "__main__":
    app()
