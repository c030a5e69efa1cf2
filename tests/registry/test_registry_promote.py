"""The gate against the registry, manual promotion, and an unreachable registry at promotion time."""

from __future__ import annotations

import pytest

from registry.gate import GateConfig
from registry.ledger import get_alias, read_ledger, read_report
from registry.promote import promote, run_gate
from registry.store import RegistryUnavailable

pytestmark = pytest.mark.integration
M = "percept-detector"
GOOD = {"hota": 40.0, "map50": 0.5, "latency_ms_b1": 10.0}


@pytest.mark.parametrize(
    "first, second, champion_after, summary_has",
    [
        (GOOD, {**GOOD, "hota": 42.0}, 2, "challenger v2 promoted to champion: HOTA +2.0 >= margin 1.0"),
        (GOOD, {**GOOD, "hota": 40.4}, 1, "challenger v2 not promoted: HOTA +0.4 < margin 1.0"),
        (GOOD, {**GOOD, "hota": 45.0, "latency_ms_b1": 250.0}, 1, "latency 250.0 ms > budget 100 ms"),
        (GOOD, dict(GOOD), 1, "HOTA +0.0 < margin 1.0"),  # a tie keeps the champion
    ],
)
def test_gate_moves_champion_only_when_it_passes(registry_home, add_version, first, second, champion_after,
                                                 summary_has):
    add_version(**first)
    add_version(**second)
    assert run_gate(M, 1, GateConfig(), actor="percept-retrain").promote
    decision = run_gate(M, 2, GateConfig(), actor="percept-retrain")
    assert decision.promote is (champion_after == 2)
    assert get_alias(M, "champion") == champion_after
    assert get_alias(M, "challenger") == 2
    latest = read_ledger(M)[0]  # the champion decision, after the challenger move
    moved = champion_after == 2
    assert (latest.alias, latest.action, latest.moved, latest.to_version) == ("champion", "gate", moved, 2)
    assert summary_has in latest.summary
    assert latest.actor == "percept-retrain"
    report = read_report(latest.run_id)
    assert report["challenger_version"] == 2 and report["champion_version"] == 1
    assert report["promote"] is decision.promote


@pytest.mark.parametrize(
    "metrics, promoted",
    [(GOOD, True), ({**GOOD, "hota": 5.0}, False), ({**GOOD, "map50": 0.01}, False)],
)
def test_first_model_meets_the_floors(registry_home, add_version, metrics, promoted):
    add_version(**metrics)
    assert run_gate(M, 1, GateConfig(), actor="t").promote is promoted
    assert get_alias(M, "champion") == (1 if promoted else None)
    assert [(e.alias, e.moved) for e in read_ledger(M)] == [("champion", promoted), ("challenger", True)]


@pytest.mark.parametrize(
    "metrics, version, match",
    [
        ({"hota": 40.0, "map50": 0.5}, 1, "latency_ms_b1"),
        ({}, 1, "lack"),
        (GOOD, 4, "no version 4"),
    ],
)
def test_gate_errors_move_nothing(registry_home, add_version, metrics, version, match):
    add_version(**metrics)
    with pytest.raises(ValueError, match=match):
        run_gate(M, version, GateConfig(), actor="t")
    assert get_alias(M, "challenger") is None and get_alias(M, "champion") is None
    assert read_ledger(M) == []


def test_gate_refuses_to_rerun_the_champion(registry_home, add_version):
    add_version(**GOOD)
    run_gate(M, 1, GateConfig(), actor="t")
    with pytest.raises(ValueError, match="already the champion"):
        run_gate(M, 1, GateConfig(), actor="t")


def test_manual_promotion_is_ledgered(registry_home, add_version):
    add_version(**GOOD)
    add_version(hota=1.0)  # would never pass the gate
    promote(M, 1, reason="bootstrap", actor="ann@box")
    entry = promote(M, 2, reason="field test of v2", actor="ann@box")
    assert get_alias(M, "champion") == 2
    assert (entry.action, entry.from_version, entry.to_version) == ("promote", 1, 2)
    assert entry.reason == "field test of v2"
    assert read_report(entry.run_id)["manual"] is True
    with pytest.raises(ValueError, match="already the champion"):
        promote(M, 2, reason="again", actor="ann@box")


def test_unreachable_registry_at_promotion_leaves_champion_unchanged(registry_home, add_version, closed_port,
                                                                     monkeypatch):
    add_version(**GOOD)
    add_version(**{**GOOD, "hota": 50.0})
    promote(M, 1, reason="bootstrap", actor="t")
    entries_before = read_ledger(M)

    uri = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the user's setting wins over ours
    for attempt in (lambda: promote(M, 2, reason="r", actor="t"),
                    lambda: run_gate(M, 2, GateConfig(), actor="t")):
        with pytest.raises(RegistryUnavailable, match=f"Cannot reach the MLflow registry at {uri}"):
            attempt()

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert get_alias(M, "champion") == 1
    assert read_ledger(M) == entries_before
