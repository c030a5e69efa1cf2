"""ONNX export and the onnxruntime detector: parity with torch, dynamic batch, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from perception.config import override
from perception.data.synthetic import render_scene
from perception.models import (
    DenseDetector, DetectorConfig, OrtDetector, TorchDetector, build_detector, export_onnx, load_detector,
)
from perception.models.preprocess import to_batch
from perception.types import Detections


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def _matched(ref: Detections, got: Detections) -> float:
    """Fraction of ``ref`` boxes with a same-class ``got`` box at IoU > 0.99 and score within 1e-3."""
    assert len(ref) > 0 and abs(len(ref) - len(got)) <= max(1, len(ref) // 20)
    hits = 0
    for cls in np.unique(ref.class_id):
        r, g = ref.select(ref.class_id == cls), got.select(got.class_id == cls)
        if not len(g):
            continue
        iou = _iou(r.xyxy, g.xyxy)
        best = iou.argmax(axis=1)
        hits += int(((iou.max(axis=1) > 0.99) & (np.abs(g.score[best] - r.score) < 1e-3)).sum())
    return hits / len(ref)


@pytest.fixture(scope="module", params=["fcos_mnv3", "fcos_mnv3 rect", "ssdlite"])
def exported(request, tiny_trained, tmp_path_factory: pytest.TempPathFactory):
    # FCOS: the few-step tiny model (untrained FCOS boxes are degenerate, so IoU says nothing),
    # square as trained and on a 128x192 input (a conv net runs at any shape);
    # SSDlite: untrained, fixed seed (its boxes are anchors). Thresholds low enough for many boxes.
    if request.param.startswith("fcos_mnv3"):
        model, cfg = load_detector(tiny_trained[0].model_path)
        shape = {"input_size": 192, "input_height": 128} if request.param.endswith("rect") else {}
        cfg = override(cfg, {"score_threshold": 0.05, "max_detections": 50, **shape})
    else:
        cfg = DetectorConfig(arch="ssdlite", input_size=128, score_threshold=0.25, max_detections=50)
        torch.manual_seed(0)
        model = build_detector(cfg).eval()
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    preprocess = export_onnx(model, cfg, path)
    return model, cfg, path, preprocess


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    scene = next(iter(render_scene(seed=3, frames=1)))
    return [rng.integers(0, 256, (384, 640, 3), dtype=np.uint8), scene.frame.image.copy(),
            rng.integers(0, 256, (200, 120, 3), dtype=np.uint8)]


def test_ort_matches_torch_for_any_batch_size(exported) -> None:
    model, cfg, path, preprocess = exported
    torch_det = TorchDetector(model, cfg, device="cpu")
    ort_det = OrtDetector(path, preprocess, providers=["CPUExecutionProvider"])
    frames = _frames()
    # The graphs agree to float precision...
    batch, _ = to_batch(frames, size=cfg.input_shape, mean=preprocess["mean"], std=preprocess["std"])
    with torch.no_grad():
        ref_boxes, ref_scores = (t.numpy() for t in DenseDetector(model, cfg.input_shape)(torch.from_numpy(batch)))
    boxes, scores = ort_det.session.run(None, {"images": batch})
    np.testing.assert_allclose(boxes, ref_boxes, atol=1e-2)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    # ...and so do the detections. An untrained net has near-tied scores, where a 1e-6 difference can
    # flip which of two overlapping boxes NMS keeps: allow 1 in 20 such flips.
    ref = torch_det.detect(frames)
    got_batch = ort_det.detect(frames)  # one session.run for all three
    got_single = [ort_det.detect([f])[0] for f in frames]
    for r, g, s in zip(ref, got_batch, got_single):
        assert _matched(r, g) >= 0.95 and _matched(r, s) >= 0.95
    assert ort_det.detect([]) == []


def test_exported_graph_declares_a_dynamic_batch_and_opset(exported) -> None:
    _, cfg, path, preprocess = exported
    graph = onnx.load(str(path)).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, *cfg.input_shape]
    assert (preprocess["input_height"], preprocess["input_size"]) == cfg.input_shape
    assert preprocess["opset"] >= 17 and preprocess["class_names"] == list(cfg.classes)
    assert preprocess["output_names"] == ["boxes", "scores"]


@pytest.mark.parametrize(
    "change, error",
    [
        ({"arch": "fasterrcnn_mnv3"}, "cannot be exported"),
        ({"opset": 13}, "opset must be >= 17"),
    ],
)
def test_export_rejects(change: dict, error: str, tmp_path: Path) -> None:
    cfg = DetectorConfig(arch=change.get("arch", "fcos_mnv3"), input_size=128)
    model = build_detector(cfg)
    with pytest.raises(ValueError, match=error):
        export_onnx(model, cfg, tmp_path / "m.onnx", opset=change.get("opset", 17))


@pytest.mark.parametrize(
    "mutate, error",
    [
        (lambda p: p.pop("mean"), "missing key"),
        (lambda p: p.update(input_name="pixels"), "graph inputs"),
        (lambda p: p.update(std=[1, 1]), "std must have 3 values"),
        (lambda p: p.update(input_size=0), "input_size"),
        (lambda p: p.update(input_height=True), "input_height"),
        (lambda p: p.update(input_size=p["input_size"] + 32), "graph takes"),
    ],
)
def test_ort_detector_rejects_bad_preprocess(exported, mutate, error: str) -> None:
    _, _, path, preprocess = exported
    bad = dict(preprocess)
    mutate(bad)
    with pytest.raises(ValueError, match=error):
        OrtDetector(path, bad)
