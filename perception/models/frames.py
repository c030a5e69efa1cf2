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
    root = Path(root)
    spec = read_dataset_yaml(root)
    items = []
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
            for f in range(1, info.seq_length + 1):
                sel = labelled & (rec.frame == f)
                by_frame[f] = (xyxy[sel].astype(np.float32), cls[sel])
        for f in range(1, info.seq_length + 1):
            image = root / seq / info.im_dir / f"{f:06d}{info.im_ext}"
            boxes, cls = by_frame.get(f, (np.zeros((0, 4), np.float32), np.zeros(0, np.int64)))
            items.append((image, boxes, cls))
    return items
