"""dataset.yaml: DatasetSpec, read/write, validate_dataset on a folder built from tests/data."""

from __future__ import annotations

import shutil

import pytest
import yaml

from perception.data.dataset import DatasetSpec, read_dataset_yaml, validate_dataset, write_dataset_yaml

SPEC = {"name": "demo", "classes": ("pedestrian",), "splits": {"train": ("a",), "test": ("b",)}}


@pytest.mark.parametrize(
    "kw, error",
    [
        ({}, None),
        ({"splits": {}}, None),
        ({"camera": {"fx": 500.0}}, None),
        ({"name": ""}, "dataset name must be a non-empty string, got ''"),
        ({"classes": ()}, "classes must be a non-empty list of unique names"),
        ({"classes": ("car", "car")}, r"classes must be a non-empty list of unique names, got \('car', 'car'\)"),
        ({"classes": "car"}, "classes must be a non-empty list of unique names, got 'car'"),
        ({"splits": {"holdout": ("a",)}}, r"unknown split\(s\) \['holdout'\]"),
        ({"splits": {"train": ("a",), "test": ("a",)}}, "sequence 'a' is in both 'train' and 'test'"),
        ({"splits": {"train": "abc"}}, "split 'train' must list sequence names, got the string 'abc'"),
        ({"splits": {"train": ("../etc",)}}, "sequence name must be a plain folder name, got '../etc'"),
        ({"splits": {"train": ("",)}}, "sequence name must be a plain folder name, got ''"),
    ],
)
def test_spec_validation(kw, error):
    args = {**SPEC, **kw}
    if error:
        with pytest.raises(ValueError, match=error):
            DatasetSpec(**args)
    else:
        spec = DatasetSpec(**args)
        assert spec.sequences == tuple(s for k in ("train", "val", "test") for s in args["splits"].get(k, ()))


def test_spec_accessors():
    spec = DatasetSpec(name="d", classes=["a", "b"], splits={"train": ["s1", "s2"], "test": ["s3"]})
    assert spec.classes == ("a", "b") and spec.split("train") == ("s1", "s2") and spec.split("val") == ()
    assert spec.sequences == ("s1", "s2", "s3")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        spec.split("dev")


@pytest.mark.parametrize("camera", [None, {"fx": 500.0, "height_m": 1.4}])
def test_yaml_round_trip(tmp_path, camera):
    spec = DatasetSpec(
        name="d",
        classes=("car", "pedestrian"),
        splits={"train": ("000000000074", "s1"), "val": (), "test": ("007",)},
        source={"kind": "synthetic", "seed": 3},
        camera=camera,
    )
    write_dataset_yaml(tmp_path, spec)
    back = read_dataset_yaml(tmp_path)
    assert back.to_dict() == spec.to_dict()


@pytest.mark.parametrize(
    "text, error",
    [
        (None, "no dataset.yaml; is this a percept dataset folder"),
        ("name: [unclosed\n", "not valid YAML"),
        ("- a\n", "expected a mapping, got list"),
        ("name: d\nclasses: [a]\n", r"missing key\(s\) \['splits'\]"),
        ("name: d\nclasses: [a]\nsplits: [a, b]\n", "splits must map train/val/test to lists"),
        ("name: d\nclasses: [a]\nsplits: {train: s1}\n", "splits must map train/val/test to lists"),
        ("name: d\nclasses: car\nsplits: {train: [s1]}\n", "classes must be a list of names, got 'car'"),
        ("name: d\nclasses: [a, a]\nsplits: {train: [s1]}\n", "dataset.yaml: classes must be a non-empty list of unique"),
        ("name: d\nclasses: [a]\nsplits: {train: [s1]}\nsource: git\n", "source must be a mapping, got 'git'"),
        ("name: d\nclasses: [a]\nsplits: {train: [s1], val: null}\n", None),
    ],
)
def test_read_malformed_yaml(tmp_path, text, error):
    if text is not None:
        (tmp_path / "dataset.yaml").write_text(text)
    if error:
        with pytest.raises(ValueError, match=error):
            read_dataset_yaml(tmp_path)
    else:
        assert read_dataset_yaml(tmp_path).split("val") == ()


@pytest.fixture
def dataset(test_data, tmp_path):
    """A valid dataset folder: two MOT15 sequences (text only) plus one with three tiny images."""
    root = tmp_path / "ds"
    for seq in ("TUD-Campus", "KITTI-17"):
        shutil.copytree(test_data / "mot15" / seq, root / seq)
    seq = root / "tiny"
    (seq / "img1").mkdir(parents=True)
    for i in range(1, 4):
        shutil.copyfile(test_data / "coco" / "images" / "000000000074.jpg", seq / "img1" / f"{i:06d}.jpg")
    (seq / "seqinfo.ini").write_text(
        "[Sequence]\nname=tiny\nimDir=img1\nframeRate=10\nseqLength=3\nimWidth=320\nimHeight=213\nimExt=.jpg\n"
    )
    (seq / "gt").mkdir()
    (seq / "gt" / "gt.txt").write_text("1,1,10,10,5,5,1,2,1,-1\n3,1,12,10,5,5,1,1,1,-1\n")
    spec = DatasetSpec(
        name="t", classes=("pedestrian", "car"), splits={"train": ("KITTI-17", "tiny"), "test": ("TUD-Campus",)}
    )
    write_dataset_yaml(root, spec)
    return root


def test_validate_ok(dataset):
    spec = validate_dataset(dataset)
    assert spec.sequences == ("KITTI-17", "tiny", "TUD-Campus")


def _break_count(root):
    (root / "tiny" / "img1" / "000003.jpg").unlink()


def _break_gt_frame(root):
    (root / "tiny" / "gt" / "gt.txt").write_text("4,1,10,10,5,5,1,1,1,-1\n")


def _break_gt_class(root):
    (root / "tiny" / "gt" / "gt.txt").write_text("1,1,10,10,5,5,1,3,1,-1\n")


def _break_det_row(root):
    (root / "TUD-Campus" / "det" / "det.txt").write_text("1,-1,1,1\n")


def _break_missing_seq(root):
    shutil.rmtree(root / "KITTI-17")


def _break_seqinfo(root):
    (root / "tiny" / "seqinfo.ini").write_text("[Sequence]\nname=tiny\n")


def _break_no_sequences(root):
    write_dataset_yaml(root, DatasetSpec(name="t", classes=("a",), splits={}))


@pytest.mark.parametrize(
    "breaker, error",
    [
        (_break_count, r"tiny/img1: 2 .jpg frames, seqinfo.ini says 3"),
        (_break_gt_frame, r"tiny/gt/gt.txt: frame 4 beyond seqLength 3"),
        (_break_gt_class, r"tiny/gt/gt.txt: class 3 but dataset.yaml has 2 classes"),
        (_break_det_row, r"TUD-Campus/det/det.txt:1: expected 6 to 10"),
        (_break_missing_seq, "sequence 'KITTI-17' is listed in dataset.yaml but missing"),
        (_break_seqinfo, "malformed seqinfo.ini"),
        (_break_no_sequences, "dataset.yaml lists no sequences"),
    ],
)
def test_validate_reports_first_problem(dataset, breaker, error):
    breaker(dataset)
    with pytest.raises(ValueError, match=error):
        validate_dataset(dataset)


def test_validate_yaml_written_by_hand(dataset):
    data = yaml.safe_load((dataset / "dataset.yaml").read_text())
    data["splits"]["val"] = ["nowhere"]
    (dataset / "dataset.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="sequence 'nowhere' is listed"):
        validate_dataset(dataset)
