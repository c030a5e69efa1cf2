"""Numpy pre- and postprocessing shared by the torch and onnxruntime detectors (no torch here).

Letterbox: a BGR frame ``(H, W, 3)`` is resized by ``scale = S / max(H, W)`` (aspect kept), placed
at the top-left of an ``S x S`` canvas filled with ``PAD_VALUE``, converted to RGB and normalised.
A box in network pixels maps back to frame pixels by dividing by ``scale``.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from perception.types import Detections

PAD_VALUE = 114  # mid-grey: the padding carries no edge the network could mistake for an object


def letterbox_scale(shape: tuple[int, ...], size: int) -> float:
    """Scale that fits an ``(H, W, ...)`` image inside ``size x size``."""
    return size / max(shape[0], shape[1])


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """``(S, S, 3)`` uint8 RGB canvas holding the resized BGR ``image`` at the top-left; and its scale."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
    scale = letterbox_scale(image.shape, size)
    w, h = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:h, :w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
    return canvas, scale


def to_batch(
    images: Sequence[np.ndarray], *, size: int, mean: Sequence[float], std: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Network input ``(B, 3, S, S)`` float32 (normalised RGB) and the per-image scales ``(B,)``."""
    batch = np.empty((len(images), 3, size, size), np.float32)
    scales = np.empty(len(images), np.float64)
    m = np.asarray(mean, np.float32).reshape(3, 1, 1)
    s = np.asarray(std, np.float32).reshape(3, 1, 1)
    for i, image in enumerate(images):
        canvas, scales[i] = letterbox(image, size)
        batch[i] = (canvas.transpose(2, 0, 1).astype(np.float32) / 255.0 - m) / s
    return batch, scales


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first (as torchvision.ops.nms)."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
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
    keep = nms(xyxy + offset, conf, nms_iou)[:max_detections]
    xyxy = xyxy[keep] / scale
    xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], 0, image_shape[1])
    xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], 0, image_shape[0])
    return Detections(xyxy=xyxy, score=conf[keep], class_id=cls[keep])
