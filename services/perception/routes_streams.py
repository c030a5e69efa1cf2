"""Frames in (HTTP, WebSocket, pulled sources), messages out (reply, WebSocket, SSE), calibration."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Depends, Header, Path, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from services.perception.imaging import decode_image, media_kind, read_limited
from services.perception.messages import PerceptionMessage
from services.perception.pipeline import FrameRejected
from services.perception.streams import StreamState, camera_from_dict

router = APIRouter(prefix="/v1", tags=["streams"])
STREAM_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
StreamId = Annotated[str, Path(pattern=STREAM_ID, description="Letters, digits, '_', '.', '-'; 1-64 chars.")]
WS_IN_FLIGHT = 4
"""Frames one WebSocket may have queued; beyond it the service stops reading (TCP backpressure)."""
_ERROR_TEXT = {
    400: "Empty, corrupt or truncated image",
    404: "Unknown stream",
    413: "Body or image too large",
    415: "Not image/jpeg or image/png",
    422: "Malformed request",
    503: "Overloaded, frame dropped or no model",
}
ERRORS = {code: {"description": text} for code, text in _ERROR_TEXT.items()}


class Calibration(BaseModel):
    """Pinhole camera over flat ground (``perception.geometry.CameraModel``)."""

    model_config = ConfigDict(extra="forbid")
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    height_m: float = Field(gt=0, description="Camera height above the ground, metres.")
    pitch_rad: float = Field(0.0, description="Downward tilt, radians.")
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class SourceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream_id: str = Field(pattern=STREAM_ID)
    url: str = Field(min_length=1, description="Video file under an allowed root, rtsp:// or http(s):// URL.")
    realtime: bool = Field(True, description="Pace files at their frame rate (else as fast as served).")


class StreamInfo(BaseModel):
    stream_id: str
    frames: int
    dropped_frames: int
    subscribers: int
    calibration: dict[str, Any] | None
    source: dict[str, Any] | None


def _service(request: Request):
    return request.app.state.service


def _info(service, stream: StreamState) -> StreamInfo:
    src = service.sources.sources.get(stream.stream_id)
    camera = stream.camera
    return StreamInfo(
        stream_id=stream.stream_id,
        frames=stream.frames,
        dropped_frames=stream.dropped,
        subscribers=len(stream.subscribers),
        calibration=camera.to_dict() if camera is not None else None,
        source=src.describe() if src else None,
    )


def existing_stream(request: Request, stream_id: StreamId) -> StreamState:
    stream = _service(request).pipeline.get_stream(stream_id, create=False)
    if stream is None:
        raise FrameRejected(404, f"unknown stream {stream_id!r}: it has sent no frame and has no source")
    return stream


def _capture_ts(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        ts = float(value)
    except ValueError:
        raise FrameRejected(422, f"X-Capture-Ts must be seconds as a number, got {value!r}") from None
    if ts != ts or ts in (float("inf"), float("-inf")):
        raise FrameRejected(422, f"X-Capture-Ts must be finite, got {value!r}")
    return ts


@router.post(
    "/streams/{stream_id}/frames",
    response_model=PerceptionMessage,
    responses=ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
    }}},
)
async def post_frame(
    request: Request,
    stream_id: StreamId,
    x_capture_ts: Annotated[str | None, Header(description="Capture time, epoch seconds")] = None,
) -> Response:
    """One JPEG/PNG frame in, its ``PerceptionMessage`` out."""
    service = _service(request)
    kind = media_kind(request.headers.get("content-type"))
    ts = _capture_ts(x_capture_ts)
    limit = service.settings.max_body_bytes
    body = await read_limited(request.headers.get("content-length"), request.stream(), limit)
    image = await run_in_threadpool(decode_image, body, kind)
    message: PerceptionMessage = await service.pipeline.enqueue(stream_id, image, ts)
    return Response(message.model_dump_json(), media_type="application/json")


@router.get("/streams", response_model=list[StreamInfo])
async def list_streams(request: Request) -> list[StreamInfo]:
    service = _service(request)
    return [_info(service, s) for s in list(service.pipeline.streams.values())]


@router.get("/streams/{stream_id}", responses={404: ERRORS[404]})
async def get_stream(request: Request, stream: StreamState = Depends(existing_stream)) -> StreamInfo:
    return _info(_service(request), stream)


@router.delete("/streams/{stream_id}", status_code=204, responses={404: ERRORS[404]})
async def delete_stream(request: Request, stream: StreamState = Depends(existing_stream)) -> Response:
    """Forget the stream: tracker state, counters, subscribers (they are closed), its pulled source."""
    service = _service(request)
    await service.sources.remove(stream.stream_id)
    service.pipeline.remove_stream(stream.stream_id)
    return Response(status_code=204)


@router.put("/streams/{stream_id}/calibration", responses={422: ERRORS[422], 503: ERRORS[503]})
async def put_calibration(request: Request, stream_id: StreamId, calibration: Calibration) -> StreamInfo:
    """Set the stream's camera (creates the stream); range and TTC use it from the next frame on."""
    service = _service(request)
    try:
        camera = camera_from_dict(calibration.model_dump())
    except ValueError as exc:
        raise FrameRejected(422, f"invalid calibration: {exc}") from None
    stream = service.pipeline.get_stream(stream_id, create=True)
    stream.camera = camera
    return _info(service, stream)


@router.get("/streams/{stream_id}/calibration", responses={404: ERRORS[404]})
async def get_calibration(stream: StreamState = Depends(existing_stream)) -> Calibration | None:
    return Calibration(**stream.camera.to_dict()) if stream.camera is not None else None


