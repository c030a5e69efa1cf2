"""Flow test harness: one Prefect test server per session, a fresh workspace per test.

Integration tests ask for ``prefect_api`` (session-scoped ``prefect_test_harness``) and get its
API URL, which subprocesses can use as ``PREFECT_API_URL``. ``workspace`` points
``PERCEPT_WORKSPACE`` and ``PERCEPT_HOME`` (hence the DVC remote) at folders of the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import pytest

from perception.data.dataset import DatasetSpec, write_dataset_yaml
from perception.data.mot import SeqInfo, write_seqinfo


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "workspace"
    monkeypatch.setenv("PERCEPT_WORKSPACE", str(ws))
    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path / "home"))
    return ws


def write_tiny_dataset(
    root: Path, *, sequences: int = 2, frames: int = 5, seed: int = 0, name: str = "tiny"
) -> Path:
    """A small valid percept dataset: ``sequences`` x ``frames`` 32x24 JPEGs with one box each.

    Different seeds give different bytes; the same seed gives identical files.
    """
    rng = np.random.default_rng(seed)
    names = [f"seq-{i:03d}" for i in range(sequences)]
    for seq in names:
        img_dir = root / seq / "img1"
        img_dir.mkdir(parents=True)
        write_seqinfo(root / seq, SeqInfo(name=seq, frame_rate=10, seq_length=frames, width=32, height=24))
        rows = []
        for f in range(1, frames + 1):
            cv2.imwrite(str(img_dir / f"{f:06d}.jpg"), rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
            rows.append(f"{f},1,{f},2,8,10,1,1,1")
        (root / seq / "gt").mkdir()
        (root / seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    splits = {"train": names[:1], "val": names[1:2], "test": names[2:]}
    write_dataset_yaml(root, DatasetSpec(name=name, classes=("car",), splits=splits, source={"kind": "test"}))
    return root


@pytest.fixture
def make_dataset() -> Callable[..., Path]:
    """``write_tiny_dataset``, for tests to call with their own sizes and seeds."""
    return write_tiny_dataset
