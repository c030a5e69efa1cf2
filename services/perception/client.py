"""A small synchronous client of the service (used by ``percept stream`` and the benchmark),
and ``annotate`` to draw a message onto its frame."""

from __future__ import annotations

import json
import time
from typing import Any

import cv2
import httpx
import numpy as np
from websockets.sync.client import connect

from services.perception.imaging import encode_jpeg


def wait_ready(server: str, timeout: float, *, poll_s: float = 0.25) -> dict[str, Any]:
    """Wait until the service at ``server`` has a model loaded (``GET /readyz``); its answer.

    A service that is still starting (connection refused) or still loading its model is asked again
    until ``timeout`` seconds have passed; then ``TimeoutError`` says what it last answered."""
    url = f"{server.rstrip('/')}/readyz"
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(url, timeout=max(1.0, poll_s))
            answer = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            if r.status_code == 200 and answer.get("ready"):
                return answer
            reason = answer.get("detail") or f"HTTP {r.status_code}"
        except httpx.TransportError as exc:
            reason = f"nothing answers ({type(exc).__name__})"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the service at {server} has no model ready after {timeout:g} s: {reason}")
        time.sleep(poll_s)


class StreamClient:
    """Send frames of one stream; ``send`` returns the message dict (or ``{"error": ...}``)."""

    def __init__(
        self, server: str, stream_id: str, *, websocket: bool = False, timeout: float = 30.0
    ) -> None:
        self.server = server.rstrip("/")
        self.stream_id = stream_id
        self.websocket = websocket
        self._http = httpx.Client(timeout=timeout)
        self._ws = None
        if websocket:
            scheme, rest = self.server.split("://", 1)
            url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/v1/streams/{stream_id}"
            self._ws = connect(url, max_size=None, open_timeout=timeout)

    def send(self, image: np.ndarray, *, capture_ts: float | None = None) -> dict[str, Any]:
        """One (H, W, 3) uint8 BGR frame, JPEG-encoded; waits for its message."""
        body = encode_jpeg(image)
        if self._ws is not None:
            if capture_ts is not None:
                self._ws.send(json.dumps({"capture_ts": capture_ts}))
            self._ws.send(body)
            return json.loads(self._ws.recv())
        headers = {"content-type": "image/jpeg"}
        if capture_ts is not None:
            headers["x-capture-ts"] = repr(capture_ts)
        url = f"{self.server}/v1/streams/{self.stream_id}/frames"
        r = self._http.post(url, content=body, headers=headers)
        data = r.json()
        if r.status_code != 200:
            return {"error": data.get("detail", r.text), "status": r.status_code}
        return data

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        self._http.close()

    def __enter__(self) -> "StreamClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def annotate(image: np.ndarray, message: dict[str, Any]) -> np.ndarray:
    """A copy of ``image`` with each track's box, ID, class and range/TTC drawn (input untouched)."""
    out = image.copy()
    for t in message.get("tracks", []):
        x1, y1, x2, y2 = (int(round(v)) for v in t["bbox_xyxy"])
        hue = (t["track_id"] * 47) % 180
        color = tuple(int(c) for c in cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0])
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 2)
        label = f"#{t['track_id']} {t['class_name']}"
        if t.get("range_m") is not None:
            label += f" {t['range_m']:.0f}m"
        if t.get("ttc_s") is not None:
            label += f" ttc {t['ttc_s']:.1f}s"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return out
