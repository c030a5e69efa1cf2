"""retrain end to end on real Prefect (test harness), Ray (local), MLflow (sqlite) and DVC.

One PERCEPT_HOME, workspace and Ray per module: Ray's start costs seconds and its workers carry
PERCEPT_HOME / the tracking URI from ``ray.init``. Data: 3 sequences x 8 frames of 32x24 px
(train / val / test), detectors at 64 px for 1-3 epochs, so a candidate trains in seconds.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

pytestmark = pytest.mark.integration

MODEL = "percept-detector"
FAST = {"input_size": 64, "batch_size": 4, "warmup_iters": 1, "fpn_channels": 32, "score_threshold": 0.05}
OPEN_GATE = {"floor_hota": 0.0, "floor_map50": 0.0, "latency_budget_ms": 60000.0}


def write_dataset(root: Path, *, sequences: int = 3, frames: int = 8) -> Path:
    """``sequences`` x ``frames`` 32x24 noise frames with one moving bright box (class car) each."""
    import cv2
    import numpy as np

    from perception.data.dataset import DatasetSpec, write_dataset_yaml
    from perception.data.mot import SeqInfo, write_seqinfo

    rng = np.random.default_rng(0)
    names = [f"seq-{i}" for i in range(sequences)]
    for seq in names:
        (root / seq / "img1").mkdir(parents=True)
        (root / seq / "gt").mkdir()
        write_seqinfo(root / seq, SeqInfo(name=seq, frame_rate=10, seq_length=frames, width=32, height=24))
        rows = []
        for f in range(1, frames + 1):
            image = rng.integers(0, 80, (24, 32, 3), dtype=np.uint8)
            image[4:18, f : f + 10] = 255
            cv2.imwrite(str(root / seq / "img1" / f"{f:06d}.jpg"), image)
            rows.append(f"{f},1,{f},4,10,14,1,1,1")
        (root / seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    splits = {"train": names[:1], "val": names[1:2], "test": names[2:]}
    write_dataset_yaml(root, DatasetSpec(name="tiny", classes=("car",), splits=splits, source={"kind": "test"}))
    return root


def _overrides(candidates: list[dict[str, Any]], **gate: float) -> dict[str, dict[str, Any]]:
    return {
        "detector": dict(FAST),
        "sweep": {"candidates": candidates, "task_retries": 0, "worker_retries": 2},
        "gate": {**OPEN_GATE, **gate},
    }


@pytest.fixture(scope="module")
def home(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import ray

    from flows.ingest import ingest
    from flows.runtime import ensure_ray

    root = tmp_path_factory.mktemp("retrain")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERCEPT_HOME", str(root / "home"))
        mp.setenv("PERCEPT_WORKSPACE", str(root / "workspace"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        ensure_ray(num_cpus=2, dashboard=False)
        src = write_dataset(root / "src")
        ingest(str(src), "tiny")
        # Hermetic: the repo's params.yaml must not change what these tests train.
        (root / "params.yaml").write_text("{}\n")
        try:
            yield root / "home"
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def first_run(home: Path) -> dict[str, Any]:
    """Two candidates, one of which cannot even build its config (an invalid arch)."""
    from flows.retrain import retrain

    return retrain(dataset="tiny", epochs=1, params_path=_params(home),
                   overrides=_overrides([{"name": "ok"}, {"name": "bad", "arch": "nope"}]))


def _params(home: Path) -> str:
    return str(home.parent / "params.yaml")


def _rows(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in summary["candidates"]}


def _runs(name: str) -> list[Any]:
    from registry.store import session

    with session() as c:
        exp = c.get_experiment_by_name("percept-retrain")
        return c.search_runs([exp.experiment_id], filter_string=f"tags.candidate = '{name}'")


def test_crashing_candidate_is_recorded_and_the_other_registers(first_run: dict[str, Any]):
    from registry.bundles import list_versions
    from registry.ledger import get_alias

    rows = _rows(first_run)
    assert rows["bad"]["status"] == "failed" and rows["bad"]["version"] is None
    assert "arch must be one of" in rows["bad"]["error"]
    assert rows["ok"]["status"] == "trained" and rows["ok"]["version"] is not None
    (bad_run,) = _runs("bad")
    assert bad_run.info.status == "FAILED" and "arch must be one of" in bad_run.data.tags["error"]
    (ok_run,) = _runs("ok")
    assert ok_run.info.status == "FINISHED"
    assert "loss" in ok_run.data.metrics  # streamed per epoch from the worker

    info = {v.version: v for v in list_versions(MODEL)}[rows["ok"]["version"]]
    assert set(info.lineage) >= {"data_md5", "git_sha", "git_dirty", "params_hash", "prefect_flow_run_id"}
    assert info.lineage["data_md5"] == first_run["dataset"]["md5"]
    assert info.lineage["git_dirty"] in ("true", "false")
    assert set(info.metrics) >= {"hota", "map50", "map", "mota", "idf1", "latency_ms_b1"}
    # The first model clears the (opened) floors and becomes champion.
    assert first_run["decision"]["promote"] is True
    assert get_alias(MODEL, "champion") == rows["ok"]["version"]


def test_registered_bundle_is_complete(first_run: dict[str, Any], tmp_path: Path):
    from perception.bundle import load_bundle
    from registry.bundles import download_bundle

    version = _rows(first_run)["ok"]["version"]
    bundle = load_bundle(download_bundle(MODEL, version=version, dst=tmp_path / "b"))
    assert bundle.samples_png is not None and bundle.tracker["name"]
    assert bundle.report["metrics"]["hota"] == pytest.approx(_rows(first_run)["ok"]["metrics"]["hota"])
    assert bundle.preprocess["class_names"] == ["car"]  # the dataset's classes


def test_second_run_reuses_finished_candidates(first_run: dict[str, Any], home: Path):
    from flows.candidates import read_attempts
    from flows.retrain import candidate_dir, retrain
    from registry.bundles import list_versions

    ok = _rows(first_run)["ok"]
    versions_before = len(list_versions(MODEL))
    again = retrain(dataset="tiny", epochs=1, params_path=_params(home), overrides=_overrides([{"name": "ok"}]))
    row = _rows(again)["ok"]
    assert row["status"] == "cached"
    assert row["version"] == ok["version"] and row["metrics"] == ok["metrics"]
    assert len(read_attempts(candidate_dir(ok["key"]))) == 1  # no worker started
    assert len(list_versions(MODEL)) == versions_before and len(_runs("ok")) == 1


def _kill_when_first_epoch_done(root: Path, known: set[str], out: dict[str, Any], stop: threading.Event) -> None:
    from flows.candidates import read_progress

    while not stop.is_set():
        for work in root.glob("*"):
            if work.name in known:
                continue
            progress = read_progress(work)
            if progress and progress["epoch"] >= 1:
                out["pid"], out["epoch"] = progress["pid"], progress["epoch"]
                os.kill(progress["pid"], signal.SIGKILL)
                return
        time.sleep(0.02)


def test_killed_worker_is_retried_and_resumes(home: Path):
    from flows.candidates import read_attempts
    from flows.retrain import CANDIDATES_DIR, candidate_dir, retrain

    root = home / CANDIDATES_DIR
    killed: dict[str, Any] = {}
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_when_first_epoch_done, args=(root, {p.name for p in root.glob("*")}, killed, stop)
    )
    killer.start()
    try:
        summary = retrain(dataset="tiny", epochs=3, params_path=_params(home),
                          overrides=_overrides([{"name": "victim", "lr": 0.003}]), promote=False)
    finally:
        stop.set()
        killer.join()
    row = _rows(summary)["victim"]
    assert killed, "the worker finished before the test could kill it"
    assert row["status"] == "trained" and row["version"] is not None
    attempts = read_attempts(candidate_dir(row["key"]))
    assert len(attempts) == 2 and attempts[0]["pid"] == killed["pid"] != attempts[1]["pid"]
    assert row["resumed_from"] >= killed["epoch"] >= 1  # the retry continued from a checkpoint


def test_worse_challenger_is_not_promoted_and_rollback_restores(first_run: dict[str, Any], home: Path):
    from flows.retrain import candidate_dir, retrain
    from registry.bundles import register_bundle
    from registry.ledger import get_alias, read_ledger, rollback
    from registry.promote import promote

    ok = _rows(first_run)["ok"]
    # A champion whose numbers no 1-epoch model reaches (the ok candidate's bundle, better metrics).
    strong = register_bundle(
        candidate_dir(ok["key"]) / "bundle", model_name=MODEL,
        tags={"data_md5": "elsewhere"}, metrics={"hota": 90.0, "map50": 0.95, "latency_ms_b1": 1.0},
    )
    before = get_alias(MODEL, "champion")
    promote(MODEL, strong.version, reason="test: a strong champion", actor="tests")
    summary = retrain(dataset="tiny", epochs=1, params_path=_params(home),
                      overrides=_overrides([{"name": "ok"}], min_improvement_hota=0.0))
    assert summary["decision"]["promote"] is False
    assert get_alias(MODEL, "champion") == strong.version
    latest = read_ledger(MODEL, alias="champion")[0]
    assert latest.moved is False and latest.to_version == summary["challenger"]
    assert "below the required margin" in latest.reason and "vs champion 90.0" in latest.reason

    entry = rollback(MODEL, actor="tests", reason="test: roll back the manual promotion")
    assert get_alias(MODEL, "champion") == before == entry.to_version


def test_mlflow_unreachable_at_promotion_leaves_champion(first_run: dict[str, Any], monkeypatch):
    import socket

    from flows.retrain import promote_challenger
    from registry.bundles import list_versions
    from registry.ledger import get_alias

    champion = get_alias(MODEL, "champion")
    other = next(v.version for v in list_versions(MODEL) if v.version != champion)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    with pytest.raises(RuntimeError, match="unreachable while promoting .* champion was left unchanged"):
        promote_challenger(MODEL, other, dict(OPEN_GATE))
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert get_alias(MODEL, "champion") == champion


def test_cli_prints_candidates_and_the_gate_decision(first_run: dict[str, Any], home: Path):
    from typer.testing import CliRunner

    from cli.main import app

    sets = [f"detector.{k}={v}" for k, v in FAST.items()]
    sets += [f"gate.{k}={v}" for k, v in OPEN_GATE.items()]
    sets += ["sweep.candidates=[{name: ok}]", "sweep.task_retries=0"]
    args = ["retrain", "--dataset", "tiny", "--epochs", "1", "--params", _params(home), "--json"]
    result = CliRunner().invoke(app, args + [a for s in sets for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    version = _rows(first_run)["ok"]["version"]
    assert "cached" in result.output and f"v{version}" in result.output and "gate:" in result.output
    bad = CliRunner().invoke(app, args + ["--set", "sweep.candidates=[{name: x, arch: nope}]"])
    assert bad.exit_code == 1 and "all 1 candidates failed" in bad.output
