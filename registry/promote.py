"""Promotion: run the gate on a registered version, or promote by hand. Both are ledgered."""

from __future__ import annotations

import dataclasses

from registry.bundles import get_version
from registry.gate import GateConfig, GateDecision, decide
from registry.ledger import CHALLENGER, CHAMPION, LedgerEntry, get_alias, move_alias, record_decision


def run_gate(model_name: str, challenger_version: int, config: GateConfig, *, actor: str) -> GateDecision:
    """Gate ``challenger_version`` against the champion, reading metrics from version tags.

    Moves ``challenger`` to the version, then ``champion`` if the gate passes; otherwise writes a
    ledger entry that says why not. ValueError (before any alias moves) when a metric is missing,
    the version does not exist, or it is already champion. The returned report carries versions.
    """
    version = int(challenger_version)
    challenger = get_version(model_name, version)
    champion_version = get_alias(model_name, CHAMPION)
    if champion_version == version:
        raise ValueError(f"{model_name} v{version} is already the champion")
    champion = get_version(model_name, champion_version).metrics if champion_version is not None else None
    decision = decide(challenger.metrics, champion, config)
    report = {**decision.report, "model": model_name, "challenger_version": version,
              "champion_version": champion_version}
    decision = dataclasses.replace(decision, report=report)
    verdict = "promoted to champion" if decision.promote else "not promoted"
    summary = f"challenger v{version} {verdict}: {decision.summary}"
    reason = " ".join(decision.reasons)
    move_alias(model_name, CHALLENGER, version, actor=actor, reason=f"v{version} is under evaluation",
               report=report, action="gate", summary=f"challenger -> v{version}")
    if decision.promote:
        move_alias(model_name, CHAMPION, version, actor=actor, reason=reason, report=report,
                   action="gate", summary=summary)
    else:
        record_decision(model_name, CHAMPION, version, actor=actor, reason=reason, report=report,
                        action="gate", summary=summary)
    return decision


def promote(model_name: str, version: int, *, reason: str, actor: str) -> LedgerEntry:
    """Manual override: make ``version`` champion without the gate (the ledger keeps the reason)."""
    info = get_version(model_name, int(version))
    if get_alias(model_name, CHAMPION) == info.version:
        raise ValueError(f"{model_name} v{info.version} is already the champion")
    report = {"manual": True, "model": model_name, "version": info.version, "metrics": dict(info.metrics)}
    return move_alias(model_name, CHAMPION, info.version, actor=actor, reason=reason, report=report,
                      action="promote", summary=f"manual: champion -> v{info.version}: {reason}")
