"""The promotion ledger: every alias move (and every refused promotion) as a run in MLflow.

Each entry is one run in the experiment ``percept-ledger``: tags ``percept.*`` (model, alias,
action, moved, from/to version, actor, reason, summary, time), the summary as the run's
description, and the gate's report as the artifact ``report.json``. Browse it in the MLflow UI.

Atomicity: the run is opened RUNNING, the alias is moved, then the run is marked FINISHED. If
anything fails, the alias is put back (best effort) and the run marked FAILED. Readers only trust
FINISHED runs, so a failure never shows up as a move that happened. (A crash exactly between
moving the alias and finishing the run leaves a moved alias with a RUNNING entry; ``percept
models`` still shows the truth.)
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from mlflow import MlflowClient

from registry.bundles import require_version
from registry.store import check_name, ensure_experiment, error_code, quietly, session

LEDGER_EXPERIMENT = "percept-ledger"
CHAMPION = "champion"
CHALLENGER = "challenger"
# move: plain alias move; gate: decided by the gate; promote: manual override; rollback.
ACTIONS = ("move", "gate", "promote", "rollback")
_P = "percept."


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger run. ``moved`` False = a decision that left the alias where it was.
    ``from_version`` None = the alias was unset. ``time`` is UTC."""

    run_id: str
    model_name: str
    alias: str
    action: str
    moved: bool
    from_version: int | None
    to_version: int
    actor: str
    reason: str
    summary: str
    time: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_name": self.model_name,
            "alias": self.alias,
            "action": self.action,
            "moved": self.moved,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": self.actor,
            "reason": self.reason,
            "summary": self.summary,
            "time": self.time.isoformat(),
        }


def get_alias(model_name: str, alias: str) -> int | None:
    """The version ``alias`` points at, or None (alias unset or model not registered)."""
    check_name(model_name)
    with session() as c:
        return _current(c, model_name, alias)


def move_alias(
    model_name: str,
    alias: str,
    version: int,
    *,
    actor: str,
    reason: str,
    report: Mapping[str, Any] | None = None,
    action: str = "move",
    summary: str | None = None,
) -> LedgerEntry:
    """Point ``alias`` at ``version`` and write the ledger entry; on failure the alias stays put."""
    return _write(model_name, alias, version, actor=actor, reason=reason, report=report,
                  action=action, summary=summary, move=True)


def record_decision(
    model_name: str,
    alias: str,
    version: int,
    *,
    actor: str,
    reason: str,
    report: Mapping[str, Any] | None = None,
    action: str = "gate",
    summary: str | None = None,
) -> LedgerEntry:
    """Ledger a decision NOT to point ``alias`` at ``version`` (e.g. the gate refused it)."""
    return _write(model_name, alias, version, actor=actor, reason=reason, report=report,
                  action=action, summary=summary, move=False)


