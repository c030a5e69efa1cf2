"""The model bundle: write -> load round trip, and every missing or corrupt file named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from perception.bundle import load_bundle, write_bundle
from perception.models import DetectorConfig, OrtDetector, build_detector, export_onnx

TRACKER = {"name": "bytetrack", "track_thresh": 0.5, "lost_track_buffer": 30}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bundle-parts")
    cfg = DetectorConfig(input_size=64, score_threshold=0.05)
    torch.manual_seed(0)
    preprocess = export_onnx(build_detector(cfg), cfg, root / "model.onnx")
    (root / "samples.png").write_bytes(PNG)
    return root, preprocess


def _write(parts, out: Path, **changes):
    root, preprocess = parts
    kwargs = dict(onnx_path=root / "model.onnx", preprocess=preprocess, tracker=TRACKER,
                  report={"map50": 0.5, "per_class": {"car": 0.4}}, samples_png=root / "samples.png")
    kwargs.update(changes)
    return write_bundle(out, **kwargs)


def test_round_trip(parts, tmp_path: Path) -> None:
    written = _write(parts, tmp_path / "b")
    loaded = load_bundle(tmp_path / "b")
    assert loaded.files == ("model.onnx", "preprocess.json", "report.json", "samples.png", "tracker.yaml")
    assert loaded.preprocess == parts[1] and loaded.tracker == TRACKER
    assert loaded.report["per_class"] == {"car": 0.4} and loaded.samples_png is not None
    assert written.onnx_path == loaded.onnx_path
    detector = loaded.detector()
    assert isinstance(detector, OrtDetector)
    assert len(detector.detect([np.zeros((48, 64, 3), np.uint8)] * 2)) == 2


def test_samples_are_optional(parts, tmp_path: Path) -> None:
    bundle = _write(parts, tmp_path / "b", samples_png=None)
    assert bundle.samples_png is None and "samples.png" not in bundle.files


@pytest.mark.parametrize(
    "damage, error",
    [
        (lambda d: (d / "model.onnx").unlink(), "missing model.onnx"),
        (lambda d: (d / "preprocess.json").unlink(), "missing preprocess.json"),
        (lambda d: (d / "tracker.yaml").unlink(), "missing tracker.yaml"),
        (lambda d: (d / "report.json").unlink(), "missing report.json"),
        (lambda d: (d / "model.onnx").write_bytes(b"not a graph"), "model.onnx: not a valid ONNX"),
        (lambda d: (d / "preprocess.json").write_text("{"), "preprocess.json: not valid JSON"),
        (lambda d: (d / "preprocess.json").write_text("[]"), "preprocess.json: expected a JSON object"),
        (lambda d: (d / "preprocess.json").write_text(json.dumps({"mean": [0, 0, 0]})), "preprocess.json: .*missing"),
        (lambda d: (d / "tracker.yaml").write_text("name: [unclosed"), "tracker.yaml"),
        (lambda d: (d / "tracker.yaml").write_text("track_thresh: 0.5\n"), "tracker.yaml: .*name"),
        (lambda d: (d / "report.json").write_text("nope"), "report.json: not valid JSON"),
        (lambda d: (d / "samples.png").write_text("GIF89a"), "samples.png: not a PNG"),
        (lambda d: shutil.rmtree(d), "does not exist"),
    ],
)
def test_load_names_the_bad_file(parts, tmp_path: Path, damage, error: str) -> None:
    out = tmp_path / "b"
    _write(parts, out)
    damage(out)
    with pytest.raises(ValueError, match=error):
        load_bundle(out)


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"tracker": {"track_thresh": 0.5}}, "name"),
        ({"preprocess": {}}, "missing key"),
        ({"report": [1, 2]}, "report must be a mapping"),
    ],
)
def test_write_rejects_bad_parts(parts, tmp_path: Path, changes: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        _write(parts, tmp_path / "b", **changes)


def test_write_refuses_a_non_empty_folder(parts, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "other.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        _write(parts, tmp_path / "b")
