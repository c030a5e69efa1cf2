"""``percept retrain`` (train candidates, register, gate) and ``percept schedule`` (serve it on cron)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.table import Table

from cli.common import console, fail


class _NoRunErrors(logging.Filter):
    """Drops Prefect's per-run error records (with tracebacks): the table and message say it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).addFilter(_NoRunErrors())


def parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["detector.lr=0.01", "gate.floor_hota=0"]`` -> ``{"detector": {"lr": 0.01}, ...}`` (YAML values)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not section or not name:
            raise ValueError(f"--set {item!r} must look like section.key=value, e.g. detector.lr=0.004")
        out.setdefault(section, {})[name] = yaml.safe_load(raw)
    return out


def _print_summary(summary: dict[str, Any]) -> None:
    from flows.retrain import format_rows

    data = summary["dataset"]
    console.print(f"dataset [bold]{data['name']}[/] md5 {data['md5']} ({data['path']})")
    table = Table(title=f"candidates -> {summary['model_name']}")
    for col in ("candidate", "status", "version", "HOTA", "mAP50", "mAP", "ms@b1", "device / error"):
        table.add_column(col, justify="right" if col in ("HOTA", "mAP50", "mAP", "ms@b1") else "left")
    for row in format_rows(summary["candidates"]):
        table.add_row(*row)
    console.print(table)
    decision = summary.get("decision")
    if decision is None:
        console.print(f"challenger v{summary['challenger']} registered; gate not run (--no-promote)")
        return
    verdict = "[green]promoted[/]" if decision["promote"] else "[yellow]not promoted[/]"
    champion = f"v{decision['champion']}" if decision["champion"] is not None else "not set yet"
    console.print(f"gate: challenger v{summary['challenger']} {verdict}; champion is {champion}")
    for reason in decision["reasons"]:
        console.print(f"  - {reason}")


def _report_epochs(started: float, stop: threading.Event, every_s: float = 2.0) -> None:
    """Print a line whenever a candidate's worker finishes an epoch (its ``progress.json``),
    so minutes of training are not silent. Reads files only; the flow does not know about it."""
    from flows.candidates import read_progress
    from flows.retrain import CANDIDATES_DIR
    from perception.config import percept_home

    seen: dict[str, int] = {}
    root = percept_home() / CANDIDATES_DIR
    while not stop.wait(every_s):
        for work in sorted(root.glob("*")) if root.is_dir() else ():
            progress = read_progress(work)
            if progress is None or progress.get("time", 0) < started:
                continue
            if seen.get(work.name) != progress["epoch"]:
                seen[work.name] = progress["epoch"]
                console.print(f"[dim]  candidate {work.name}: epoch {progress['epoch']} done[/]")


def retrain(
    dataset: str = typer.Option("latest", "--dataset", help="Dataset name, or 'latest' (newest ingested)."),
    candidates: Optional[int] = typer.Option(
        None, "--candidates", min=1, help="Train the first N sweep candidates."
    ),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs for every candidate."),
    params: Path = typer.Option(
        Path("params.yaml"), "--params", help="Parameters file (missing = defaults)."
    ),
    sets: list[str] = typer.Option([], "--set", help="Override a parameter: section.key=value (repeatable)."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Run the gate on the best candidate."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on the last line."),
) -> None:
    """Train candidates in parallel on Ray, evaluate, register them in MLflow, gate the best."""
    _quiet_prefect()
    from flows.retrain import retrain as retrain_flow
    from flows.runtime import current_runtime

    console.print(f"[dim]{current_runtime().describe()}[/]")
    stop = threading.Event()
    watcher = threading.Thread(target=_report_epochs, args=(time.time(), stop), daemon=True)
    try:
        overrides = parse_sets(sets)
        watcher.start()
        summary = retrain_flow(
            dataset=dataset, candidates=candidates, epochs=epochs, params_path=str(params),
            overrides=overrides, promote=promote,
        )
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    finally:
        stop.set()
    _print_summary(summary)
    if as_json:
        print(json.dumps(summary, default=str))


def schedule(
    cron: Optional[str] = typer.Option(
        None, "--cron", help="When to retrain, e.g. '0 3 * * *' (03:00 daily)."
    ),
    list_: bool = typer.Option(False, "--list", help="Show retrain deployments and their schedules."),
    stop: bool = typer.Option(False, "--stop", help="Pause the schedules and stop percept's Prefect server."),
    dataset: str = typer.Option("latest", "--dataset", help="Dataset the scheduled runs train on."),
    candidates: Optional[int] = typer.Option(None, "--candidates", min=1, help="First N sweep candidates."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs for every candidate."),
) -> None:
    """Serve retrain as a Prefect deployment on a cron schedule (runs until Ctrl-C)."""
    _quiet_prefect()
    from flows import schedule as sched

    if sum([cron is not None, list_, stop]) != 1:
        fail("give exactly one of --cron EXPR, --list or --stop")
    if list_:
        items = sched.list_schedules()
        if not items:
            console.print("no retrain deployment on a reachable Prefect server (start one with --cron)")
            return
        table = Table(title=f"retrain deployments ({items[0]['api_url']})")
        for col in ("deployment", "paused", "schedules", "parameters"):
            table.add_column(col)
        for it in items:
            crons = ", ".join(f"{s['cron']}{'' if s['active'] else ' (inactive)'}" for s in it["schedules"])
            table.add_row(it["deployment"], str(it["paused"]), crons or "-", json.dumps(it["parameters"]))
        console.print(table)
        return
    if stop:
        try:
            paused = sched.pause_schedules()
        except Exception as exc:  # server gone already: still stop our own process
            console.print(f"could not pause schedules ({exc})")
            paused = 0
        stopped = sched.stop_server()
        console.print(f"paused {paused} deployment(s); " + ("stopped percept's Prefect server" if stopped
                      else "no Prefect server started by percept was running"))
        return
    parameters: dict[str, Any] = {"dataset": dataset}
    if candidates is not None:
        parameters["candidates"] = candidates
    if epochs is not None:
        parameters["epochs"] = epochs
    try:
        sched.check_cron(cron or "")
        url, started = sched.ensure_server()
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    if started:
        console.print(f"started a Prefect server at {url} (pid, log: {sched.server_dir()}); "
                      "`percept schedule --stop` stops it")
    else:
        console.print(f"using the Prefect server at {url}")
    console.print(
        f"serving retrain/{sched.DEPLOYMENT_NAME} on '{cron}' with {parameters}; Ctrl-C to stop serving"
    )
    sched.serve_retrain(cron=cron or "", parameters=parameters)


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
    app.command("schedule")(schedule)
