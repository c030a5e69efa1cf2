"""Per-stream state: one tracker, frame counter, drop counts, calibration, range history, subscribers.

Only the pipeline's track thread mutates tracker and history (one writer, frames in arrival order);
the event loop only touches counters and subscriber queues.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from perception.types import Tracks
from services.perception.messages import PerceptionMessage, TrackMessage, finite_or_none

RANGE_HISTORY = 10
"""Range samples kept per track for closing speed/TTC: more smooths noise, fewer reacts faster."""


@dataclass
class FpsMeter:
    """Frames per second over a sliding window of arrival times."""

    window_s: float = 2.0
    times: deque = field(default_factory=lambda: deque(maxlen=256))

    def tick(self, now: float) -> float:
        self.times.append(now)
        while self.times and now - self.times[0] > self.window_s:
            self.times.popleft()
        span = self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0
        return (len(self.times) - 1) / span if span > 0 else 0.0


class StreamState:
    """Everything the service keeps about one stream."""

    def __init__(self, stream_id: str, *, camera: Any | None, subscriber_queue: int) -> None:
        self.stream_id = stream_id
        self.camera = camera
        self.tracker: Any | None = None
        self.next_index = 0
        self.last_capture_ts: float | None = None
        self.last_arrival = 0.0
        self.dropped = 0
        self.dropped_unreported = 0
        self.in_flight = 0
        """Frames of this stream taken into a batch and not yet answered."""
        self._dropped_held = 0
        self.frames = 0
        self.fps = FpsMeter()
        self.last_seen: dict[int, int] = {}
        self.ranges: dict[int, deque] = {}
        self.subscribers: set[asyncio.Queue] = set()
        self._subscriber_queue = subscriber_queue
        self.created = time.time()

    # --- event-loop side -------------------------------------------------------------------
    def take_index(self) -> int:
        index = self.next_index
        self.next_index += 1
        return index

    def record_drop(self) -> None:
        """Count a dropped frame; the next message reports it (``stale``). A drop while older frames of
        the stream are still being processed waits for them: their messages come from before it."""
        self.dropped += 1
        if self.in_flight:
            self._dropped_held += 1
        else:
            self.dropped_unreported += 1

    def take_off(self) -> None:
        self.in_flight += 1

    def land(self) -> None:
        """One in-flight frame answered; once none is, held drops become reportable."""
        self.in_flight -= 1
        if self.in_flight == 0:
            self.dropped_unreported += self._dropped_held
            self._dropped_held = 0

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=self._subscriber_queue)
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.discard(queue)

    def publish(self, message: PerceptionMessage | None) -> None:
        """Fan out to subscribers; a full queue loses its oldest message (slow readers never block)."""
        for queue in list(self.subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    # --- worker-thread side ----------------------------------------------------------------
    def ensure_tracker(self, make: Callable[[], Any]) -> Any:
        if self.tracker is None:
            self.tracker = make()
        return self.tracker

    def ranges_and_ttc(
        self, tracks: Tracks, timestamp: float, ground_range: Callable, closing: Callable
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N,) range_m, closing speed m/s and TTC s for ``tracks``; NaN where unknown."""
        n = len(tracks)
        nan = np.full(n, np.nan, np.float32)
        camera = self.camera  # read once: a calibration PUT may replace it meanwhile
        if camera is None or n == 0:
            return nan, nan.copy(), nan.copy()
        rng = np.asarray(ground_range(tracks.xyxy, camera), np.float32)
        speed, ttc = nan.copy(), nan.copy()
        for i, tid in enumerate(tracks.track_id.tolist()):
            history = self.ranges.setdefault(tid, deque(maxlen=RANGE_HISTORY))
            if np.isfinite(rng[i]):
                history.append((timestamp, float(rng[i])))
            if len(history) >= 2:
                t, r = zip(*history)
                speed[i], ttc[i] = closing(np.asarray(t, np.float64), np.asarray(r, np.float64))
        return rng, speed, ttc

    def births_and_deaths(self, track_ids: list[int], forget_after: int) -> tuple[int, int]:
        """Tracks seen for the first time, and tracks unseen for ``forget_after`` frames (then freed)."""
        now = self.frames
        births = sum(1 for t in track_ids if t not in self.last_seen)
        for t in track_ids:
            self.last_seen[t] = now
        dead = [t for t, seen in self.last_seen.items() if now - seen > forget_after]
        for t in dead:
            del self.last_seen[t]
            self.ranges.pop(t, None)
        return births, len(dead)


def build_message(
    *,
    stream: StreamState,
    tracks: Tracks,
    class_names: list[str],
    frame_index: int,
    capture_ts: float,
    image_size: tuple[int, int],
    model_version: int | None,
    ranges: tuple[np.ndarray, np.ndarray, np.ndarray],
    dropped_unreported: int,
) -> PerceptionMessage:
    """The message for one frame; ``image_size`` is (W, H)."""
    rng, speed, ttc = ranges
    items = []
    for i in range(len(tracks)):
        cid = int(tracks.class_id[i])
        items.append(
            TrackMessage(
                track_id=int(tracks.track_id[i]),
                class_name=class_names[cid] if cid < len(class_names) else str(cid),
                score=round(float(tracks.score[i]), 4),
                bbox_xyxy=tuple(round(float(v), 2) for v in tracks.xyxy[i]),
                velocity_px_s=tuple(round(float(v), 2) for v in tracks.velocity[i]),
                range_m=finite_or_none(rng[i]),
                closing_speed_mps=finite_or_none(speed[i]),
                ttc_s=finite_or_none(ttc[i]),
            )
        )
    publish_ts = time.time()
    return PerceptionMessage(
        stream_id=stream.stream_id,
        frame_index=frame_index,
        capture_ts=capture_ts,
        publish_ts=publish_ts,
        latency_ms=round((publish_ts - capture_ts) * 1000.0, 3),
        stale=dropped_unreported > 0,
        dropped_frames=stream.dropped,
        model_version=model_version,
        image_width=image_size[0],
        image_height=image_size[1],
        tracks=items,
    )


def camera_from_dict(data: Mapping[str, Any] | None) -> Any | None:
    """``CameraModel.from_dict`` (ValueError on a bad calibration); None stays None."""
    if data is None:
        return None
    from perception.geometry import CameraModel

    return CameraModel.from_dict(dict(data))
