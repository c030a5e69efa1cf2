"""Bundles in a real sqlite MLflow: register, list, download; nothing half-written on failure."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from registry.bundles import (
    REQUIRED_FILES,
    download_bundle,
    get_version,
    list_versions,
    register_bundle,
)
from registry.ledger import move_alias
from registry.store import ensure_experiment, session

pytestmark = pytest.mark.integration


def test_register_then_list_newest_first(registry_home, bundle_dir, tmp_path, make_bundle):
    first = register_bundle(
        bundle_dir,
        tags={"data_md5": "d41d8cd9", "git_sha": "abc123", "git_dirty": False},
        metrics={"hota": 41.5, "map50": 0.52, "latency_ms_b1": 12.0},
        params={"train": {"lr": 0.01, "epochs": 3}, "seed": 0},
    )
    second = register_bundle(make_bundle(tmp_path / "b2", tag="b"), metrics={"hota": 43.0})
    assert (first.version, second.version) == (1, 2)
    assert first.source == f"runs:/{first.run_id}/bundle"
    assert first.metrics == {"hota": 41.5, "map50": 0.52, "latency_ms_b1": 12.0}
    assert first.lineage == {"data_md5": "d41d8cd9", "git_sha": "abc123", "git_dirty": "false"}

    listed = list_versions("percept-detector")
    assert [v.version for v in listed] == [2, 1]
    assert listed[1].metrics == first.metrics and listed[1].lineage == first.lineage
    assert all(v.aliases == () for v in listed)
    with session() as c:
        run = c.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"train.lr": "0.01", "train.epochs": "3", "seed": "0"}
    assert run.data.metrics["hota"] == 41.5
    assert run.data.tags["git_sha"] == "abc123"


def test_list_shows_aliases(registry_home, add_version):
    add_version(hota=30.0)
    add_version(hota=31.0)
    move_alias("percept-detector", "champion", 1, actor="t", reason="first")
    move_alias("percept-detector", "challenger", 2, actor="t", reason="eval")
    assert [(v.version, v.aliases) for v in list_versions()] == [(2, ("challenger",)), (1, ("champion",))]
    assert get_version("percept-detector", 1).aliases == ("champion",)


@pytest.mark.parametrize("model_name", ["never-registered", "percept-detector"])
def test_list_of_unknown_or_empty_model_is_empty(registry_home, model_name):
    assert list_versions(model_name) == []


def test_register_into_a_caller_owned_run_leaves_it_open(registry_home, bundle_dir):
    with session() as c:
        run_id = c.create_run(ensure_experiment("percept-retrain", mlflow_client=c)).info.run_id
    info = register_bundle(bundle_dir, run_id=run_id, metrics={"hota": 1.0})
    assert info.run_id == run_id
    with session() as c:
        assert c.get_run(run_id).info.status == "RUNNING"
        assert sorted(Path(a.path).name for a in c.list_artifacts(run_id, "bundle")) == sorted(REQUIRED_FILES)


def _drop(name: str):
    return lambda d: (d / name).unlink()


@pytest.mark.parametrize(
    "damage, kwargs",
    [
        (_drop("model.onnx"), {}),
        (_drop("report.json"), {}),
        (lambda d: (d / "weights.pt").write_bytes(b"pickle"), {}),
        (lambda d: None, {"tags": {"metric.hota": "99"}}),
        (lambda d: None, {"tags": {"": "x"}}),
        (lambda d: None, {"metrics": {"hota": math.nan}}),
        (lambda d: None, {"metrics": {"hota": "high"}}),
        (lambda d: None, {"model_name": "bad'name"}),
    ],
)
def test_invalid_input_registers_nothing(registry_home, bundle_dir, damage, kwargs):
    damage(bundle_dir)
    with pytest.raises(ValueError):
        register_bundle(bundle_dir, **kwargs)
    assert list_versions() == []


def test_missing_bundle_folder_is_a_value_error(registry_home, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        register_bundle(tmp_path / "nope")


def test_failed_artifact_upload_leaves_no_version_and_a_failed_run(registry_home, bundle_dir):
    ensure_experiment("percept-retrain")
    # A file where the experiment's artifact folder should be: the upload cannot create it.
    (registry_home / "mlartifacts").mkdir()
    (registry_home / "mlartifacts" / "percept-retrain").write_text("in the way")
    with pytest.raises(Exception):
        register_bundle(bundle_dir, metrics={"hota": 1.0})
    assert list_versions() == []
    with session() as c:
        exp = c.get_experiment_by_name("percept-retrain")
        runs = c.search_runs([exp.experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_unknown_caller_run_leaves_no_version(registry_home, bundle_dir):
    with pytest.raises(Exception):
        register_bundle(bundle_dir, run_id="0" * 32)
    assert list_versions() == []


@pytest.mark.parametrize("by", ["version", "alias"])
def test_download_returns_identical_bytes(registry_home, bundle_dir, tmp_path, by):
    info = register_bundle(bundle_dir, metrics={"hota": 1.0})
    move_alias("percept-detector", "champion", info.version, actor="t", reason="r")
    kwargs = {"version": info.version} if by == "version" else {"alias": "champion"}
    out = download_bundle("percept-detector", dst=tmp_path / "dl", **kwargs)
    assert out == tmp_path / "dl"
    names = sorted(p.name for p in bundle_dir.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names
    for name in names:
        assert (out / name).read_bytes() == (bundle_dir / name).read_bytes()


def test_default_download_folder_is_under_home_and_replaced(registry_home, bundle_dir):
    register_bundle(bundle_dir)
    first = download_bundle("percept-detector", version=1)
    (first / "report.json").write_text("tampered")
    again = download_bundle("percept-detector", version=1)
    assert again == first == registry_home / "bundles" / "percept-detector" / "v1"
    assert (again / "report.json").read_bytes() == (bundle_dir / "report.json").read_bytes()
    assert [p.name for p in again.parent.iterdir()] == ["v1"]  # no staging leftovers


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one"),
        ({"alias": "champion", "version": 1}, "exactly one"),
        ({"alias": "champion"}, "no alias"),
        ({"version": 7}, "no version 7"),
        ({"version": 1, "dst": "NONEMPTY"}, "not empty"),
    ],
)
def test_download_errors(registry_home, bundle_dir, tmp_path, kwargs, match):
    register_bundle(bundle_dir)
    if kwargs.get("dst") == "NONEMPTY":
        kwargs["dst"] = bundle_dir
    with pytest.raises(ValueError, match=match):
        download_bundle("percept-detector", **kwargs)


def test_get_version_of_missing_version_is_a_value_error(registry_home, bundle_dir):
    register_bundle(bundle_dir)
    with pytest.raises(ValueError, match="no version 5"):
        get_version("percept-detector", 5)


def test_final_metrics_win_over_a_callers_epoch_curves(registry_home, bundle_dir):
    from mlflow.entities import Metric

    with session() as c:
        run_id = c.create_run(ensure_experiment("percept-retrain", mlflow_client=c)).info.run_id
        c.log_batch(run_id, metrics=[Metric("map50", 0.1 * e, 1000 + e, e) for e in range(1, 4)])
    register_bundle(bundle_dir, run_id=run_id, metrics={"map50": 0.25, "hota": 30.0})
    with session() as c:
        assert c.get_run(run_id).data.metrics == {"map50": 0.25, "hota": 30.0}