@router.get(
    "/streams/{stream_id}/tracks/sse",
    response_class=EventSourceResponse,
    responses={404: ERRORS[404]},
)
async def tracks_sse(stream: StreamState = Depends(existing_stream)) -> AsyncIterator[ServerSentEvent]:
    """Every message of the stream as Server-Sent Events (``event: perception``, data = the JSON)."""
    queue = stream.subscribe()
    try:
        while True:
            message = await queue.get()
            if message is None:
                return
            yield ServerSentEvent(
                raw_data=message.model_dump_json(), event="perception", id=str(message.frame_index)
            )
    finally:
        stream.unsubscribe(queue)


_SOURCE_ERRORS = {k: ERRORS[k] for k in (400, 422, 503)} | {
    403: {"description": "File outside the allowed roots"},
    409: {"description": "Stream already has a source"},
}


@router.post("/sources", status_code=201, responses=_SOURCE_ERRORS)
async def add_source(request: Request, body: SourceRequest) -> dict[str, Any]:
    """The service pulls a video file / RTSP / HTTP stream itself and publishes its messages."""
    pulled = await _service(request).sources.add(body.stream_id, body.url, realtime=body.realtime)
    return pulled.describe()


@router.get("/sources")
async def list_sources(request: Request) -> list[dict[str, Any]]:
    return [s.describe() for s in list(_service(request).sources.sources.values())]


@router.delete("/sources/{stream_id}", status_code=204, responses={404: ERRORS[404]})
async def delete_source(request: Request, stream_id: StreamId) -> Response:
    if not await _service(request).sources.remove(stream_id):
        raise FrameRejected(404, f"stream {stream_id!r} has no pulled source")
    return Response(status_code=204)


# --- WebSockets ---------------------------------------------------------------------------------

async def _deny(websocket: WebSocket, status: int, sentence: str) -> None:
    """An HTTP answer instead of the upgrade where the server allows it, else close with 4000+status."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"detail": sentence}, status_code=status))
    else:
        await websocket.close(code=4000 + status, reason=sentence[:120])


def _ws_stream_id(websocket: WebSocket) -> str | None:
    stream_id = websocket.path_params.get("stream_id", "")
    return stream_id if re.match(STREAM_ID, stream_id) else None


@router.websocket("/streams/{stream_id}")
async def ws_frames(websocket: WebSocket, stream_id: str) -> None:
    """Binary JPEG/PNG frames in, messages out in frame order. A text frame ``{"capture_ts": s}``
    sets the capture time of the next binary frame. A bad frame answers ``{"error", "status"}`` and
    the connection stays open."""
    service = websocket.app.state.service
    if _ws_stream_id(websocket) is None:
        await _deny(websocket, 422, f"invalid stream id {stream_id!r}")
        return
    await websocket.accept()
    pending: asyncio.Queue = asyncio.Queue(maxsize=WS_IN_FLIGHT)
    sender = asyncio.get_running_loop().create_task(_ws_send_in_order(websocket, pending))
    next_ts: float | None = None
    limit = service.settings.max_body_bytes
    try:
        while not sender.done():
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                break
            data, text = event.get("bytes"), event.get("text")
            try:
                if text is not None:
                    next_ts = _ws_control(text)
                    continue
                if data is not None and len(data) > limit:
                    raise FrameRejected(413, f"frame of {len(data)} bytes exceeds the limit of {limit} bytes")
                image = await run_in_threadpool(decode_image, data or b"", None)
                item: Any = service.pipeline.enqueue(stream_id, image, next_ts)
            except FrameRejected as exc:
                item = exc
            next_ts = None
            await pending.put(item)
    except WebSocketDisconnect:
        pass
    finally:
        await pending.put(None)
        await asyncio.gather(sender, return_exceptions=True)


def _ws_control(text: str) -> float | None:
    try:
        payload = json.loads(text)
        ts = payload["capture_ts"]
    except (ValueError, KeyError, TypeError):
        sentence = 'text frames must be {"capture_ts": <seconds>}; send images as binary'
        raise FrameRejected(422, sentence) from None
    return _capture_ts(str(ts))


async def _ws_send_in_order(websocket: WebSocket, pending: asyncio.Queue) -> None:
    while True:
        item = await pending.get()
        if item is None:
            return
        try:
            if isinstance(item, FrameRejected):
                raise item
            message: PerceptionMessage = await item
            payload = message.model_dump_json()
        except FrameRejected as exc:
            payload = json.dumps({"error": str(exc), "status": exc.status})
        try:
            await websocket.send_text(payload)
        except Exception:  # client gone: drain so the receiver is never blocked
            while (await pending.get()) is not None:
                pass
            return


@router.websocket("/streams/{stream_id}/tracks")
async def ws_tracks(websocket: WebSocket, stream_id: str) -> None:
    """Every message of the stream, in order, for downstream subscribers (e.g. the control bridge)."""
    stream = websocket.app.state.service.pipeline.get_stream(stream_id, create=False)
    if stream is None:
        await _deny(websocket, 404, f"unknown stream {stream_id!r}: it has sent no frame and has no source")
        return
    await websocket.accept()
    queue = stream.subscribe()
    watcher = asyncio.get_running_loop().create_task(_until_disconnect(websocket))
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher in done:
                getter.cancel()
                return
            message = getter.result()
            if message is None:
                await websocket.close(code=1000, reason="stream deleted")
                return
            await websocket.send_text(message.model_dump_json())
    except Exception:
        return
    finally:
        stream.unsubscribe(queue)
        watcher.cancel()


async def _until_disconnect(websocket: WebSocket) -> None:
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    except Exception:
        return
