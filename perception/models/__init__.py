"""Detectors: torchvision architectures trained from scratch, their ONNX export and runtimes.

Names are resolved lazily so ``from perception.models import OrtDetector`` (the service's path)
does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DetectorConfig": "perception.models.config",
    "build_detector": "perception.models.build",
    "DenseDetector": "perception.models.build",
    "TrainResult": "perception.models.train",
    "train_detector": "perception.models.train",
    "load_detector": "perception.models.train",
    "load_trained": "perception.models.train",
    "TorchDetector": "perception.models.torch_detector",
    "export_onnx": "perception.models.export",
    "preprocess_config": "perception.models.export",
    "OrtDetector": "perception.models.ort_detector",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'perception.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
