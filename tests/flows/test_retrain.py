"""Unit tests of the retrain flow's pure parts: sweep planning, cache keys, settings, worker helpers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from prefect.states import Completed, Failed

from cli.retrain import parse_sets
from flows.candidates import _detection_records, read_attempts, read_progress, record_attempt, _write_progress
from flows.retrain import (
    SweepConfig,
    _retryable,
    candidate_key,
    candidate_name,
    format_rows,
    params_hash,
    plan_candidates,
    resolve_settings,
)
from flows.runtime import current_runtime, git_lineage, short_enough, worker_env
from perception.data.mot import MotRecords
from perception.types import Detections


@pytest.mark.parametrize(
    "candidates, retries, error",
    [
        ([{"name": "a"}, {"name": "b", "lr": 0.01}], 2, None),
        ([{}], 0, None),
        ([], 2, "at least one candidate"),
        (["fcos"], 2, "must be a mapping"),
        ([{"name": "a"}, {"name": "a", "lr": 0.1}], 2, "duplicates \\['a'\\]"),
        ([{"name": "a"}], -1, "worker_retries must be an integer >= 0, got -1"),
    ],
)
def test_sweep_config_validation(candidates, retries, error):
    if error:
        with pytest.raises(ValueError, match=error):
            SweepConfig(candidates=tuple(candidates), worker_retries=retries)
    else:
        sweep = SweepConfig(candidates=tuple(candidates), worker_retries=retries)
        assert len(sweep.candidates) == len(candidates)


@pytest.mark.parametrize(
    "index, entry, expected",
    [(0, {"name": "fast"}, "fast"), (2, {}, "c2"), (1, {"lr": 0.1, "arch": "ssdlite"}, "c1:arch=ssdlite,lr=0.1")],
)
def test_candidate_name(index, entry, expected):
    assert candidate_name(index, entry) == expected


SWEEP = SweepConfig(candidates=({"name": "a"}, {"name": "b", "lr": 0.01}, {"name": "c", "epochs": 7}))


@pytest.mark.parametrize(
    "limit, names, error",
    [
        (None, ["a", "b", "c"], None),
        (1, ["a"], None),
        (3, ["a", "b", "c"], None),
        (0, None, "between 1 and 3"),
        (4, None, "between 1 and 3"),
    ],
)
def test_plan_candidates_takes_first_n(limit, names, error):
    base = {"epochs": 2, "lr": 0.001}
    if error:
        with pytest.raises(ValueError, match=error):
            plan_candidates(SWEEP, base, limit=limit)
        return
    plan = plan_candidates(SWEEP, base, limit=limit)
    assert [c.name for c in plan] == names
    assert all("name" not in c.overrides for c in plan)
    by_name = {c.name: dict(c.overrides) for c in plan}
    assert by_name["a"] == base  # the sweep entry wins over the base, the base fills the rest
    if "c" in by_name:
        assert by_name["b"] == {"epochs": 2, "lr": 0.01} and by_name["c"] == {"epochs": 7, "lr": 0.001}


TRACKER = {"name": "bytetrack"}


@pytest.mark.parametrize(
    "a, b, same",
    [
        (({"lr": 0.01, "epochs": 2}, "m1"), ({"epochs": 2, "lr": 0.01}, "m1"), True),  # key order
        (({}, "m1"), ({"lr": 0.002}, "m1"), True),  # an override equal to the default
        (({"lr": 0.01}, "m1"), ({"lr": 0.02}, "m1"), False),
        (({"lr": 0.01}, "m1"), ({"lr": 0.01}, "m2"), False),  # other data
        (({"arch": "nope"}, "m1"), ({"arch": "nope"}, "m1"), True),  # invalid: still a stable key
        (({"arch": "nope"}, "m1"), ({"arch": "nah"}, "m1"), False),
    ],
)
def test_candidate_key_depends_on_data_and_resolved_params(a, b, same):
    ka = candidate_key(data_md5=a[1], overrides=a[0], tracker=TRACKER, split="test")
    kb = candidate_key(data_md5=b[1], overrides=b[0], tracker=TRACKER, split="test")
    assert (ka == kb) is same
    assert re.fullmatch(r"[0-9a-z]+-[0-9a-f]{16}", ka)


def test_candidate_key_depends_on_tracker_and_split():
    keys = {
        candidate_key(data_md5="m", overrides={}, tracker=TRACKER, split="test"),
        candidate_key(data_md5="m", overrides={}, tracker={"name": "sort"}, split="test"),
        candidate_key(data_md5="m", overrides={}, tracker=TRACKER, split="val"),
    }
    assert len(keys) == 3


@pytest.mark.parametrize("value", [{}, {"a": [1, 2]}, {"b": 1, "a": 2}])
def test_params_hash_is_16_hex_and_order_free(value):
    h = params_hash(value)
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert h == params_hash(dict(reversed(list(value.items()))))


@pytest.mark.parametrize(
    "params, overrides, check, error",
    [
        ({}, None, lambda s: s["tracker"]["name"] == "bytetrack" and s["base"] == {}, None),
        ({"detector": {"lr": 0.1}, "train": {"epochs": 3}}, {"train": {"epochs": 5}},
         lambda s: s["base"] == {"lr": 0.1, "epochs": 5}, None),
        ({"gate": {"floor_hota": 0}}, None, lambda s: s["gate"]["floor_hota"] == 0, None),
        ({"tracker": {"name": "sort"}}, None, lambda s: s["tracker"] == {"name": "sort"}, None),
        ({}, {"sweep": {"candidates": [{"name": "x"}]}}, lambda s: s["sweep"].candidates == ({"name": "x"},), None),
        ({}, {"nonsense": {"a": 1}}, None, "unknown override section 'nonsense'"),
        ({"gate": {"floor": 1}}, None, None, "unknown GateConfig key"),
        ({"sweep": {"candidates": []}}, None, None, "at least one candidate"),
        ({"detector": [1, 2]}, None, None, "must be a mapping"),
    ],
)
def test_resolve_settings_cli_overrides_win(params, overrides, check, error):
    if error:
        with pytest.raises(ValueError, match=error):
            resolve_settings(params, overrides=overrides)
    else:
        assert check(resolve_settings(params, overrides=overrides))


@pytest.mark.parametrize(
    "items, expected, error",
    [
        ([], {}, None),
        (["detector.lr=0.01", "detector.arch=ssdlite", "gate.floor_hota=0"],
         {"detector": {"lr": 0.01, "arch": "ssdlite"}, "gate": {"floor_hota": 0}}, None),
        (["sweep.candidates=[{name: a}]"], {"sweep": {"candidates": [{"name": "a"}]}}, None),
        (["lr=0.1"], None, "section.key=value"),
        (["detector.lr"], None, "section.key=value"),
    ],
)
def test_parse_sets(items, expected, error):
    if error:
        with pytest.raises(ValueError, match=error):
            parse_sets(items)
    else:
        assert parse_sets(items) == expected


def test_format_rows_shows_dashes_for_failed_candidates():
    rows = format_rows(
        [
            {"name": "ok", "status": "trained", "version": 3, "device": "cpu",
             "metrics": {"hota": 41.234, "map50": 0.5, "map": 0.25, "latency_ms_b1": 7.0}},
            {"name": "bad", "status": "failed", "version": None, "metrics": {}, "error": "arch must be ..."},
        ]
    )
    assert rows[0] == ["ok", "trained", "v3", "41.2", "0.500", "0.250", "7.0", "cpu"]
    assert rows[1] == ["bad", "failed", "-", "-", "-", "-", "-", "arch must be ..."]
    assert format_rows([]) == []


@pytest.mark.parametrize(
    "state, retry",
    [
        (Failed(data=ValueError("bad arch")), False),
        (Failed(data=TypeError("bad type")), False),
        (Failed(data=RuntimeError("worker lost")), True),
        (Failed(data=ConnectionError("mlflow down")), True),
    ],
)
def test_only_transient_errors_are_retried(state, retry):
    assert _retryable(None, None, state) is retry


def test_completed_state_is_not_an_error():
    assert Completed(data=1).is_completed()


@pytest.mark.parametrize(
    "per_frame",
    [
        [],
        [Detections.empty(), Detections.empty()],
        [
            Detections(xyxy=np.array([[1, 2, 11, 22]], np.float32), score=np.array([0.9]), class_id=np.array([2])),
            Detections.empty(),
            Detections(
                xyxy=np.array([[0, 0, 5, 5], [3, 3, 9, 9]], np.float32),
                score=np.array([0.5, 0.4]),
                class_id=np.array([0, 1]),
            ),
        ],
    ],
)
def test_detection_records_round_trip_through_mot_rows(per_frame):
    records = _detection_records(per_frame, MotRecords)
    back = records.detections_by_frame()
    expected = {f: d for f, d in enumerate(per_frame, 1) if len(d)}
    assert sorted(back) == sorted(expected)
    for f, det in expected.items():
        np.testing.assert_allclose(back[f].xyxy, det.xyxy, atol=1e-4)
        np.testing.assert_allclose(back[f].score, det.score, atol=1e-6)
        np.testing.assert_array_equal(back[f].class_id, det.class_id)


def test_attempts_and_progress_files(tmp_path: Path):
    assert read_attempts(tmp_path) == [] and read_progress(tmp_path) is None
    record_attempt(tmp_path / "c")
    record_attempt(tmp_path / "c")
    attempts = read_attempts(tmp_path / "c")
    assert [a["pid"] for a in attempts] == [os.getpid()] * 2
    _write_progress(tmp_path / "c", 3)
    assert read_progress(tmp_path / "c")["epoch"] == 3


def test_git_lineage_inside_and_outside_git(tmp_path: Path):
    inside = git_lineage()
    assert re.fullmatch(r"[0-9a-f]{40}", inside["git_sha"]) and inside["git_dirty"] in ("true", "false")
    assert git_lineage(tmp_path) == {"git_sha": "unknown", "git_dirty": "unknown"}


@pytest.mark.parametrize("uri", [None, "http://mlflow.example:5000"])
def test_worker_env_carries_home_and_tracking_uri(monkeypatch, tmp_path, uri):
    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path))
    if uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    else:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    env = worker_env()
    assert env["PERCEPT_HOME"] == str(tmp_path)
    assert env["MLFLOW_TRACKING_URI"] == (uri or f"sqlite:///{tmp_path}/mlflow.db")


@pytest.mark.parametrize(
    "preferred, expected",
    [
        ("/tmp/percept/ray", "/tmp/percept/ray"),
        ("/" + "d" * 44, "/" + "d" * 44),
        ("/" + "d" * 45, "/fallback"),
        ("/home/someone/projects/robot/.percept/ray-temp", "/fallback"),
    ],
)
def test_ray_tmp_dir_stays_short_enough_for_sockets(preferred, expected):
    assert short_enough(Path(preferred), Path("/fallback")) == Path(expected)


@pytest.mark.parametrize(
    "env, mode, shown",
    [
        ({}, "embedded", ["sqlite:///", "temporary local server", "Ray local"]),
        ({"RAY_ADDRESS": "ray://head:10001"}, "cluster", ["Ray ray://head:10001"]),
        ({"PREFECT_API_URL": "http://prefect:4200/api"}, "cluster", ["Prefect http://prefect:4200/api"]),
        ({"MLFLOW_TRACKING_URI": "http://u:secret@mlflow:5000"}, "cluster", ["MLflow http://***@mlflow:5000"]),
    ],
)
def test_runtime_mode_follows_environment_only(monkeypatch, tmp_path, env, mode, shown):
    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path))
    for var in ("RAY_ADDRESS", "PREFECT_API_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    runtime = current_runtime()
    assert runtime.mode == mode
    text = runtime.describe()
    assert all(s in text for s in shown) and "secret" not in text
