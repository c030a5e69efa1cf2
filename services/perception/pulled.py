"""Sources the service pulls itself (video file, RTSP, HTTP) through ``perception.data.sources``.

Files are opened only under ``allowed_roots`` (a client must not make the service read arbitrary
paths). Each source is one asyncio task that reads frames in a thread and feeds the pipeline
closed-loop: the next frame is read after the previous one was answered, so a slow model slows
the source instead of filling the queue. ``realtime`` additionally paces files to their fps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from services.perception.pipeline import FrameRejected, Pipeline

log = logging.getLogger("percept.service")
URL_SCHEMES = {"rtsp", "rtsps", "http", "https"}


def check_uri(uri: str, allowed_roots: tuple[str, ...]) -> tuple[str, bool]:
    """(what to open, is_file); 403 for a file outside the allowed roots, 400 for other schemes."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in URL_SCHEMES:
        return uri, False
    if scheme not in ("", "file") and len(scheme) > 1:  # one letter = a Windows drive
        raise FrameRejected(
            400, f"unsupported source scheme {scheme!r}: use a file path, rtsp:// or http(s)://"
        )
    path = Path(parsed.path if scheme == "file" else uri).expanduser().resolve()
    for root in allowed_roots:
        if path.is_relative_to(root):
            return str(path), True
    if not allowed_roots:
        raise FrameRejected(403, "file sources are disabled: no allowed_roots are configured")
    raise FrameRejected(403, f"{path} is outside the allowed source folders {list(allowed_roots)}")


@dataclass
class PulledSource:
    stream_id: str
    uri: str
    realtime: bool
    task: asyncio.Task | None = None
    frames: int = 0
    state: str = "running"
    error: str | None = None
    started: float = field(default_factory=time.time)

    def describe(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "url": self.uri,
            "realtime": self.realtime,
            "frames": self.frames,
            "state": self.state,
            "error": self.error,
        }


def default_opener(uri: str, stream_id: str) -> Any:
    from perception.data.sources import open_source

    return open_source(uri, stream_id=stream_id)


class SourceManager:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        allowed_roots: tuple[str, ...],
        opener: Callable[[str, str], Any] = default_opener,
    ) -> None:
        self.pipeline = pipeline
        self.allowed_roots = allowed_roots
        self.sources: dict[str, PulledSource] = {}
        self._opener = opener

    async def add(self, stream_id: str, uri: str, *, realtime: bool = True) -> PulledSource:
        current = self.sources.get(stream_id)
        if current is not None and current.state == "running":
            raise FrameRejected(409, f"stream {stream_id!r} already pulls {current.uri}; DELETE it first")
        target, is_file = check_uri(uri, self.allowed_roots)
        if self.pipeline.models.current is None:
            raise FrameRejected(503, "no model is loaded yet; try again when /readyz says ready")
        try:
            source = await asyncio.to_thread(self._opener, target, stream_id)
        except ValueError as exc:  # SourceError is a ValueError with one sentence
            raise FrameRejected(400, f"cannot open source: {exc}") from None
        self.pipeline.get_stream(stream_id, create=True)
        pulled = PulledSource(stream_id, uri, realtime and is_file)
        pulled.task = asyncio.get_running_loop().create_task(self._pump(pulled, source))
        self.sources[stream_id] = pulled
        return pulled

    async def remove(self, stream_id: str) -> bool:
        pulled = self.sources.pop(stream_id, None)
        if pulled is None:
            return False
        if pulled.task is not None:
            pulled.task.cancel()
            await asyncio.gather(pulled.task, return_exceptions=True)
        return True

    async def close(self) -> None:
        for stream_id in list(self.sources):
            await self.remove(stream_id)

    async def _pump(self, pulled: PulledSource, source: Any) -> None:
        iterator = iter(source)
        fps = float(getattr(source, "fps", 0) or 0)
        period = 1.0 / fps if pulled.realtime and fps > 0 else 0.0
        start = time.monotonic()
        try:
            while True:
                frame = await asyncio.to_thread(next, iterator, None)
                if frame is None:
                    pulled.state = "finished"
                    return
                try:
                    await self.pipeline.enqueue(pulled.stream_id, frame.image, time.time())
                except FrameRejected as exc:
                    log.info("source %s: %s", pulled.stream_id, exc)
                pulled.frames += 1
                if period:
                    await asyncio.sleep(max(0.0, start + pulled.frames * period - time.monotonic()))
        except asyncio.CancelledError:
            pulled.state = "stopped"
            raise
        except Exception as exc:  # a failing source never disturbs another stream
            pulled.state, pulled.error = "failed", str(exc)
            log.warning("source %s failed: %s", pulled.stream_id, exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                await asyncio.to_thread(close)
