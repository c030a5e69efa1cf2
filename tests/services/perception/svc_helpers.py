"""Helpers for the service tests: a real uvicorn on 127.0.0.1 in a background thread, and a tiny in-process model source."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import cv2
import httpx
import numpy as np
import uvicorn

from perception.types import Detections
from services.perception.model import LoadedModel


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, *, ws_max_size: int = 16 * 1024 * 1024) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1:<free port>; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_max_size=ws_max_size)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def wait_ready(base: str, *, version: int | None = None, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = httpx.get(f"{base}/readyz")
        if r.status_code == 200 and (version is None or r.json()["version"] == version):
            return r.json()
        time.sleep(0.05)
    raise AssertionError(f"service not ready with version {version}: {httpx.get(f'{base}/readyz').text}")


def bright_frame(x: int, y: int = 100, *, size: tuple[int, int] = (240, 320), w: int = 40, h: int = 60) -> np.ndarray:
    image = np.full((*size, 3), 30, np.uint8)
    image[y : y + h, x : x + w] = 255
    return image


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()
