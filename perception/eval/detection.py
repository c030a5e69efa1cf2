"""Detection accuracy: COCO mAP through pycocotools, as plain dicts (ready for MLflow / JSON).

Keys of the ``gt`` / ``pred`` mappings identify images (e.g. ``(sequence, frame)``); boxes are
``Detections`` in pixels of that image, ``class_id`` a 0-based index into ``classes``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import cv2
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from perception.data.dataset import read_dataset_yaml
from perception.models.frames import labelled_frames
from perception.types import Detections


def _xywh(xyxy: np.ndarray) -> np.ndarray:
    return np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]).astype(np.float64)


def coco_map(
    gt: Mapping[Hashable, Detections],
    pred: Mapping[Hashable, Detections],
    classes: Sequence[str],
    *,
    ignore: Mapping[Hashable, np.ndarray] | None = None,
) -> dict[str, Any]:
    """COCO box AP of ``pred`` against ``gt`` (scores of ``gt`` are ignored).

    ``ignore[key]`` (N,) bool marks ground-truth boxes as ignore regions (COCO ``iscrowd``): a
    prediction on one is neither a true nor a false positive, and missing one costs nothing.

    Returns ``map50`` (AP@IoU 0.5), ``map`` (AP@[.5:.95]), ``ap50_per_class`` ({name: AP@0.5, or
    None for a class without ground truth}), and the counts ``images``, ``gt_boxes`` (not ignored),
    ``pred_boxes``. An image key only in ``pred`` counts as an image without objects.
    """
    if not classes:
        raise ValueError("classes must be non-empty")
    keys = list(dict.fromkeys([*gt, *pred]))
    ids = {k: i + 1 for i, k in enumerate(keys)}
    annotations = []
    for key, det in gt.items():
        _check_classes(det, classes, f"gt[{key!r}]")
        crowd = np.zeros(len(det), bool) if ignore is None or key not in ignore else np.asarray(ignore[key], bool)
        if crowd.shape != (len(det),):
            raise ValueError(f"ignore[{key!r}] has shape {crowd.shape}, gt has {len(det)} boxes")
        for box, cls, is_crowd in zip(_xywh(det.xyxy), det.class_id, crowd):
            annotations.append({
                "id": len(annotations) + 1, "image_id": ids[key], "category_id": int(cls) + 1,
                "bbox": box.tolist(), "area": float(box[2] * box[3]), "iscrowd": int(is_crowd),
            })
    counted = sum(1 for a in annotations if not a["iscrowd"])
    if not counted:
        raise ValueError("gt holds no boxes (that are not ignored): AP is undefined")
    results = []
    for key, det in pred.items():
        _check_classes(det, classes, f"pred[{key!r}]")
        for box, cls, score in zip(_xywh(det.xyxy), det.class_id, det.score):
            results.append({"image_id": ids[key], "category_id": int(cls) + 1, "bbox": box.tolist(),
                            "score": float(score)})
    n_pred = len(results)
    per_class: dict[str, float | None] = {}
    if not results:
        with_gt = {a["category_id"] for a in annotations if not a["iscrowd"]}
        per_class = {name: (0.0 if i + 1 in with_gt else None) for i, name in enumerate(classes)}
        return _report(0.0, 0.0, per_class, len(keys), counted, 0)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco_gt = COCO()
        coco_gt.dataset = {
            "images": [{"id": i} for i in ids.values()],
            "annotations": annotations,
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(classes)],
        }
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
        ev.params.maxDets = [1, 10, max(100, _max_per_image(pred))]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # (iou thresholds, recall points, classes, areas, max dets)
    for k, name in enumerate(classes):
        p = precision[0, :, k, 0, -1]
        per_class[name] = float(p[p > -1].mean()) if (p > -1).any() else None
    return _report(max(0.0, float(ev.stats[1])), max(0.0, float(ev.stats[0])), per_class, len(keys),
                   counted, n_pred)


def _max_per_image(pred: Mapping[Hashable, Detections]) -> int:
    return max((len(d) for d in pred.values()), default=0)


def _check_classes(det: Detections, classes: Sequence[str], where: str) -> None:
    if len(det) and int(det.class_id.max()) >= len(classes):
        raise ValueError(f"{where} has class_id {int(det.class_id.max())} but there are {len(classes)} classes")


def _report(map50: float, map_: float, per_class: dict, images: int, gt_boxes: int, pred_boxes: int) -> dict:
    return {"map50": map50, "map": map_, "ap50_per_class": per_class, "images": images,
            "gt_boxes": gt_boxes, "pred_boxes": pred_boxes}


def evaluate_detector(
    detector: Any, data_root: Path, split: str = "test", batch_size: int = 8, *, min_visibility: float = 0.3
) -> dict[str, Any]:
    """``coco_map`` of ``detector.detect`` over every frame of ``split`` (keys ``(image path)``).

    Objects less than ``min_visibility`` visible (gt.txt column 9) are ignore regions, as KITTI's
    difficulty levels and COCO's crowd boxes do: a detector is neither asked to find a car that is
    95% hidden nor punished for finding it. 0 counts every object; the report says which was used.
    """
    if not 0.0 <= min_visibility <= 1.0:
        raise ValueError(f"min_visibility must be in [0, 1], got {min_visibility}")
    spec = read_dataset_yaml(Path(data_root))
    items = labelled_frames(Path(data_root), split)
    if not items:
        raise ValueError(f"{data_root}: split {split!r} has no frames")
    gt, pred, ignore = {}, {}, {}
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        images = []
        for path, boxes, cls, vis in chunk:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{path}: cannot read image")
            images.append(image)
            gt[str(path)] = Detections(xyxy=boxes, score=np.ones(len(boxes)), class_id=cls)
            ignore[str(path)] = vis < min_visibility
        for (path, *_), det in zip(chunk, detector.detect(images)):
            pred[str(path)] = det
    report = coco_map(gt, pred, spec.classes, ignore=ignore)
    report["split"] = split
    report["min_visibility"] = min_visibility
    return report
