"""Numpy pre- and postprocessing shared by the torch and onnxruntime detectors (no torch here).

Letterbox: a BGR frame ``(H, W, 3)`` is resized by ``scale = min(h / H, w / W)`` (aspect kept),
placed at the top-left of an ``h x w`` canvas filled with ``PAD_VALUE``, converted to RGB and
normalised. A box in network pixels maps back to frame pixels by dividing by ``scale``. Network
input sizes are given as ``(h, w)`` or, for a square, one int.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from perception.types import Detections

PAD_VALUE = 114  # mid-grey: the padding carries no edge the network could mistake for an object


def input_hw(size: int | Sequence[int]) -> tuple[int, int]:
    """``(h, w)`` of a network input given as ``(h, w)`` or as one int for a square."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def letterbox_scale(shape: tuple[int, ...], size: int | Sequence[int]) -> float:
    """Scale that fits an ``(H, W, ...)`` image inside a network input of ``size``."""
    h, w = input_hw(size)
    return min(h / shape[0], w / shape[1])


def letterbox(image: np.ndarray, size: int | Sequence[int]) -> tuple[np.ndarray, float]:
    """``(h, w, 3)`` uint8 RGB canvas holding the resized BGR ``image`` at the top-left; and its scale."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
    out_h, out_w = input_hw(size)
    scale = letterbox_scale(image.shape, (out_h, out_w))
    w = min(out_w, max(1, round(image.shape[1] * scale)))
    h = min(out_h, max(1, round(image.shape[0] * scale)))
    canvas = np.full((out_h, out_w, 3), PAD_VALUE, np.uint8)
    canvas[:h, :w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
    return canvas, scale


def to_batch(
    images: Sequence[np.ndarray], *, size: int | Sequence[int], mean: Sequence[float], std: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Network input ``(B, 3, h, w)`` float32 (normalised RGB) and the per-image scales ``(B,)``."""
    out_h, out_w = input_hw(size)
    batch = np.empty((len(images), 3, out_h, out_w), np.float32)
    scales = np.empty(len(images), np.float64)
    # (x / 255 - mean) / std as one multiply and one subtract per pixel, written in place.
    gain = (1.0 / (255.0 * np.asarray(std, np.float64))).astype(np.float32).reshape(3, 1, 1)
    offset = (np.asarray(mean, np.float64) / np.asarray(std, np.float64)).astype(np.float32).reshape(3, 1, 1)
    for i, image in enumerate(images):
        canvas, scales[i] = letterbox(image, (out_h, out_w))
        np.multiply(canvas.transpose(2, 0, 1), gain, out=batch[i])
        batch[i] -= offset
    return batch, scales


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, *, max_keep: int | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first (as torchvision.ops.nms).

    ``max_keep`` stops once that many are kept: greedy NMS decides in score order, so the result is
    exactly the first ``max_keep`` of the full run, at a fraction of the loop (untrained or noisy
    detectors send ~1000 candidates of which few suppress one another).
    """
    order = np.argsort(-scores, kind="stable")
    # Coordinates in score order, as separate contiguous arrays: each step compares one box with
    # the survivors and keeps the survivors that do not overlap it (same float64 arithmetic as
    # min/max on (N, 2) slices, so identical decisions).
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[order, k]) for k in range(4))
    area = (x2 - x1) * (y2 - y1)
    limit = order.size if max_keep is None else max(0, int(max_keep))
    keep = []
    while order.size and len(keep) < limit:
        keep.append(order[0])
        w = np.minimum(x2[0], x2[1:]) - np.maximum(x1[0], x1[1:])
        h = np.minimum(y2[0], y2[1:]) - np.maximum(y1[0], y1[1:])
        inter = np.maximum(w, 0.0) * np.maximum(h, 0.0)
        survive = inter / np.maximum(area[0] + area[1:] - inter, 1e-9) <= iou
        order, x1, y1, x2, y2, area = (a[1:][survive] for a in (order, x1, y1, x2, y2, area))
    return np.asarray(keep, np.int64)


def decode_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    scale: float,
    image_shape: tuple[int, ...],
    score_threshold: float,
    nms_iou: float,
    max_detections: int,
    pre_nms_top_k: int = 1000,
) -> Detections:
    """One image's dense outputs -> ``Detections`` in frame pixels.

    boxes: ``(A, 4)`` xyxy in network pixels; scores: ``(A, K)`` per class.
    Keeps (anchor, class) pairs above ``score_threshold``, the ``pre_nms_top_k`` best of them,
    class-wise NMS, then the ``max_detections`` best.
    """
    anchor, cls = np.nonzero(scores > score_threshold)
    if anchor.size == 0:
        return Detections.empty()
    conf = scores[anchor, cls]
    top = np.argsort(-conf, kind="stable")[:pre_nms_top_k]
    anchor, cls, conf = anchor[top], cls[top], conf[top]
    xyxy = boxes[anchor].astype(np.float64)
    # Class-wise NMS in one pass: shift each class's boxes apart so they never overlap.
    offset = cls[:, None] * (xyxy.max() + 1.0)
    keep = nms(xyxy + offset, conf, nms_iou, max_keep=max_detections)
    xyxy = xyxy[keep] / scale
    xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], 0, image_shape[1])
    xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], 0, image_shape[0])
    return Detections(xyxy=xyxy, score=conf[keep], class_id=cls[keep])
