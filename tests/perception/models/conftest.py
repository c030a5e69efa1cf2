"""A tiny drawn dataset for detector tests: coloured shapes on noise, MOT layout + dataset.yaml.

Frames are 192x128 (W x H). Class 0 "box" is a wide red rectangle, class 1 "blob" a tall green
ellipse; both drift across the frame. Sequences a, b are train; c is test.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.data.dataset import DatasetSpec, write_dataset_yaml
from perception.data.mot import MotRecords, SeqInfo, write_mot, write_seqinfo
from perception.models import DetectorConfig, train_detector

W, H = 192, 128
CLASSES = ("box", "blob")
# Small enough to train in seconds on 2 cores; trained once per session and shared.
TINY = DetectorConfig(
    classes=CLASSES, input_size=128, batch_size=4, epochs=5, warmup_iters=4, lr=2e-3, threads=2,
    score_threshold=0.2,
)


def _draw(rng: np.random.Generator, objects: list[tuple[int, np.ndarray]]) -> np.ndarray:
    image = rng.integers(40, 90, (H, W, 3), dtype=np.uint8)
    for cls, (x1, y1, x2, y2) in objects:
        p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
        if cls == 0:
            cv2.rectangle(image, p1, p2, (30, 30, 230), thickness=-1)
        else:
            centre = ((p1[0] + p2[0]) // 2, (p1[1] + p2[1]) // 2)
            cv2.ellipse(image, centre, ((p2[0] - p1[0]) // 2, (p2[1] - p1[1]) // 2), 0, 0, 360, (40, 220, 40), -1)
    return image


def write_tiny_dataset(root: Path, *, frames: int = 8, seed: int = 0) -> DatasetSpec:
    """Write the dataset under ``root``; returns its spec."""
    rng = np.random.default_rng(seed)
    seqs = {"a": "train", "b": "train", "c": "test"}
    for s, name in enumerate(seqs):
        starts = [(0, np.array([10.0 + 20 * s, 20, 70 + 20 * s, 55])), (1, np.array([120.0 - 10 * s, 50, 145 - 10 * s, 110]))]
        rows = []
        (root / name / "img1").mkdir(parents=True)
        for f in range(1, frames + 1):
            objects = [(c, box + np.array([2.0 * f * (1 - 2 * c), 0, 2.0 * f * (1 - 2 * c), 0])) for c, box in starts]
            cv2.imwrite(str(root / name / "img1" / f"{f:06d}.jpg"), _draw(rng, objects))
            for tid, (c, box) in enumerate(objects, 1):
                rows.append((f, tid, box[0], box[1], box[2] - box[0], box[3] - box[1], c + 1))
        table = np.array(rows, np.float64)
        write_mot(root / name / "gt" / "gt.txt", MotRecords(
            frame=table[:, 0].astype(np.int64), track_id=table[:, 1].astype(np.int64), xywh=table[:, 2:6],
            conf=np.ones(len(table)), extra=np.column_stack([table[:, 6], np.ones(len(table)), -np.ones(len(table))]),
        ))
        write_seqinfo(root / name, SeqInfo(name=name, frame_rate=10, seq_length=frames, width=W, height=H))
    spec = DatasetSpec(name="tiny", classes=CLASSES, splits={"train": ("a", "b"), "val": (), "test": ("c",)})
    write_dataset_yaml(root, spec)
    return spec


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-dataset")
    write_tiny_dataset(root)
    return root


@pytest.fixture(scope="session")
def tiny_config() -> DetectorConfig:
    return TINY


@pytest.fixture(scope="session")
def tiny_trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    """``(TrainResult, epochs reported to on_epoch)`` for ``TINY`` on the tiny dataset."""
    seen: list[int] = []
    result = train_detector(
        data_root=tiny_dataset, out_dir=tmp_path_factory.mktemp("train"), config=TINY,
        on_epoch=lambda epoch, metrics: seen.append(epoch), device="cpu",
    )
    return result, seen
