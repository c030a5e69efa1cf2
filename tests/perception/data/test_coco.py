"""COCO JSON read/write on tests/data/coco (4 images, max side 320, 41 boxes, 1 crowd)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from perception.data.coco import CocoImage, read_coco, write_coco
from perception.types import Detections

FILE_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "dog", "handbag", "suitcase", "kite")


@pytest.fixture(scope="module")
def gt_json(test_data):
    return test_data / "coco" / "instances.json"


def test_read_default_classes_sorted_by_category_id(gt_json):
    boxes = read_coco(gt_json)
    assert boxes.classes == FILE_CLASSES
    assert boxes.category_ids == {0: 1, 1: 2, 2: 3, 3: 4, 4: 6, 5: 18, 6: 31, 7: 33, 8: 38}
    assert [im.id for im in boxes.images] == [74, 86, 149, 260]
    assert (boxes.images[0].width, boxes.images[0].height) == (320, 213)
    assert {k: len(v) for k, v in boxes.detections.items()} == {74: 8, 86: 3, 149: 22, 260: 7}  # crowd dropped


def test_bbox_becomes_xyxy(gt_json):
    raw = json.loads(gt_json.read_text())
    first = next(a for a in raw["annotations"] if a["image_id"] == 74)
    x, y, w, h = first["bbox"]
    det = read_coco(gt_json).detections[74]
    np.testing.assert_allclose(det.xyxy[0], [x, y, x + w, y + h], rtol=1e-6)
    assert det.score.tolist() == [1.0] * len(det)
    assert det.class_id[0] == FILE_CLASSES.index("dog")  # category 18


@pytest.mark.parametrize(
    "classes, counts, class_ids_149, category_ids",
    [
        (["car", "person"], {74: 6, 86: 1, 149: 16, 260: 3}, {0, 1}, {0: 3, 1: 1}),
        (["person"], {74: 6, 86: 1, 149: 12, 260: 2}, {0}, {0: 1}),
        (["zebra"], {74: 0, 86: 0, 149: 0, 260: 0}, set(), {}),  # not in the file: no boxes
    ],
)
def test_category_mapping_by_name(gt_json, classes, counts, class_ids_149, category_ids):
    boxes = read_coco(gt_json, classes)
    assert boxes.classes == tuple(classes)
    assert {k: len(v) for k, v in boxes.detections.items()} == counts
    assert set(boxes.detections[149].class_id.tolist()) == class_ids_149
    assert boxes.category_ids == category_ids


def test_include_crowd(gt_json):
    with_crowd = read_coco(gt_json, ["person"], include_crowd=True)
    assert len(with_crowd.detections[149]) == 13


@pytest.mark.parametrize("classes", [[], ["a", "a"], "person"])
def test_bad_classes_argument(gt_json, classes):
    with pytest.raises(ValueError, match="classes must be a non-empty list of unique names"):
        read_coco(gt_json, classes)


def test_ground_truth_round_trip(gt_json, tmp_path):
    boxes = read_coco(gt_json)
    out = tmp_path / "gt.json"
    write_coco(out, boxes.images, boxes.detections, boxes.classes, category_ids=boxes.category_ids)
    back = read_coco(out)
    assert back.classes == boxes.classes and back.images == boxes.images
    assert back.category_ids == boxes.category_ids
    for image_id, det in boxes.detections.items():
        np.testing.assert_allclose(back.detections[image_id].xyxy, det.xyxy, atol=1e-3)
        np.testing.assert_array_equal(back.detections[image_id].class_id, det.class_id)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))  # pycocotools accepts what we wrote
    assert len(coco.getAnnIds()) == 40 and coco.getCatIds() == [1, 2, 3, 4, 6, 18, 31, 33, 38]


def test_default_category_ids_are_one_based(tmp_path):
    images = [CocoImage(id=5, file_name="a.jpg", width=10, height=10), CocoImage(id=6, file_name="b.jpg", width=10, height=10)]
    det = Detections(xyxy=[[1, 2, 4, 6]], score=[0.5], class_id=[1])
    write_coco(tmp_path / "g.json", images, {5: det}, ["car", "bus"])
    data = json.loads((tmp_path / "g.json").read_text())
    assert data["categories"] == [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}]
    assert data["annotations"] == [{"id": 1, "image_id": 5, "category_id": 2, "bbox": [1.0, 2.0, 3.0, 4.0], "area": 12.0, "iscrowd": 0}]
    back = read_coco(tmp_path / "g.json")
    assert len(back.detections[6]) == 0 and back.detections[5].class_id.tolist() == [1]


def test_results_style_evaluates_with_pycocotools(gt_json, tmp_path):
    boxes = read_coco(gt_json)
    shifted = {
        k: Detections(xyxy=d.xyxy + [0, 0, 1, 1], score=np.linspace(1, 0.5, len(d)), class_id=d.class_id)
        for k, d in boxes.detections.items()
    }
    out = tmp_path / "res.json"
    write_coco(out, boxes.images, shifted, boxes.classes, scores=True, category_ids=boxes.category_ids)
    results = json.loads(out.read_text())
    assert isinstance(results, list) and len(results) == 40
    assert set(results[0]) == {"image_id", "category_id", "bbox", "score"}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_json))
        ev = COCOeval(gt, gt.loadRes(str(out)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[1] == pytest.approx(1.0)  # AP@0.5: boxes grown by 1 px still all match
    assert 0.6 < ev.stats[0] < 1.0  # AP@[.5:.95]: the 1 px growth costs small boxes at high IoU
    with pytest.raises(ValueError, match="a results list"):
        read_coco(out)


@pytest.mark.parametrize(
    "detections, classes, category_ids, error",
    [
        ({9: Detections.empty()}, ["a"], None, r"image id\(s\) \[9\] not in images"),
        ({1: Detections(xyxy=[[0, 0, 1, 1]], score=[1], class_id=[2])}, ["a"], None, "class_id 2 but only 1 classes"),
        ({}, [], None, "classes must be a non-empty list"),
        ({}, ["a", "b"], {0: 1}, r"category_ids has no id for class index\(es\) \[1\]"),
    ],
)
def test_write_rejects(tmp_path, detections, classes, category_ids, error):
    images = [CocoImage(id=1, file_name="a.jpg", width=4, height=4)]
    with pytest.raises(ValueError, match=error):
        write_coco(tmp_path / "x.json", images, detections, classes, category_ids=category_ids)
    assert not (tmp_path / "x.json").exists()


def _valid():
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "iscrowd": 0}],
        "categories": [{"id": 1, "name": "car"}],
    }


def _edit(path, fn):
    def make():
        data = _valid()
        fn(data)
        return data

    return make


@pytest.mark.parametrize(
    "make, error",
    [
        (_valid, None),
        (lambda: {**_valid(), "annotations": []}, None),
        (_edit("no images", lambda d: d.pop("images")), "missing list 'images'"),
        (_edit("ann key", lambda d: d["annotations"][0].pop("bbox")), r"annotations\[0\] lacks \['bbox'\]"),
        (_edit("cat name", lambda d: d["categories"][0].pop("name")), r"categories\[0\] lacks \['name'\]"),
        (_edit("img size", lambda d: d["images"][0].pop("width")), r"images\[0\] lacks \['width'\]"),
        (_edit("dup img", lambda d: d["images"].append(dict(d["images"][0]))), "duplicate images ids"),
        (_edit("str id", lambda d: d["images"][0].update(id="a")), "images ids must be integers"),
        (_edit("bad img ref", lambda d: d["annotations"][0].update(image_id=7)), "annotation 1 refers to unknown image 7"),
        (_edit("bad cat ref", lambda d: d["annotations"][0].update(category_id=7)), "annotation 1 refers to unknown category 7"),
        (_edit("neg box", lambda d: d["annotations"][0].update(bbox=[1, 1, -2, 2])), "negative or non-finite size"),
        (_edit("short box", lambda d: d["annotations"][0].update(bbox=[1, 1, 2])), r"bbox must be \[x, y, w, h\]"),
        (_edit("dup name", lambda d: d["categories"].append({"id": 2, "name": "car"})), "category names are not unique"),
        (_edit("zero size", lambda d: d["images"][0].update(width=0)), r"image 1 \(a.jpg\) has size 0x10"),
    ],
)
def test_read_malformed(tmp_path, make, error):
    p = tmp_path / "c.json"
    p.write_text(json.dumps(make()))
    if error:
        with pytest.raises(ValueError, match=error):
            read_coco(p)
    else:
        assert read_coco(p).classes == ("car",)


@pytest.mark.parametrize(
    "text, error",
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("42", "expected a ground-truth COCO object, got int"),
        (None, "file not found"),
    ],
)
def test_read_bad_json(tmp_path, text, error):
    p = tmp_path / "c.json"
    if text is not None:
        p.write_text(text)
    with pytest.raises(ValueError, match=error):
        read_coco(p)
