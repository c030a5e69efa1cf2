"""Helpers for the service tests: a test detector and model source, frames, and (re-exported) a real
uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from perception.types import Detections
from services.perception.model import LoadedModel
from services.perception.testing import free_port, running, wait_ready  # noqa: F401 (re-exported)


class BrightBoxDetector:
    """A test detector (not ORT): one box around the bright pixels, records the batch sizes it saw."""

    def __init__(self, score: float = 0.9) -> None:
        self.score = score
        self.batches: list[int] = []

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.batches.append(len(images))
        out = []
        for image in images:
            ys, xs = np.nonzero(image.max(axis=2) > 200)
            if len(xs) == 0:
                out.append(Detections.empty())
            else:
                box = [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]
                out.append(Detections(xyxy=box, score=[self.score], class_id=[0]))
        return out


@dataclass
class ListSource:
    """Versions handed out from a dict; ``version`` is what the alias points at."""

    models: dict[int, Any] = field(default_factory=dict)
    version: int | None = None

    def current_version(self) -> int | None:
        return self.version

    def fetch(self, version: int) -> tuple[Path, dict[str, Any]]:
        return Path(f"/nonexistent/v{version}"), {"note": f"test v{version}"}


def stub_loader(source: ListSource):
    def load(version: int, path: Path, lineage: dict, warm: np.ndarray) -> LoadedModel:
        detector = source.models[version]
        if isinstance(detector, Exception):
            raise detector
        detector.detect([warm])
        return LoadedModel(version=version, detector=detector, class_names=["car"],
                           tracker_spec={"name": "sort", "minimum_consecutive_frames": 1}, lineage=lineage)

    return load


def bright_frame(
    x: int, y: int = 100, *, size: tuple[int, int] = (240, 320), w: int = 40, h: int = 60
) -> np.ndarray:
    """(H, W, 3) uint8 BGR: dark background, one bright w x h box with its top-left corner at (x, y)."""
    image = np.full((*size, 3), 30, np.uint8)
    image[y : y + h, x : x + w] = 255
    return image


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()
