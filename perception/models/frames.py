"""The labelled frames of one split of a percept dataset, without torch (used by training and eval)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perception.data.dataset import read_dataset_yaml
from perception.data.mot import read_mot, read_seqinfo


def frame_items(root: Path, split: str) -> list[tuple[Path, np.ndarray, np.ndarray]]:
    """``(image path, boxes (N,4) xyxy frame px, class_id (N,))`` for every frame of a split.

    Ground-truth rows with ``conf == 0`` are MOTChallenge's "ignore" rows and are skipped.
    Frames without objects are kept: they teach the background.
    """
    return [(path, boxes, cls) for path, boxes, cls, _ in labelled_frames(root, split)]


def labelled_frames(root: Path, split: str) -> list[tuple[Path, np.ndarray, np.ndarray, np.ndarray]]:
    """``frame_items`` plus each box's visibility (N,) in [0, 1] (gt.txt column 9).

    Files that carry no visibility there (MOT15 writes -1 or world coordinates) give 1.0.
    """
    root = Path(root)
    spec = read_dataset_yaml(root)
    items = []
    empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))
    for seq in spec.split(split):
        info = read_seqinfo(root / seq)
        gt_path = root / seq / "gt" / "gt.txt"
        by_frame = {}
        if gt_path.exists():
            rec = read_mot(gt_path)
            labelled = rec.conf != 0  # MOT "ignore" rows have conf 0
            cls = rec.class_ids()
            if len(rec) and cls.max() >= len(spec.classes):
                raise ValueError(f"{gt_path}: class {int(cls.max()) + 1} but the dataset has {len(spec.classes)}")
            xyxy = np.column_stack([rec.xywh[:, :2], rec.xywh[:, :2] + rec.xywh[:, 2:]])
            vis = rec.extra[:, 1]
            vis = np.where((vis >= 0) & (vis <= 1), vis, 1.0).astype(np.float32)
            for f in range(1, info.seq_length + 1):
                sel = labelled & (rec.frame == f)
                by_frame[f] = (xyxy[sel].astype(np.float32), cls[sel], vis[sel])
        for f in range(1, info.seq_length + 1):
            image = root / seq / info.im_dir / f"{f:06d}{info.im_ext}"
            items.append((image, *by_frame.get(f, empty)))
    return items
