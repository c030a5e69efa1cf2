"""``percept serve`` (the perception service), ``percept stream`` (send a video through it),
``percept bridge`` (the control bridge on one stream)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer

from cli.common import console, fail


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Bind address; 0.0.0.0 exposes the service to the network."
    ),
    port: int = typer.Option(8080, "--port", min=1, max=65535),
    model: str = typer.Option(None, "--model", help="Registered model (default: params.yaml service:)."),
    alias: str = typer.Option(None, "--alias", help="Alias to follow (default champion)."),
    poll: float = typer.Option(None, "--poll", help="Alias poll interval, s (0 = reload route only)."),
    allow_root: list[Path] = typer.Option(
        None, "--allow-root", help="Folder POST /v1/sources may read files from."
    ),
    params: Path = typer.Option(Path("params.yaml"), "--params", help="Parameters file (key service:)."),
) -> None:
    """Serve models:/<model>@<alias> over HTTP + WebSocket (uvicorn)."""
    import uvicorn

    from perception.config import load_params
    from services.perception.app import create_app
    from services.perception.settings import settings_from_params

    try:
        settings = settings_from_params(
            load_params(params), model_name=model, alias=alias, poll_interval_s=poll,
            allowed_roots=tuple(str(p) for p in allow_root) if allow_root else None,
        )
    except ValueError as exc:
        fail(str(exc))
    uri = f"models:/{settings.model_name}@{settings.alias}"
    console.print(f"serving {uri} on http://{host}:{port} (docs at /docs)")
    app = create_app(settings)
    # No permessage-deflate: frames are JPEG/PNG (nothing left to compress) and deflating them cost
    # both ends CPU on every message.
    uvicorn.run(app, host=host, port=port, log_level="info", ws_max_size=settings.max_body_bytes,
                ws_per_message_deflate=False)


def stream(
    source: str = typer.Argument(..., help="Video file, image folder or URL to send."),
    server: str = typer.Option("http://127.0.0.1:8080", "--server"),
    stream_id: str = typer.Option("cli", "--stream-id"),
    ws: bool = typer.Option(False, "--ws", help="Send over one WebSocket instead of one POST per frame."),
    out: Path = typer.Option(None, "--out", help="Write the annotated video here (.mp4)."),
    show: int = typer.Option(2, "--show", min=0, help="Print the first N messages' JSON."),
    max_frames: int = typer.Option(None, "--max-frames", min=1),
    calibration: Path = typer.Option(
        None, "--calibration",
        help="Camera for range/TTC: a dataset.yaml (its camera: block) or a YAML/JSON camera file.",
    ),
    wait: float = typer.Option(
        60.0, "--wait", min=0,
        help="Seconds to wait for the service to be up with a model loaded before sending (0: don't wait).",
    ),
    realtime: bool = typer.Option(
        True, "--realtime/--no-realtime",
        help="Act like a live camera: frames keep their own timing and are skipped when the service "
        "falls behind. --no-realtime sends every frame as fast as possible, stamped when sent.",
    ),
) -> None:
    """Send a video through the service; write the annotated video (boxes, IDs, range/TTC)."""
    from rich.progress import Progress

    from perception.data.sources import open_source
    from services.perception.client import StreamClient, annotate, wait_ready

    camera = _load_camera(calibration) if calibration is not None else None
    try:
        src = open_source(source, stream_id=stream_id)
    except ValueError as exc:
        fail(str(exc))
    writer = None
    sent = failed = skipped = 0
    started = time.perf_counter()
    clock = _CameraClock(period_s=1.0 / (src.fps or 10.0)) if realtime else None
    try:
        if wait > 0:
            with console.status(f"waiting for {server} to have a model loaded"):
                wait_ready(server, wait)
            started = time.perf_counter()  # the rate below is of streaming, not of waiting
        if camera is not None:
            _put_calibration(server, stream_id, camera)
        with (
            src,
            StreamClient(server, stream_id, websocket=ws) as client,
            Progress(console=console) as progress,
        ):
            task = progress.add_task(f"streaming to {server}", total=max_frames)
            for frame in src:
                if max_frames is not None and sent >= max_frames:
                    break
                capture_ts = clock.capture_time(frame.timestamp) if clock else time.time()
                if capture_ts is None:
                    skipped += 1
                    continue
                reply = client.send(frame.image, capture_ts=capture_ts)
                sent += 1
                if "error" in reply:
                    failed += 1
                    progress.console.print(f"frame {frame.index}: {reply['error']}")
                elif sent <= show:
                    progress.console.print_json(json.dumps(reply))
                if out is not None:
                    writer = writer or _writer(out, frame.image.shape, src.fps)
                    writer.write(annotate(frame.image, reply))
                progress.advance(task)
    except (OSError, ValueError) as exc:
        fail(f"streaming to {server} failed: {exc}")
    finally:
        if writer is not None:
            writer.release()
    fps = sent / max(time.perf_counter() - started, 1e-9)
    note = f", {skipped} skipped (service slower than the source's frame rate)" if skipped else ""
    console.print(f"sent {sent} frames ({fps:.1f} fps), {failed} failed{note}" + (f"; wrote {out}" if out else ""))


class _CameraClock:
    """Maps a recorded source's frame times onto the wall clock, as a live camera would deliver them.

    A frame is sent no earlier than its capture time; one whose capture time is more than one
    frame period in the past (the service is slower than the source) is skipped, like a camera
    that only hands out its newest image. Velocities and time-to-collision then come out in real
    seconds whatever the service's speed.
    """

    def __init__(self, *, period_s: float) -> None:
        self.period_s = period_s
        self.origin: tuple[float, float] | None = None  # (wall time, source time) of the first frame

    def capture_time(self, source_ts: float) -> float | None:
        now = time.time()
        if self.origin is None:
            self.origin = (now, source_ts)
        capture = self.origin[0] + (source_ts - self.origin[1])
        if capture > now:
            time.sleep(capture - now)
        elif now - capture > self.period_s:
            return None
        return capture


def _load_camera(path: Path) -> dict:
    import yaml

    from perception.geometry import CameraModel

    try:
        data = yaml.safe_load(path.read_text())  # JSON is YAML too
        block = data.get("camera", data) if isinstance(data, dict) else data
        return CameraModel.from_dict(block).to_dict()
    except (OSError, yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
        fail(f"--calibration {path}: no usable camera ({exc})")


def _put_calibration(server: str, stream_id: str, camera: dict) -> None:
    import httpx

    resp = httpx.put(f"{server.rstrip('/')}/v1/streams/{stream_id}/calibration", json=camera, timeout=10)
    if resp.status_code != 200:
        fail(f"the service refused the calibration ({resp.status_code}): {resp.text}")


def _writer(path: Path, shape: tuple[int, ...], fps: float):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps or 10.0, (shape[1], shape[0]))
    if not writer.isOpened():
        fail(f"cannot write video {path}")
    return writer


def bridge(
    stream_id: str = typer.Argument(..., help="Stream to watch."),
    server: str = typer.Option("http://127.0.0.1:8080", "--server"),
    out_ws: str = typer.Option(None, "--out-ws", help="Also send the JSON lines to this WebSocket."),
) -> None:
    """Forward-collision warnings and brake requests for one stream, as JSON lines on stdout."""
    from services.control_bridge.run import run_bridge

    try:
        asyncio.run(run_bridge(server, stream_id, out_ws=out_ws, emit=lambda line: print(line, flush=True)))
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        fail(f"bridge on {server} stream {stream_id!r} failed: {exc}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("stream")(stream)
    app.command("bridge")(bridge)
