"""For tests and benchmarks: a small real bundle (fixed-seed untrained detector exported to ONNX),
and a real uvicorn serving an app on 127.0.0.1 in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import uvicorn


def untrained_bundle(
    out_dir: Path, *, seed: int = 0, input_size: int = 320, input_height: int | None = None,
    score_threshold: float = 0.05,
) -> Path:
    """A complete bundle folder at ``out_dir``: the default arch with random weights (boxes are
    meaningless but plentiful at a low threshold) on an ``input_height x input_size`` input (square
    when no height), a permissive ByteTrack config, a stub report."""
    import torch

    from perception.bundle import write_bundle
    from perception.config import override
    from perception.models.build import build_detector
    from perception.models.config import DetectorConfig
    from perception.models.export import export_onnx

    torch.manual_seed(seed)
    shape = {"input_size": input_size, "input_height": input_height}
    config = override(DetectorConfig(), {**shape, "score_threshold": score_threshold})
    model = build_detector(config).eval()
    onnx_path = Path(out_dir).with_name(Path(out_dir).name + ".onnx")
    preprocess = export_onnx(model, config, onnx_path)
    # Untrained scores sit near the threshold: let the tracker take them so tracks exist.
    tracker = {"name": "bytetrack", "detection_threshold": score_threshold, "low_detection_threshold": 0.0,
               "track_activation_threshold": score_threshold, "minimum_consecutive_frames": 1}
    write_bundle(Path(out_dir), onnx_path=onnx_path, preprocess=preprocess, tracker=tracker,
                 report={"note": f"untrained, seed {seed}"})
    onnx_path.unlink()
    return Path(out_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, *, ws_max_size: int = 16 * 1024 * 1024) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1:<free port>; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_max_size=ws_max_size,
                            ws_per_message_deflate=False)  # as `percept serve`
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
        thread.join(timeout=60)
        if thread.is_alive():  # a stuck connection: don't leave a live thread to interpreter exit
            server.force_exit = True
            thread.join(timeout=30)


def wait_ready(base: str, *, version: int | None = None, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = httpx.get(f"{base}/readyz")
        if r.status_code == 200 and (version is None or r.json()["version"] == version):
            return r.json()
        time.sleep(0.05)
    raise AssertionError(f"service not ready with version {version}: {httpx.get(f'{base}/readyz').text}")
