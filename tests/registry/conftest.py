"""Registry fixtures: a real sqlite MLflow per test (copied from one migrated template) and tiny bundles."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import onnx
import pytest
from onnx import TensorProto, helper

from registry.bundles import ModelVersionInfo, register_bundle
from registry.store import session


def _scratch_dir() -> Path:
    # tmpfs where there is one: every MLflow write is a sqlite commit, and fsync on a shared
    # disk makes each cost tens of milliseconds (migrations are hundreds of them).
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="percept-registry-", dir=shm if shm.is_dir() else None))


@pytest.fixture(scope="session")
def mlflow_template() -> Iterator[Path]:
    """An empty, migrated MLflow sqlite file: migrations take seconds, a copy takes milliseconds."""
    home = _scratch_dir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERCEPT_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        with session() as c:
            c.search_experiments()
    yield home / "mlflow.db"
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def registry_home(monkeypatch: pytest.MonkeyPatch, mlflow_template: Path) -> Iterator[Path]:
    """This test's own PERCEPT_HOME holding a fresh copy of the migrated MLflow database."""
    home = _scratch_dir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    monkeypatch.setenv("PERCEPT_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def write_bundle_dir(path: Path, *, tag: str = "a") -> Path:
    """A hand-made bundle: a one-node ONNX model (Identity on (1,3) float) and small text files."""
    path.mkdir(parents=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], f"bundle-{tag}", [x], [y])
    onnx.save(helper.make_model(graph), path / "model.onnx")
    (path / "preprocess.json").write_text(json.dumps({"input_size": [320, 320], "classes": ["car", tag]}))
    (path / "tracker.yaml").write_text("name: sort\nmax_age: 3\n")
    (path / "report.json").write_text(json.dumps({"hota": 40.0, "tag": tag}))
    return path


@pytest.fixture
def make_bundle() -> Callable[..., Path]:
    """``make_bundle(path, tag=...)``: write a hand-made bundle folder at ``path``."""
    return write_bundle_dir


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return write_bundle_dir(tmp_path / "bundle")


@pytest.fixture
def add_version(registry_home: Path, tmp_path: Path) -> Callable[..., ModelVersionInfo]:
    """``add_version(hota=, map50=, latency_ms_b1=, model_name=...)`` registers a fresh bundle."""
    counter = iter(range(1000))

    def add(*, model_name: str = "percept-detector", **metrics: float) -> ModelVersionInfo:
        n = next(counter)
        folder = write_bundle_dir(tmp_path / f"bundle-{n}", tag=str(n))
        return register_bundle(folder, model_name=model_name, metrics=metrics, tags={"git_sha": f"sha{n}"})

    return add


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
