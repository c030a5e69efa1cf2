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
from perception.models.frames import frame_items
from perception.types import Detections


def _xywh(xyxy: np.ndarray) -> np.ndarray:
    return np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]).astype(np.float64)


def coco_map(
    gt: Mapping[Hashable, Detections], pred: Mapping[Hashable, Detections], classes: Sequence[str]
) -> dict[str, Any]:
    """COCO box AP of ``pred`` against ``gt`` (scores of ``gt`` are ignored).

    Returns ``map50`` (AP@IoU 0.5), ``map`` (AP@[.5:.95]), ``ap50_per_class`` ({name: AP@0.5, or
    None for a class without ground truth}), and the counts ``images``, ``gt_boxes``, ``pred_boxes``.
    An image key only in ``pred`` counts as an image without objects.
    """
    if not classes:
        raise ValueError("classes must be non-empty")
    keys = list(dict.fromkeys([*gt, *pred]))
    ids = {k: i + 1 for i, k in enumerate(keys)}
    annotations = []
    for key, det in gt.items():
        _check_classes(det, classes, f"gt[{key!r}]")
        for box, cls in zip(_xywh(det.xyxy), det.class_id):
            annotations.append({
                "id": len(annotations) + 1, "image_id": ids[key], "category_id": int(cls) + 1,
                "bbox": box.tolist(), "area": float(box[2] * box[3]), "iscrowd": 0,
            })
    if not annotations:
        raise ValueError("gt holds no boxes: AP is undefined")
    results = []
    for key, det in pred.items():
        _check_classes(det, classes, f"pred[{key!r}]")
        for box, cls, score in zip(_xywh(det.xyxy), det.class_id, det.score):
            results.append({"image_id": ids[key], "category_id": int(cls) + 1, "bbox": box.tolist(),
                            "score": float(score)})
    n_pred = len(results)
    per_class: dict[str, float | None] = {}
    if not results:
        with_gt = {a["category_id"] for a in annotations}
        per_class = {name: (0.0 if i + 1 in with_gt else None) for i, name in enumerate(classes)}
        return _report(0.0, 0.0, per_class, len(keys), len(annotations), 0)
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
                   len(annotations), n_pred)


def _max_per_image(pred: Mapping[Hashable, Detections]) -> int:
    return max((len(d) for d in pred.values()), default=0)


def _check_classes(det: Detections, classes: Sequence[str], where: str) -> None:
    if len(det) and int(det.class_id.max()) >= len(classes):
        raise ValueError(f"{where} has class_id {int(det.class_id.max())} but there are {len(classes)} classes")


def _report(map50: float, map_: float, per_class: dict, images: int, gt_boxes: int, pred_boxes: int) -> dict:
    return {"map50": map50, "map": map_, "ap50_per_class": per_class, "images": images,
            "gt_boxes": gt_boxes, "pred_boxes": pred_boxes}


def evaluate_detector(detector: Any, data_root: Path, split: str = "test", batch_size: int = 8) -> dict[str, Any]:
    """``coco_map`` of ``detector.detect`` over every frame of ``split`` (keys ``(image path)``)."""
    spec = read_dataset_yaml(Path(data_root))
    items = frame_items(Path(data_root), split)
    if not items:
        raise ValueError(f"{data_root}: split {split!r} has no frames")
    gt, pred = {}, {}
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        images = []
        for path, boxes, cls in chunk:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{path}: cannot read image")
            images.append(image)
            gt[str(path)] = Detections(xyxy=boxes, score=np.ones(len(boxes)), class_id=cls)
        for (path, _, _), det in zip(chunk, detector.detect(images)):
            pred[str(path)] = det
    report = coco_map(gt, pred, spec.classes)
    report["split"] = split
    return report
