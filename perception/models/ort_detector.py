"""``OrtDetector``: the exported graph under onnxruntime, same interface as ``TorchDetector``.

This is what the service runs: it imports no torch. A batch of any size is one ``session.run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import onnxruntime as ort

from perception.models.preprocess import decode_detections, to_batch
from perception.types import Detections

REQUIRED_KEYS = ("input_size", "mean", "std", "class_names", "score_threshold", "nms_iou",
                 "max_detections", "input_name", "output_names")


def input_shape(preprocess: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(height, width)`` of the network input; square-input bundles have no ``input_height``."""
    return preprocess.get("input_height", preprocess["input_size"]), preprocess["input_size"]


def check_preprocess(preprocess: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first missing or malformed key of a ``preprocess`` dict."""
    missing = [k for k in REQUIRED_KEYS if k not in preprocess]
    if missing:
        raise ValueError(f"preprocess is missing key(s) {missing}")
    for key, value in zip(("input_height", "input_size"), input_shape(preprocess)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"preprocess {key} must be a positive int, got {value!r}")
    for key in ("mean", "std"):
        if len(preprocess[key]) != 3:
            raise ValueError(f"preprocess {key} must have 3 values, got {preprocess[key]!r}")
    if not preprocess["class_names"]:
        raise ValueError("preprocess class_names must be non-empty")
    if len(preprocess["output_names"]) != 2:
        raise ValueError(f"preprocess output_names must be [boxes, scores], got {preprocess['output_names']!r}")


def default_providers() -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OrtDetector:
    """Letterbox -> onnxruntime -> class-wise NMS -> ``Detections`` in original-image pixels."""

    def __init__(
        self, onnx_path: Path, preprocess: Mapping[str, Any], *, providers: Sequence[str] | None = None,
        threads: int = 0, spin: bool = False,
    ) -> None:
        """``threads``: intra-op threads (0 = one per physical core). ``spin``: let idle intra-op threads
        busy-wait for the next parallel section. That saves microseconds per operator on an idle
        machine, but on shared cores the spinning threads take the CPU that the caller's own thread,
        other requests and other processes need (2 cores, shared: ORT 26 -> 53 CPU-ms per frame)."""
        check_preprocess(preprocess)
        self.preprocess = dict(preprocess)
        self.input_shape: tuple[int, int] = input_shape(preprocess)
        """``(height, width)`` of the network input."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), sess_options=options, providers=list(providers or default_providers())
            )
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ValueError(f"{onnx_path}: onnxruntime cannot load it ({exc})") from exc
        names = [i.name for i in self.session.get_inputs()]
        if names != [preprocess["input_name"]]:
            raise ValueError(f"{onnx_path}: graph inputs {names}, preprocess says {preprocess['input_name']!r}")
        graph_hw = tuple(self.session.get_inputs()[0].shape[2:])
        if all(isinstance(d, int) for d in graph_hw) and graph_hw != self.input_shape:
            raise ValueError(f"{onnx_path}: graph takes {graph_hw[0]}x{graph_hw[1]} (h x w) images, preprocess says "
                             f"{self.input_shape[0]}x{self.input_shape[1]}")

    @property
    def class_names(self) -> list[str]:
        return list(self.preprocess["class_names"])

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """``images``: BGR ``(H, W, 3)`` uint8 frames of any sizes; one ``Detections`` per image."""
        if len(images) == 0:
            return []
        p = self.preprocess
        batch, scales = to_batch(images, size=self.input_shape, mean=p["mean"], std=p["std"])
        boxes, scores = self.session.run(list(p["output_names"]), {p["input_name"]: batch})
        return [
            decode_detections(
                boxes[i], scores[i], scale=scales[i], image_shape=images[i].shape,
                score_threshold=p["score_threshold"], nms_iou=p["nms_iou"], max_detections=p["max_detections"],
            )
            for i in range(len(images))
        ]
