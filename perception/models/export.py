"""Export a dense detector to ONNX and describe how to feed it (``preprocess.json``).

The graph is ``DenseDetector``: a fixed ``h x w`` input, a free batch dimension, box decoding
inside; thresholding and NMS stay out of it (numpy, shared with the torch runtime), because
torchvision's per-image NMS loop does not export with a dynamic batch.
"""

from __future__ import annotations

import copy
from pathlib import Path

import onnx
import torch

from perception.models.build import DENSE_ARCHS, DenseDetector, normalisation
from perception.models.config import DetectorConfig

INPUT_NAME = "images"
OUTPUT_NAMES = ("boxes", "scores")
OPSET = 17


def preprocess_config(model: torch.nn.Module, config: DetectorConfig, opset: int = OPSET) -> dict:
    """What ``OrtDetector`` needs to run the exported graph (``preprocess.json``)."""
    mean, std = normalisation(model)
    return {
        "arch": config.arch,
        "input_size": config.input_size,
        "input_height": config.input_shape[0],
        "layout": "NCHW float32 RGB, letterboxed top-left, (x/255 - mean)/std",
        "mean": mean,
        "std": std,
        "class_names": list(config.classes),
        "score_threshold": config.score_threshold,
        "nms_iou": config.nms_iou,
        "max_detections": config.max_detections,
        "input_name": INPUT_NAME,
        "output_names": list(OUTPUT_NAMES),
        "opset": opset,
    }


def export_onnx(model: torch.nn.Module, config: DetectorConfig, path: Path, *, opset: int = OPSET) -> dict:
    """Write ``model`` as ONNX at ``path``; return its ``preprocess`` dict.

    Graph: ``images (B, 3, h, w)`` -> ``boxes (B, A, 4)`` network pixels, ``scores (B, A, K)``.
    The caller's model is not modified (a CPU copy is exported).
    """
    if config.arch not in DENSE_ARCHS:
        raise ValueError(f"arch {config.arch!r} cannot be exported; exportable archs are {list(DENSE_ARCHS)}")
    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dense = DenseDetector(copy.deepcopy(model).cpu().eval(), config.input_shape).eval()
    dummy = torch.zeros(2, 3, *config.input_shape)
    batch = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(
            dense, (dummy,), str(path), input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: batch, **{n: batch for n in OUTPUT_NAMES}},
            opset_version=opset, dynamo=False,
        )
    onnx.checker.check_model(str(path))
    return preprocess_config(model, config, opset)
