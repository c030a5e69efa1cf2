"""COCO mAP tables, evaluate_detector over a dataset folder, and the latency table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.data.dataset import DatasetSpec, write_dataset_yaml
from perception.data.mot import MotRecords, SeqInfo, write_mot, write_seqinfo
from perception.eval.detection import coco_map, evaluate_detector
from perception.eval.latency import detector_latency
from perception.types import Detections

CLASSES = ("car", "pedestrian")


def _det(rows) -> Detections:
    a = np.asarray(rows, np.float64).reshape(-1, 6)
    return Detections(xyxy=a[:, :4], score=a[:, 4], class_id=a[:, 5])


GT = {
    "f1": _det([[10, 10, 50, 40, 1, 0], [60, 10, 80, 60, 1, 1]]),
    "f2": _det([[100, 100, 160, 140, 1, 0]]),
}


@pytest.mark.parametrize(
    "pred, map50, per_class",
    [
        (GT, 1.0, {"car": 1.0, "pedestrian": 1.0}),
        ({}, 0.0, {"car": 0.0, "pedestrian": 0.0}),
        ({"f1": Detections.empty(), "f2": Detections.empty()}, 0.0, {"car": 0.0, "pedestrian": 0.0}),
        # Shifted by half a box: IoU < 0.5 everywhere.
        ({k: _det(np.column_stack([d.xyxy + [25, 0, 25, 0], d.score, d.class_id])) for k, d in GT.items()},
         0.0, {"car": 0.0, "pedestrian": 0.0}),
        # Right boxes, wrong classes.
        ({k: _det(np.column_stack([d.xyxy, d.score, 1 - d.class_id])) for k, d in GT.items()},
         0.0, {"car": 0.0, "pedestrian": 0.0}),
        # Only the cars found.
        ({"f1": GT["f1"].select([0]), "f2": GT["f2"]}, 0.5, {"car": 1.0, "pedestrian": 0.0}),
        # A false positive on an extra image ranked above the true boxes.
        ({**GT, "f3": _det([[0, 0, 10, 10, 2.0, 0]])}, None, None),
    ],
)
def test_coco_map(pred, map50, per_class) -> None:
    report = coco_map(GT, pred, CLASSES)
    if map50 is None:  # the extra false positive costs precision on cars only
        assert 0.4 < report["ap50_per_class"]["car"] < 0.99
        assert report["ap50_per_class"]["pedestrian"] == pytest.approx(1.0)
        assert report["images"] == 3
        return
    assert report["map50"] == pytest.approx(map50, abs=0.01)
    assert report["ap50_per_class"] == pytest.approx(per_class, abs=0.01)
    assert report["map"] <= report["map50"] + 1e-9
    assert report["gt_boxes"] == 3


def test_slightly_shifted_boxes_keep_map50_but_lose_strict_map() -> None:
    shifted = {k: _det(np.column_stack([d.xyxy + [3, 3, 3, 3], d.score, d.class_id])) for k, d in GT.items()}
    perfect, report = coco_map(GT, GT, CLASSES), coco_map(GT, shifted, CLASSES)
    assert report["map50"] == pytest.approx(1.0)
    assert perfect["map"] == pytest.approx(1.0) and report["map"] < 0.9


def test_class_without_ground_truth_is_none() -> None:
    report = coco_map({"f": _det([[0, 0, 10, 10, 1, 0]])}, {"f": _det([[0, 0, 10, 10, 0.9, 0]])}, CLASSES)
    assert report["ap50_per_class"] == {"car": pytest.approx(1.0), "pedestrian": None}
    assert report["map50"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "gt, pred, classes, error",
    [
        ({}, {}, CLASSES, "no boxes"),
        ({"f": Detections.empty()}, {}, CLASSES, "no boxes"),
        (GT, GT, ("car",), "class_id 1"),
        (GT, {"f1": _det([[0, 0, 1, 1, 1, 5]])}, CLASSES, r"pred\['f1'\] has class_id 5"),
        (GT, GT, (), "classes must be non-empty"),
    ],
)
def test_coco_map_rejects(gt, pred, classes, error) -> None:
    with pytest.raises(ValueError, match=error):
        coco_map(gt, pred, classes)


class _Oracle:
    """Answers with the ground truth of each image, identified by its mean pixel value."""

    def __init__(self, by_value: dict[int, Detections]) -> None:
        self.by_value = by_value

    def detect(self, images):
        return [self.by_value[int(round(im.mean()))] for im in images]


def _dataset(root: Path) -> dict[int, Detections]:
    answers = {}
    rows = []
    for f, value in enumerate((60, 120, 180), 1):
        box = np.array([10.0 * f, 10, 10.0 * f + 30, 40])
        (root / "s" / "img1").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "s" / "img1" / f"{f:06d}.png"), np.full((64, 96, 3), value, np.uint8))
        rows.append([f, 1, *box[:2], *(box[2:] - box[:2]), 1, 1, 1, -1])
        answers[value] = _det([[*box, 0.9, 0]])
    t = np.array(rows)
    write_mot(root / "s" / "gt" / "gt.txt", MotRecords(t[:, 0].astype(int), t[:, 1].astype(int), t[:, 2:6], t[:, 6], t[:, 7:]))
    write_seqinfo(root / "s", SeqInfo(name="s", frame_rate=10, seq_length=3, width=96, height=64, im_ext=".png"))
    write_dataset_yaml(root, DatasetSpec(name="t", classes=CLASSES, splits={"train": (), "val": (), "test": ("s",)}))
    return answers


def test_evaluate_detector_over_a_split(tmp_path: Path) -> None:
    answers = _dataset(tmp_path)
    report = evaluate_detector(_Oracle(answers), tmp_path, split="test", batch_size=2)
    assert report["map50"] == pytest.approx(1.0) and report["images"] == 3 and report["split"] == "test"
    with pytest.raises(ValueError, match="no frames"):
        evaluate_detector(_Oracle(answers), tmp_path, split="train")


class _Sleepy:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def detect(self, images):
        self.calls.append(len(images))
        return [Detections.empty() for _ in images]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"batch_sizes": (1, 3), "repeats": 4, "warmup": 2}, None),
        ({"batch_sizes": (), "repeats": 4}, "batch_sizes"),
        ({"batch_sizes": (0,), "repeats": 4}, "batch_sizes"),
        ({"repeats": 0}, "repeats"),
    ],
)
def test_detector_latency(kwargs: dict, error: str | None) -> None:
    det = _Sleepy()
    if error:
        with pytest.raises(ValueError, match=error):
            detector_latency(det, **kwargs)
        return
    table = detector_latency(det, size=(48, 64), **kwargs)
    assert sorted(table) == [1, 3]
    assert det.calls == [1] * 6 + [3] * 6  # warmup calls run but are not timed
    for batch, row in table.items():
        assert 0 <= row["median_ms"] <= row["p99_ms"] and row["repeats"] == 4
        assert row["per_image_ms"] == pytest.approx(row["median_ms"] / batch)


@pytest.mark.parametrize(
    "pred, car_ap, error",
    [
        (GT, 1.0, None),  # finding the ignored pedestrian is no false positive
        ({"f1": GT["f1"].select([0]), "f2": GT["f2"]}, 1.0, None),  # missing it costs nothing
        ({"f1": GT["f1"].select([0]), "f2": Detections.empty()}, 0.5, None),
    ],
)
def test_ignored_ground_truth_is_neither_required_nor_penalised(pred, car_ap, error) -> None:
    ignore = {"f1": np.array([False, True]), "f2": np.array([False])}
    report = coco_map(GT, pred, CLASSES, ignore=ignore)
    assert report["ap50_per_class"]["car"] == pytest.approx(car_ap, abs=0.01)
    assert report["ap50_per_class"]["pedestrian"] is None
    assert report["gt_boxes"] == 2


@pytest.mark.parametrize(
    "ignore, error",
    [
        ({"f1": np.array([True])}, "shape"),
        ({"f1": np.array([True, True]), "f2": np.array([True])}, "no boxes"),
    ],
)
def test_coco_map_rejects_bad_ignore(ignore, error) -> None:
    with pytest.raises(ValueError, match=error):
        coco_map(GT, GT, CLASSES, ignore=ignore)


def test_evaluate_detector_ignores_mostly_hidden_objects(tmp_path: Path) -> None:
    answers = _dataset(tmp_path)
    gt_path = tmp_path / "s" / "gt" / "gt.txt"
    rows = gt_path.read_text().splitlines()
    rows[2] = rows[2].replace(",1,1,1,", ",1,1,0.1,")  # frame 3's object is 10% visible ...
    gt_path.write_text("\n".join(rows) + "\n")
    answers[180] = Detections.empty()  # ... and the detector misses it
    strict = evaluate_detector(_Oracle(answers), tmp_path, min_visibility=0.0)
    default = evaluate_detector(_Oracle(answers), tmp_path)
    assert strict["map50"] < 0.9 and strict["gt_boxes"] == 3
    assert default["map50"] == pytest.approx(1.0) and default["gt_boxes"] == 2
    assert default["min_visibility"] == 0.3
    with pytest.raises(ValueError, match="min_visibility"):
        evaluate_detector(_Oracle(answers), tmp_path, min_visibility=1.5)
