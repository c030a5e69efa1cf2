"""``TorchDetector``: run a trained torchvision model on BGR frames, get ``Detections`` back."""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch

from perception.models.build import DENSE_ARCHS, DenseDetector, normalisation
from perception.models.config import DetectorConfig
from perception.models.preprocess import decode_detections, to_batch
from perception.types import Detections


class TorchDetector:
    """Letterbox -> network -> class-wise NMS -> boxes in original-image pixels.

    Dense archs (FCOS, SSDlite) run ``DenseDetector`` and the numpy postprocess that
    ``OrtDetector`` also uses, so the two runtimes differ only in the graph's arithmetic. Faster
    R-CNN runs torchvision's own two-stage postprocess.
    """

    def __init__(self, model: torch.nn.Module, config: DetectorConfig, device: str | None = None) -> None:
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.config = config
        self.model = copy.deepcopy(model).to(self.device).eval()  # the caller's model stays as it was
        self.mean, self.std = normalisation(model)
        self.dense = DenseDetector(self.model, config.input_shape) if config.arch in DENSE_ARCHS else None

    @torch.inference_mode()
    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """``images``: BGR ``(H, W, 3)`` uint8 frames of any sizes; one ``Detections`` per image."""
        if len(images) == 0:
            return []
        cfg = self.config
        if self.dense is None:
            return self._detect_two_stage(images)
        batch, scales = to_batch(images, size=cfg.input_shape, mean=self.mean, std=self.std)
        boxes, scores = self.dense(torch.from_numpy(batch).to(self.device))
        boxes, scores = boxes.float().cpu().numpy(), scores.float().cpu().numpy()
        return [
            decode_detections(
                boxes[i], scores[i], scale=scales[i], image_shape=images[i].shape,
                score_threshold=cfg.score_threshold, nms_iou=cfg.nms_iou, max_detections=cfg.max_detections,
            )
            for i in range(len(images))
        ]

    def _detect_two_stage(self, images: Sequence[np.ndarray]) -> list[Detections]:
        # torchvision normalises inside; feed plain [0, 1] RGB.
        batch, scales = to_batch(images, size=self.config.input_size, mean=(0, 0, 0), std=(1, 1, 1))
        outputs = self.model(list(torch.from_numpy(batch).to(self.device)))
        result = []
        for out, scale, image in zip(outputs, scales, images):
            xyxy = out["boxes"].float().cpu().numpy() / scale
            xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], 0, image.shape[1])
            xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], 0, image.shape[0])
            result.append(
                Detections(xyxy=xyxy, score=out["scores"].float().cpu().numpy(), class_id=out["labels"].cpu().numpy() - 1)
            )
        return result
