"""The promotion gate: a pure decision over metric dicts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from perception.config import load_params
from registry.gate import GateConfig, decide, gate_config


def m(hota: float, map50: float, lat: float = 10.0, **extra: float) -> dict[str, float]:
    return {"hota": hota, "map50": map50, "latency_ms_b1": lat, **extra}


@pytest.mark.parametrize(
    "challenger, champion, overrides, promote, failed, exc",
    [
        # first model: floors (default 20 HOTA, 0.2 mAP50)
        (m(30.0, 0.40), None, {}, True, [], None),
        (m(19.9, 0.40), None, {}, False, ["hota"], None),
        (m(30.0, 0.19), None, {}, False, ["map50"], None),
        (m(20.0, 0.20), None, {}, True, [], None),  # exactly at the floors
        # against a champion: HOTA margin 1.0, mAP50 margin 0.0
        (m(42.0, 0.50), m(40.0, 0.50), {}, True, [], None),
        (m(40.4, 0.50), m(40.0, 0.50), {}, False, ["hota"], None),
        (m(40.0, 0.50), m(40.0, 0.50), {}, False, ["hota"], None),  # tie, margin 1.0
        (m(40.0, 0.50), m(40.0, 0.50), {"min_improvement_hota": 0.0}, True, [], None),  # tie, margin 0
        (m(41.3, 0.50), m(40.3, 0.50), {}, True, [], None),  # exactly the margin despite float error
        (m(45.0, 0.49), m(40.0, 0.50), {}, False, ["map50"], None),
        (m(39.5, 0.50), m(40.0, 0.50), {"min_improvement_hota": -1.0}, True, [], None),  # tolerated drop
        # latency budget applies with or without a champion
        (m(45.0, 0.60, lat=100.1), m(40.0, 0.50), {}, False, ["latency"], None),
        (m(45.0, 0.60, lat=100.0), m(40.0, 0.50), {}, True, [], None),
        (m(30.0, 0.40, lat=500.0), None, {}, False, ["latency"], None),
        (m(30.0, 0.40, lat=500.0), None, {"latency_budget_ms": math.inf}, True, [], None),
        (m(10.0, 0.10, lat=500.0), None, {}, False, ["hota", "map50", "latency"], None),
        # other keys are ignored; numeric strings (tags) are numbers
        (m(42.0, 0.50, mota=1.0), m(40.0, 0.50, idf1=2.0), {}, True, [], None),
        ({"hota": "42", "map50": "0.5", "latency_ms_b1": "3"}, m(40.0, 0.5), {}, True, [], None),
        # bad inputs
        ({}, None, {}, None, None, ValueError),
        ({"hota": 40.0, "map50": 0.5}, None, {}, None, None, ValueError),
        (m(42.0, 0.5), {"hota": 40.0, "latency_ms_b1": 3.0}, {}, None, None, ValueError),
        (m(math.nan, 0.5), None, {}, None, None, ValueError),
        ({"hota": "high", "map50": 0.5, "latency_ms_b1": 3.0}, None, {}, None, None, ValueError),
    ],
)
def test_decide(challenger, champion, overrides, promote, failed, exc):
    config = GateConfig(**overrides)
    if exc is not None:
        with pytest.raises(exc):
            decide(challenger, champion, config)
        return
    decision = decide(challenger, champion, config)
    assert decision.promote is promote
    assert [c["name"] for c in decision.report["checks"] if not c["passed"]] == failed
    assert len(decision.reasons) == 3 and all(r.endswith(".") for r in decision.reasons)
    assert decision.report["promote"] is promote


def test_refusal_says_why_with_numbers():
    decision = decide(m(40.4, 0.50), m(40.0, 0.50), GateConfig())
    assert decision.summary == "HOTA +0.4 < margin 1.0"
    assert "HOTA 40.4 vs champion 40.0: +0.4 is below the required margin of 1.0." in decision.reasons


def test_first_model_reason_names_the_floor():
    decision = decide(m(19.0, 0.40), None, GateConfig())
    assert "No champion yet: HOTA 19.0 is below the first-model floor of 20.0." in decision.reasons
    assert decision.report["champion"] is None


def test_decide_does_not_mutate_inputs():
    challenger, champion = m(42.0, 0.5), m(40.0, 0.5)
    decide(challenger, champion, GateConfig())
    assert challenger == m(42.0, 0.5) and champion == m(40.0, 0.5)


@pytest.mark.parametrize(
    "overrides, exc",
    [
        ({}, None),
        ({"latency_budget_ms": math.inf}, None),
        ({"min_improvement_hota": -2.0}, None),
        ({"latency_budget_ms": 0.0}, ValueError),
        ({"latency_budget_ms": -5.0}, ValueError),
        ({"min_improvement_hota": math.nan}, ValueError),
        ({"min_improvement_map50": "0.1"}, ValueError),
        ({"floor_hota": 150.0}, ValueError),
        ({"floor_map50": 1.5}, ValueError),
        ({"floor_map50": True}, ValueError),
    ],
)
def test_gate_config_validation(overrides, exc):
    if exc is None:
        assert GateConfig(**overrides).latency_budget_ms > 0
    else:
        with pytest.raises(exc):
            GateConfig(**overrides)


@pytest.mark.parametrize(
    "params, expected, exc",
    [
        ({}, GateConfig(), None),
        (None, GateConfig(), None),
        ({"gate": {"floor_hota": 30.0}}, GateConfig(floor_hota=30.0), None),
        ({"gate": {"min_improvment_hota": 1.0}}, None, ValueError),  # typo must fail loudly
    ],
)
def test_gate_config_from_params(params, expected, exc):
    if exc is not None:
        with pytest.raises(exc):
            gate_config(params)
    else:
        assert gate_config(params) == expected


def test_params_yaml_gate_section_is_valid():
    params = load_params(Path(__file__).parents[2] / "params.yaml")
    assert isinstance(gate_config(params), GateConfig)
    assert "gate" in params
