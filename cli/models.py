"""``percept models``, ``percept promote``, ``percept rollback``, ``percept ledger``.

MLflow is imported inside each command so ``percept --help`` stays fast.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from contextlib import contextmanager
from typing import Any, Iterator

import typer

from cli.common import console, fail

MODEL_OPTION = typer.Option(
    None, "--model", help="Registered model name (default: params.yaml registry.model_name)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print a JSON list on the last line instead of a table.")


def actor() -> str:
    """Who moves an alias: ``$PERCEPT_ACTOR`` (the retrain flow sets ``percept-retrain``), else user@host."""
    explicit = os.environ.get("PERCEPT_ACTOR", "").strip()
    if explicit:
        return explicit
    user = os.environ.get("USER") or getpass.getuser()
    return f"{user}@{socket.gethostname()}"


@contextmanager
def _registry_errors() -> Iterator[None]:
    from registry.store import RegistryUnavailable

    try:
        yield
    except (RegistryUnavailable, ValueError) as exc:
        fail(str(exc))


def _model_name(model: str | None) -> str:
    if model:
        return model
    from perception.config import load_params
    from registry.store import registry_config

    return registry_config(load_params()).model_name


def _move(entry: Any) -> str:
    before = f"v{entry.from_version}" if entry.from_version is not None else "none"
    return f"{entry.alias} {before} -> v{entry.to_version}"


def _short(value: Any, n: int = 10) -> str:
    return "-" if value in (None, "") else str(value)[:n]


def _num(metrics: dict[str, float], key: str, fmt: str) -> str:
    return fmt.format(metrics[key]) if key in metrics else "-"


def models(model: str | None = MODEL_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Registered versions with aliases, key metrics and lineage, newest first."""
    from rich.table import Table

    from registry.bundles import list_versions

    name = _model_name(model)
    with _registry_errors():
        versions = list_versions(name)
    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in versions]))
        return
    if not versions:
        console.print(f"no versions of {name} registered yet: run `percept retrain` first")
        return
    table = Table("version", "aliases", "hota", "map50", "latency ms", "dataset md5", "git sha", "created",
                  title=name)
    for v in versions:
        table.add_row(
            str(v.version),
            ", ".join(v.aliases) or "-",
            _num(v.metrics, "hota", "{:.1f}"),
            _num(v.metrics, "map50", "{:.3f}"),
            _num(v.metrics, "latency_ms_b1", "{:.1f}"),
            _short(v.lineage.get("data_md5")),
            _short(v.lineage.get("git_sha")) + ("*" if v.lineage.get("git_dirty") == "true" else ""),
            v.created.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def promote(
    version: int = typer.Argument(..., min=1, help="Version to make champion."),
    reason: str = typer.Option(..., "--reason", help="Why, in a sentence: it goes into the ledger."),
    model: str | None = MODEL_OPTION,
) -> None:
    """Make VERSION the champion by hand, bypassing the gate (ledgered)."""
    from registry.promote import promote as _promote

    name = _model_name(model)
    with _registry_errors():
        entry = _promote(name, version, reason=reason, actor=actor())
    console.print(f"{name}: {_move(entry)} (ledger run {entry.run_id})")


def rollback(
    reason: str = typer.Option(..., "--reason", help="Why, in a sentence: it goes into the ledger."),
    model: str | None = MODEL_OPTION,
) -> None:
    """Move champion back to the version it had before its latest move (ledgered)."""
    from registry.ledger import rollback as _rollback

    name = _model_name(model)
    with _registry_errors():
        entry = _rollback(name, actor=actor(), reason=reason)
    console.print(f"{name}: {_move(entry)} (ledger run {entry.run_id})")


def ledger(model: str | None = MODEL_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The promotion ledger, newest first: every alias move and every refused promotion."""
    from rich.table import Table

    from registry.ledger import read_ledger

    name = _model_name(model)
    with _registry_errors():
        entries = read_ledger(name)
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries]))
        return
    if not entries:
        console.print(f"the ledger of {name} is empty")
        return
    table = Table("time (UTC)", "alias", "move", "action", "actor", "summary", title=f"{name} ledger")
    for e in entries:
        src = f"v{e.from_version}" if e.from_version is not None else "-"
        move = f"{src} -> v{e.to_version}" if e.moved else f"stays {src} (v{e.to_version} refused)"
        table.add_row(e.time.strftime("%Y-%m-%d %H:%M:%S"), e.alias, move, e.action, e.actor, e.summary)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("ledger")(ledger)
