"""Converters into a percept dataset folder, on tests/data."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from perception.data.convert import coco_to_dataset, default_splits, mot_to_dataset, video_to_dataset
from perception.data.dataset import read_dataset_yaml, validate_dataset
from perception.data.mot import read_mot, read_seqinfo

MOT_SEQS = ["KITTI-17", "TUD-Campus", "TUD-Stadtmitte"]


@pytest.mark.parametrize(
    "seqs, expect",
    [
        ([], {"train": (), "val": (), "test": ()}),
        (["a"], {"train": (), "val": (), "test": ("a",)}),
        (["b", "a"], {"train": ("a",), "val": (), "test": ("b",)}),
        (["c", "a", "b"], {"train": ("a",), "val": ("b",), "test": ("c",)}),
        (["e", "d", "c", "b", "a"], {"train": ("a", "b", "c"), "val": ("d",), "test": ("e",)}),
    ],
)
def test_default_splits(seqs, expect):
    assert default_splits(seqs) == expect


def test_mot_folder_of_sequences(test_data, tmp_path):
    out = tmp_path / "ds"
    spec = mot_to_dataset(test_data / "mot15", out, name="mot15")
    assert spec.splits == {"train": ("KITTI-17",), "val": ("TUD-Campus",), "test": ("TUD-Stadtmitte",)}
    assert spec.classes == ("pedestrian",) and spec.source["kind"] == "mot"
    assert validate_dataset(out).to_dict() == spec.to_dict()
    for seq in MOT_SEQS:
        for rel in ("seqinfo.ini", "gt/gt.txt", "det/det.txt"):
            assert (out / seq / rel).read_bytes() == (test_data / "mot15" / seq / rel).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no staging folder left


def test_mot_single_sequence_and_explicit_splits(test_data, tmp_path):
    spec = mot_to_dataset(test_data / "mot15" / "TUD-Campus", tmp_path / "one", name="one")
    assert spec.splits == {"train": (), "val": (), "test": ("TUD-Campus",)}
    spec = mot_to_dataset(
        test_data / "mot15", tmp_path / "two", name="two", splits={"train": ["TUD-Campus"], "test": ["KITTI-17"]}
    )
    assert spec.sequences == ("TUD-Campus", "KITTI-17")
    assert not (tmp_path / "two" / "TUD-Stadtmitte").exists()  # not named in splits: not copied


def _bad_gt_class(src):
    (src / "TUD-Campus" / "gt" / "gt.txt").write_text("1,1,10,10,5,5,1,3,1,-1\n")


def _bad_row(src):
    (src / "KITTI-17" / "det" / "det.txt").write_text("1,-1,1\n")


def _gt_beyond_length(src):
    (src / "KITTI-17" / "gt" / "gt.txt").write_text("999,1,10,10,5,5,1,-1,-1,-1\n")


def _bad_seqinfo(src):
    (src / "KITTI-17" / "seqinfo.ini").write_text("[Sequence]\nname=x\n")


@pytest.mark.parametrize(
    "breaker, kw, error",
    [
        (_bad_gt_class, {}, "class 3 but dataset.yaml has 1 classes"),
        (_bad_row, {}, r"det.txt:1: expected 6 to 10"),
        (_gt_beyond_length, {}, "frame 999 beyond seqLength 145"),
        (_bad_seqinfo, {}, "malformed seqinfo.ini"),
        (None, {"splits": {"train": ["nope"]}}, r"splits name unknown sequence\(s\) \['nope'\]"),
        (None, {"splits": {"train": ["KITTI-17"], "test": ["KITTI-17"]}}, "in both 'train' and 'test'"),
        (None, {"classes": ()}, "classes must be a non-empty list"),
        (None, {"name": ""}, "dataset name must be a non-empty string"),
    ],
)
def test_mot_malformed_input_leaves_nothing(test_data, tmp_path, breaker, kw, error):
    src = tmp_path / "src"
    shutil.copytree(test_data / "mot15", src)
    if breaker:
        breaker(src)
    args = {"name": "x", **kw}
    with pytest.raises(ValueError, match=error):
        mot_to_dataset(src, tmp_path / "out", **args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.parametrize("make, error", [(lambda p: p / "missing", "no such folder"), (lambda p: p, "no MOTChallenge sequence")])
def test_mot_no_sequences(tmp_path, make, error):
    with pytest.raises(ValueError, match=error):
        mot_to_dataset(make(tmp_path), tmp_path / "out", name="x")


@pytest.mark.parametrize("existing, error", [("file", "exists and is not an empty folder"), ("full", "exists and is not an empty folder"), ("empty", None)])
def test_out_must_be_absent_or_empty(test_data, tmp_path, existing, error):
    out = tmp_path / "out"
    if existing == "file":
        out.write_text("x")
    else:
        out.mkdir()
        if existing == "full":
            (out / "keep.txt").write_text("mine")
    if error:
        with pytest.raises(ValueError, match=error):
            mot_to_dataset(test_data / "mot15", out, name="x")
        assert out.exists() and (out.is_file() or (out / "keep.txt").read_text() == "mine")  # untouched
    else:
        mot_to_dataset(test_data / "mot15", out, name="x")
        assert (out / "dataset.yaml").is_file()


def test_coco(test_data, tmp_path):
    out = tmp_path / "ds"
    spec = coco_to_dataset(test_data / "coco" / "instances.json", test_data / "coco" / "images", out, name="coco")
    assert spec.classes == ("person", "bicycle", "car", "motorcycle", "bus", "dog", "handbag", "suitcase", "kite")
    assert spec.sequences == ("000000000074", "000000000086", "000000000149", "000000000260")
    assert validate_dataset(out).to_dict() == spec.to_dict()
    info = read_seqinfo(out / "000000000086")
    assert (info.seq_length, info.width, info.height) == (1, 256, 320)
    assert (out / "000000000086" / "img1" / "000001.jpg").read_bytes() == (
        test_data / "coco" / "images" / "000000000086.jpg"
    ).read_bytes()
    gt = read_mot(out / "000000000149" / "gt" / "gt.txt")
    assert len(gt) == 22 and gt.track_id.tolist() == list(range(1, 23))  # crowd box dropped
    assert set(gt.class_ids().tolist()) == {0, 2, 8}  # person, car, kite
    raw = json.loads((test_data / "coco" / "instances.json").read_text())
    boxes74 = [a["bbox"] for a in raw["annotations"] if a["image_id"] == 74]
    gt74 = read_mot(out / "000000000074" / "gt" / "gt.txt")
    np.testing.assert_allclose(gt74.xywh, boxes74, atol=1e-3)  # ids follow annotation order


def test_coco_given_classes_and_png(test_data, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for f in (test_data / "coco" / "images").iterdir():
        shutil.copyfile(f, images / f.name)
    png = images / "000000000260.png"
    cv2.imwrite(str(png), cv2.imread(str(images / "000000000260.jpg")))
    (images / "000000000260.jpg").unlink()
    coco_json = tmp_path / "instances.json"
    coco_json.write_text((test_data / "coco" / "instances.json").read_text().replace("000000000260.jpg", "000000000260.png"))
    out = tmp_path / "ds"
    spec = coco_to_dataset(coco_json, images, out, name="c", classes=["car", "person"])
    assert spec.classes == ("car", "person")
    jpg = cv2.imread(str(out / "000000000260" / "img1" / "000001.jpg"))
    assert jpg is not None and jpg.shape == (213, 320, 3)  # re-encoded as JPEG
    assert read_mot(out / "000000000260" / "gt" / "gt.txt").class_ids().tolist() == [1, 1, 0]


@pytest.mark.parametrize(
    "edit, error",
    [
        (lambda imgs, js: (imgs / "000000000149.jpg").unlink(), "000000000149.jpg: missing or not a readable image"),
        (lambda imgs, js: (imgs / "000000000149.jpg").write_bytes(b"junk"), "missing or not a readable image"),
        (
            lambda imgs, js: cv2.imwrite(str(imgs / "000000000149.jpg"), np.zeros((10, 10, 3), np.uint8)),
            "is 10x10, the COCO file says 320x214",
        ),
        (lambda imgs, js: js.write_text("{"), "not valid JSON"),
    ],
)
def test_coco_bad_input_leaves_nothing(test_data, tmp_path, edit, error):
    images = tmp_path / "images"
    shutil.copytree(test_data / "coco" / "images", images)
    coco_json = tmp_path / "instances.json"
    shutil.copyfile(test_data / "coco" / "instances.json", coco_json)
    edit(images, coco_json)
    with pytest.raises(ValueError, match=error):
        coco_to_dataset(coco_json, images, tmp_path / "out", name="c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "instances.json"]


@pytest.mark.parametrize(
    "max_frames, stride, frames, rate",
    [(None, 1, 40, 10), (5, 1, 5, 10), (None, 4, 10, 2.5), (3, 10, 3, 1)],
)
def test_video(test_data, tmp_path, max_frames, stride, frames, rate):
    out = tmp_path / "ds"
    spec = video_to_dataset(test_data / "vtest_clip.mp4", out, name="v", max_frames=max_frames, stride=stride)
    assert spec.splits == {"train": (), "val": (), "test": ("vtest_clip",)}
    assert spec.source["kind"] == "video" and spec.source["skipped"] == 0
    assert read_dataset_yaml(out).to_dict() == spec.to_dict()
    info = read_seqinfo(out / "vtest_clip")
    assert (info.seq_length, info.frame_rate, info.width, info.height) == (frames, rate, 768, 576)
    assert sorted(p.name for p in (out / "vtest_clip" / "img1").iterdir())[-1] == f"{frames:06d}.jpg"
    assert not (out / "vtest_clip" / "gt").exists()


def test_video_from_image_folder(test_data, tmp_path):
    src = tmp_path / "frames"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"{i:03d}.png"), np.full((8, 8, 3), i, np.uint8))
    spec = video_to_dataset(src, tmp_path / "ds", name="f")
    assert spec.sequences == ("frames",)
    assert read_seqinfo(tmp_path / "ds" / "frames").seq_length == 3


@pytest.mark.parametrize(
    "kw, error",
    [
        ({"stride": 0}, "stride must be >= 1, got 0"),
        ({"max_frames": 0}, "max_frames must be >= 1 or None, got 0"),
        ({"uri": "missing.mp4"}, "missing.mp4: no such file or folder"),
    ],
)
def test_video_bad_input_leaves_nothing(test_data, tmp_path, kw, error):
    args = {"uri": str(test_data / "vtest_clip.mp4"), "name": "v", **kw}
    uri = args.pop("uri")
    with pytest.raises(ValueError, match=error):
        video_to_dataset(uri, tmp_path / "out", **args)
    assert list(tmp_path.iterdir()) == []
