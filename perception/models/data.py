"""Torch dataset over a percept dataset folder (MOT layout + dataset.yaml) for detector training.

Each item is one frame letterboxed to the network input ``h x w`` (with training augmentation:
scale jitter with a random placement, horizontal flip, brightness/contrast jitter), or a random
``crop x crop`` window of it, and its boxes in the same frame: ``image (3, h, w)`` float32 RGB in
[0, 1]; ``target = {"boxes": (N, 4) float32 xyxy network
pixels, "labels": (N,) int64 = class_id + 1}`` (torchvision's convention, 0 = background).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from perception.models.frames import frame_items
from perception.models.preprocess import PAD_VALUE, input_hw, letterbox_scale

MIN_BOX_PX = 2.0  # boxes thinner than this after augmentation are dropped: nothing left to learn


@dataclass(frozen=True)
class Augment:
    """Training augmentation (all off by default). See ``DetectorConfig`` for each trade-off."""

    hflip: float = 0.0
    color_jitter: float = 0.0
    scale_jitter: float = 0.0


@dataclass(frozen=True)
class _Item:
    image: Path
    boxes: np.ndarray  # (N, 4) float32 xyxy, frame pixels
    class_id: np.ndarray  # (N,) int64


class DetectionDataset(Dataset):
    """Frames of one split of a percept dataset, as torchvision detection training pairs.

    Augmentation is drawn from ``np.random.default_rng((seed, epoch, index))``: call
    ``set_epoch`` before each pass so a resumed run sees the same images as an uninterrupted one.
    """

    def __init__(
        self, root: Path, *, split: str, input_size: int | tuple[int, int], crop: int | None = None,
        augment: Augment = Augment(), seed: int = 0,
    ) -> None:
        """``input_size``: the network input, ``(h, w)`` or a square side; it sets the letterbox scale.
        ``crop``: emit random ``crop x crop`` windows at that scale instead of the whole input."""
        self.items = [_Item(p, b, c) for p, b, c in frame_items(Path(root), split)]
        if not self.items:
            raise ValueError(f"{root}: split {split!r} has no frames")
        self.input_hw = input_hw(input_size)
        self.canvas_hw = (crop, crop) if crop else self.input_hw
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        item = self.items[index]
        image = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{item.image}: cannot read image")
        rng = np.random.default_rng((self.seed, self.epoch, index))
        canvas, boxes, keep = self._place(image, item.boxes, rng)
        if rng.random() < self.augment.hflip:
            canvas = canvas[:, ::-1]
            width = self.canvas_hw[1]
            boxes = np.column_stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]])
        pixels = canvas[:, :, ::-1].astype(np.float32) / 255.0  # BGR -> RGB
        j = self.augment.color_jitter
        if j > 0:
            contrast, brightness = rng.uniform(1 - j, 1 + j, size=2)
            mean = pixels.mean()
            pixels = np.clip((pixels - mean) * contrast + mean * brightness, 0, 1).astype(np.float32)
        tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        target = {
            "boxes": torch.from_numpy(boxes.astype(np.float32)).reshape(-1, 4),
            "labels": torch.from_numpy(item.class_id[keep] + 1),
        }
        return tensor, target

    def _place(
        self, image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        height, width = self.canvas_hw
        scale = letterbox_scale(image.shape, self.input_hw)
        ox = oy = 0.0
        j = self.augment.scale_jitter
        if j > 0:
            scale *= rng.uniform(1 - j, 1 + j)
        if j > 0 or self.canvas_hw != self.input_hw:
            # Random placement: shifted inside the canvas when smaller, cropped when larger.
            free_x, free_y = width - image.shape[1] * scale, height - image.shape[0] * scale
            ox, oy = rng.uniform(min(0, free_x), max(0, free_x)), rng.uniform(min(0, free_y), max(0, free_y))
        warp = np.array([[scale, 0, ox], [0, scale, oy]], np.float64)
        canvas = cv2.warpAffine(
            image, warp, (width, height), flags=cv2.INTER_LINEAR, borderValue=(PAD_VALUE,) * 3
        )
        moved = boxes * scale + np.array([ox, oy, ox, oy])
        clipped = np.clip(moved, 0, [width, height, width, height])
        wide = (clipped[:, 2] - clipped[:, 0] >= MIN_BOX_PX) & (clipped[:, 3] - clipped[:, 1] >= MIN_BOX_PX)
        # Keep a box only if enough of it is still in view to be recognisable.
        area = np.prod(moved[:, 2:] - moved[:, :2], axis=1)
        seen = np.prod(clipped[:, 2:] - clipped[:, :2], axis=1) >= 0.4 * np.maximum(area, 1e-9)
        keep = wide & seen
        return canvas, clipped[keep], keep


def collate(batch: list) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """torchvision detection models take lists, not stacked tensors."""
    images, targets = zip(*batch)
    return list(images), list(targets)