def read_ledger(model_name: str, *, alias: str | None = None) -> list[LedgerEntry]:
    """FINISHED entries for ``model_name`` (optionally one alias), newest first."""
    check_name(model_name)
    with session() as c:
        exp = c.get_experiment_by_name(LEDGER_EXPERIMENT)
        if exp is None:
            return []
        query = f"attributes.status = 'FINISHED' and tags.`{_P}model` = '{model_name}'"
        if alias is not None:
            check_name(alias)
            query += f" and tags.`{_P}alias` = '{alias}'"
        runs, token = [], None
        while True:
            page = c.search_runs([exp.experiment_id], filter_string=query, max_results=1000, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                break
    runs.sort(key=lambda r: int(r.data.tags.get(f"{_P}time_ns", "0")), reverse=True)
    return [_entry(r.info.run_id, r.data.tags) for r in runs]


def read_report(run_id: str) -> dict[str, Any]:
    """The gate report stored with one ledger entry."""
    with session() as c:
        return json.loads(_read_text(c, run_id, "report.json"))


def rollback(model_name: str, *, actor: str, reason: str) -> LedgerEntry:
    """Move ``champion`` back to where it was before its latest move.

    Replays the ledger's champion moves as a stack: a move pushes its target, a rollback pops.
    So rolling back twice goes two steps back (v1 -> v2 -> v3, rollback -> v2, rollback -> v1),
    and ValueError says so when only the first champion is left.
    """
    history = champion_history(model_name)
    if len(history) < 2:
        what = f"only v{history[0]} was ever champion" if history else "no champion move is in the ledger"
        raise ValueError(f"nothing to roll back to for {model_name!r}: {what}")
    target = history[-2]
    report = {"rollback_to": target, "rolled_back": history[-1], "history": history}
    return move_alias(model_name, CHAMPION, target, actor=actor, reason=reason, report=report,
                      action="rollback", summary=f"rollback: champion v{history[-1]} -> v{target}")


def champion_history(model_name: str) -> list[int]:
    """Champion versions still "on the stack", oldest first; the last one is current."""
    stack: list[int] = []
    for e in reversed(read_ledger(model_name, alias=CHAMPION)):
        if not e.moved:
            continue
        if not stack and e.from_version is not None:
            stack.append(e.from_version)  # champion was set before the ledger began
        if e.action == "rollback":
            if len(stack) > 1:
                stack.pop()
            if stack[-1] != e.to_version:
                stack[-1:] = [e.to_version]
        else:
            stack.append(e.to_version)
    return stack


def _write(
    model_name: str,
    alias: str,
    version: int,
    *,
    actor: str,
    reason: str,
    report: Mapping[str, Any] | None,
    action: str,
    summary: str | None,
    move: bool,
) -> LedgerEntry:
    check_name(model_name)
    check_name(alias)
    for name, value in (("actor", actor), ("reason", reason)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty sentence, got {value!r}")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
    with session() as c:
        require_version(c, model_name, version)
        before = _current(c, model_name, alias)
        to = int(version)
        src = f"v{before}" if before is not None else "none"
        if summary is None:
            what = f"{alias} {src} -> v{to}" if move else f"{alias} stays {src}, not v{to}"
            summary = f"{what}: {reason}"
        summary = summary[:5000]  # MLflow tag values stop at 8000 characters
        now_ns = time.time_ns()
        tags = {
            f"{_P}model": model_name,
            f"{_P}alias": alias,
            f"{_P}action": action,
            f"{_P}moved": str(move).lower(),
            f"{_P}from_version": "" if before is None else str(before),
            f"{_P}to_version": str(to),
            f"{_P}actor": actor,
            f"{_P}reason": reason[:5000],
            f"{_P}summary": summary,
            f"{_P}time": datetime.fromtimestamp(now_ns / 1e9, tz=timezone.utc).isoformat(),
            f"{_P}time_ns": str(now_ns),
            "mlflow.note.content": summary,
        }
        exp_id = ensure_experiment(LEDGER_EXPERIMENT, mlflow_client=c)
        verb = f"{src} -> v{to}" if move else f"v{to} refused"
        run = c.create_run(
            exp_id, start_time=now_ns // 1_000_000, tags=tags, run_name=f"{model_name} {alias}: {verb}"
        )
        run_id = run.info.run_id
        moved = False
        try:
            c.log_dict(run_id, dict(report or {}), "report.json")
            if move:
                c.set_registered_model_alias(model_name, alias, str(to))
                moved = True
            c.set_terminated(run_id, "FINISHED")
        except BaseException:
            if moved:
                quietly(lambda: _restore(c, model_name, alias, before))
            quietly(lambda: c.set_terminated(run_id, "FAILED"))
            raise
        return _entry(run_id, tags)


def _current(c: MlflowClient, model_name: str, alias: str) -> int | None:
    try:
        aliases = c.get_registered_model(model_name).aliases
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return int(aliases[alias]) if alias in aliases else None


def _restore(c: MlflowClient, model_name: str, alias: str, before: int | None) -> None:
    if before is None:
        c.delete_registered_model_alias(model_name, alias)
    else:
        c.set_registered_model_alias(model_name, alias, str(before))


def _entry(run_id: str, t: Mapping[str, str]) -> LedgerEntry:
    return LedgerEntry(
        run_id=run_id,
        model_name=t[f"{_P}model"],
        alias=t[f"{_P}alias"],
        action=t[f"{_P}action"],
        moved=t[f"{_P}moved"] == "true",
        from_version=int(t[f"{_P}from_version"]) if t.get(f"{_P}from_version") else None,
        to_version=int(t[f"{_P}to_version"]),
        actor=t[f"{_P}actor"],
        reason=t[f"{_P}reason"],
        summary=t[f"{_P}summary"],
        time=datetime.fromtimestamp(int(t[f"{_P}time_ns"]) / 1e9, tz=timezone.utc),
    )


def _read_text(c: MlflowClient, run_id: str, path: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return Path(c.download_artifacts(run_id, path, tmp)).read_text()

