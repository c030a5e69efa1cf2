"""Wire a ``CollisionWarner`` to a live stream: the service's tracks WebSocket in, JSON lines out."""

from __future__ import annotations

import json
from typing import Awaitable, Callable

import httpx
import websockets

from perception.geometry import CameraModel
from services.control_bridge.config import BridgeConfig
from services.control_bridge.decision import CollisionWarner
from services.perception.messages import PerceptionMessage


def ws_url(server: str, path: str) -> str:
    base = server.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + path
    return "ws://" + base.removeprefix("http://") + path


def fetch_camera(server: str, stream_id: str) -> CameraModel | None:
    """The stream's calibration from the service; None when it has none (image-space corridor)."""
    r = httpx.get(f"{server.rstrip('/')}/v1/streams/{stream_id}/calibration", timeout=10)
    if r.status_code != 200:
        raise ValueError(f"cannot read calibration of stream {stream_id!r}: {r.status_code} {r.text}")
    data = r.json()
    return CameraModel.from_dict(data) if data else None


async def run_bridge(
    server: str,
    stream_id: str,
    *,
    config: BridgeConfig | None = None,
    emit: Callable[[str], Awaitable[None] | None] = print,
    out_ws: str | None = None,
    max_messages: int | None = None,
) -> int:
    """Subscribe to ``stream_id`` and emit one JSON line per warning/brake transition.

    Lines go to ``emit`` (stdout by default) and, when ``out_ws`` is given, to that WebSocket.
    Returns the number of messages consumed (stops after ``max_messages`` or when the stream closes).
    """
    warner = CollisionWarner(config, camera=fetch_camera(server, stream_id))
    sink = await websockets.connect(out_ws) if out_ws else None
    seen = 0
    try:
        async with websockets.connect(ws_url(server, f"/v1/streams/{stream_id}/tracks")) as ws:
            async for raw in ws:
                message = PerceptionMessage.model_validate_json(raw)
                seen += 1
                for event in warner.update(message):
                    line = json.dumps(event.to_dict())
                    result = emit(line)
                    if result is not None:
                        await result
                    if sink is not None:
                        await sink.send(line)
                if max_messages is not None and seen >= max_messages:
                    break
    except websockets.ConnectionClosedOK:
        pass
    finally:
        if sink is not None:
            await sink.close()
    return seen
