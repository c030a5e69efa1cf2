"""The micro-batcher: frames of all streams -> one batched ORT call -> per-stream trackers -> messages.

    enqueue ──▶ bounded deque ──▶ batcher (event loop) ──▶ detect (letterbox + ORT + NMS, own thread)
                                                             ──▶ track + geometry (one thread, batch order)
                                                                   ──▶ publish (event loop)

The batcher takes the first waiting frame, waits at most ``batch_window_ms`` after its arrival for
more (up to ``max_batch``), drops frames that already waited longer than the staleness budget, and
runs the rest through one ``detect`` call; when another detect worker is idle, the waiting frames
are split between them instead (two half batches, one per core). Detection and tracking are two
stages: while batch k is tracked and published, batch k+1 is already in ORT, so the detector does
not sit idle while replies go out and the next frames come in. Batches are tracked and published strictly in the order they
were formed, on one thread, which keeps each stream's frames in arrival order, as the trackers need.
At most ``detect_workers`` batches are in ORT and one more is being tracked, so nothing queues
unbounded. A batch that shares the cores (another batch is in ORT, or is formed right beside it)
runs on the model's single-threaded session (``LoadedModel.side_detector``): intra-op threads would
only cost CPU there. A lone batch (one stream, one frame at a time) gets the all-cores session.
Backpressure: when ``max_pending`` frames are queued the oldest queued frame is dropped (its caller
gets 503): fresh frames matter more to control.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from perception.types import Detections, Tracks
from services.perception.messages import PerceptionMessage
from services.perception.metrics import ServiceMetrics
from services.perception.model import LoadedModel, ModelManager
from services.perception.settings import ServiceSettings
from services.perception.streams import StreamState, build_message, camera_from_dict

log = logging.getLogger("percept.service")
ACTIVE_WINDOW_S = 1.0
"""A stream that sent a frame within this many seconds counts as active for batching."""


class FrameRejected(Exception):
    """A frame the service could not answer for: ``status`` is the HTTP code, the message a sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Job:
    stream: StreamState
    index: int
    image: np.ndarray
    capture_ts: float
    arrival: float
    future: asyncio.Future
    flying: bool = False
    """Taken into a batch and not yet answered (``StreamState.in_flight`` counts it)."""


@dataclass
class Result:
    tracks: Tracks | None
    ranges: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    error: str | None = None
    births: int = 0
    deaths: int = 0


def default_tracker_factory(spec: dict[str, Any]) -> Any:
    from perception.tracking import make_tracker

    spec = dict(spec)
    name = spec.pop("name", None) or "bytetrack"
    return make_tracker(name, **spec)


def _geometry() -> tuple[Callable, Callable]:
    from perception.geometry import closing_speed_and_ttc, ground_range

    return ground_range, closing_speed_and_ttc


class Pipeline:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        models: ModelManager,
        metrics: ServiceMetrics,
        tracker_factory: Callable[[dict[str, Any]], Any] = default_tracker_factory,
    ) -> None:
        self.settings = settings
        self.models = models
        self.metrics = metrics
        self.streams: dict[str, StreamState] = {}
        self.last_image: np.ndarray | None = None
        self._tracker_factory = tracker_factory
        self._queue: deque[Job] = deque()
        self._wakeup = asyncio.Event()
        workers = settings.detect_workers
        self._detect_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="percept-ort")
        self._track_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="percept-track")
        self._detect_slots = asyncio.Semaphore(workers)
        self._batch_slots = asyncio.Semaphore(workers + 1)  # + the one being tracked
        self._batches: dict[asyncio.Task, list[Job]] = {}
        self._detect_held = 0  # detect slots taken: batches formed and not yet through ORT
        self._last_batch: asyncio.Task | None = None
        self._worker: asyncio.Task | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        _geometry()  # import once now, not inside the first frame's latency
        self._worker = asyncio.get_running_loop().create_task(self._run_forever(), name="percept-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        batches = dict(self._batches)
        for task in batches:
            task.cancel()
        await asyncio.gather(*batches, return_exceptions=True)
        pending = [job for jobs in batches.values() for job in jobs] + list(self._queue)
        self._queue.clear()
        for job in pending:
            if not job.future.done():
                job.future.set_exception(FrameRejected(503, "the service is shutting down"))
        for stream in self.streams.values():
            stream.publish(None)
        self._detect_pool.shutdown(wait=True, cancel_futures=True)
        self._track_pool.shutdown(wait=True, cancel_futures=True)

    # --- streams ---------------------------------------------------------------------------
    def get_stream(self, stream_id: str, *, create: bool) -> StreamState | None:
        stream = self.streams.get(stream_id)
        if stream is None and create:
            if len(self.streams) >= self.settings.max_streams:
                raise FrameRejected(
                    503,
                    f"the service holds {len(self.streams)} streams already (max_streams); delete one first",
                )
            camera = camera_from_dict(self.settings.calibrations.get(stream_id))
            stream = StreamState(stream_id, camera=camera, subscriber_queue=self.settings.subscriber_queue)
            self.streams[stream_id] = stream
            self.metrics.streams.set(len(self.streams))
        return stream

    def remove_stream(self, stream_id: str) -> bool:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return False
        stream.publish(None)
        self.metrics.forget_stream(stream_id)
        self.metrics.streams.set(len(self.streams))
        return True

    def expire_idle(self, *, keep: set[str] = frozenset(), now: float | None = None) -> list[str]:
        """Forget streams idle for ``stream_idle_s`` with no subscribers (``keep``: e.g. pulled sources)."""
        now = time.time() if now is None else now
        idle = [
            sid for sid, s in self.streams.items()
            if sid not in keep
            and not s.subscribers
            and now - max(s.last_arrival, s.created) > self.settings.stream_idle_s
        ]
        for sid in idle:
            self.remove_stream(sid)
        return idle

    async def expire_forever(self, keep) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.settings.stream_idle_s / 2))
            self.expire_idle(keep=set(keep()))

    # --- frames ----------------------------------------------------------------------------
    def enqueue(self, stream_id: str, image: np.ndarray, capture_ts: float | None = None) -> asyncio.Future:
        """Queue one (H, W, 3) uint8 BGR frame; the future resolves to its ``PerceptionMessage``."""
        if self.models.current is None:
            raise FrameRejected(503, f"no model is loaded yet: {self.models.last_error or 'loading'}")
        stream = self.get_stream(stream_id, create=True)
        now = time.time()
        ts = now if capture_ts is None else capture_ts
        if stream.last_capture_ts is not None and ts <= stream.last_capture_ts:
            raise FrameRejected(
                422, f"capture time {ts} is not after the stream's previous frame ({stream.last_capture_ts})"
            )
        stream.last_capture_ts = ts
        stream.last_arrival = now
        future = asyncio.get_running_loop().create_future()
        job = Job(stream, stream.take_index(), image, ts, now, future)
        if len(self._queue) >= self.settings.max_pending:
            sentence = "the service is overloaded (queue full); frame dropped"
            self._drop(self._queue.popleft(), "backpressure", sentence)
        self._queue.append(job)
        self._wakeup.set()
        return future

    def _drop(self, job: Job, reason: str, sentence: str) -> None:
        job.stream.record_drop()
        self.metrics.dropped.labels(job.stream.stream_id, reason).inc()
        if not job.future.done():
            job.future.set_exception(FrameRejected(503, sentence))

    async def _run_forever(self) -> None:
        while True:
            await self._batch_slots.acquire()
            await self._detect_slots.acquire()
            self._detect_held += 1
            try:
                jobs, model, crowded = await self._next_batch()
            except asyncio.CancelledError:
                self._release_detect_slot()
                self._batch_slots.release()
                raise
            except Exception:  # never let one bad batch stop the service
                log.exception("forming a batch failed")
                jobs, model, crowded = [], None, False
            if not jobs:
                self._release_detect_slot()
                self._batch_slots.release()
                continue
            previous = self._last_batch
            task = asyncio.get_running_loop().create_task(self._run_batch(model, jobs, previous, crowded))
            self._batches[task] = jobs
            self._last_batch = task

    def _release_detect_slot(self) -> None:
        self._detect_held -= 1
        self._detect_slots.release()

    async def _next_batch(self) -> tuple[list[Job], LoadedModel | None, bool]:
        """The next batch's jobs (stale ones dropped), the model that serves the whole batch, and
        whether the batch shares the cores (another batch is in ORT or is about to start beside it)."""
        while not self._queue:
            self._wakeup.clear()
            await self._wakeup.wait()
        window = self.settings.batch_window_ms / 1000.0
        deadline = self._queue[0].arrival + window
        while (
            len(self._queue) < self.settings.max_batch
            and time.time() < deadline
            and self._others_may_send()
        ):
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=max(0.0, deadline - time.time()))
            except TimeoutError:
                break
        jobs: list[Job] = []
        budget = self.settings.staleness_budget_ms / 1000.0
        now = time.time()
        # Idle workers share the queue: two half batches, one single-threaded call per core, beat one
        # batch on two intra-op threads while the other worker waits (the next frames only come after
        # the replies).
        idle_workers = self.settings.detect_workers - self._detect_held  # this batch holds a slot already
        size = min(self.settings.max_batch, -(-len(self._queue) // (1 + idle_workers)))
        while self._queue and len(jobs) < size:
            job = self._queue.popleft()
            if job.future.done():  # caller went away
                continue
            waited = now - job.arrival
            if waited > budget:
                sentence = f"frame dropped: it waited {waited * 1000:.0f} ms > staleness budget"
                self._drop(job, "stale", sentence)
            else:
                jobs.append(job)
                job.flying = True
                job.stream.take_off()
        model = self.models.current  # read once: the whole batch uses one model
        if jobs and model is None:
            for job in jobs:
                self._land(job)
                job.future.set_exception(FrameRejected(503, "no model is loaded"))
            return [], None, False
        crowded = self._detect_held > 1 or (bool(self._queue) and idle_workers > 0)
        return jobs, model, crowded

    async def _run_batch(
        self, model: LoadedModel, jobs: list[Job], previous: asyncio.Task | None, crowded: bool
    ) -> None:
        """Detect (holding a detect slot), then track and publish after the previous batch did.
        ``crowded``: other batches share the cores, so this one runs on the single-threaded session."""
        loop = asyncio.get_running_loop()
        detector = model.side_detector if crowded and model.side_detector is not None else model.detector
        try:
            try:
                detections = await loop.run_in_executor(self._detect_pool, self._detect, detector, jobs)
            finally:
                self._release_detect_slot()
            if previous is not None:
                await asyncio.wait([previous])  # its outcome is its own; only its order matters here
            results = await loop.run_in_executor(self._track_pool, self._track, model, jobs, detections)
            self.last_image = jobs[-1].image
            self.metrics.batch_size.observe(len(jobs))
            for job, result in zip(jobs, results):
                self._publish(job, result, model)
        except asyncio.CancelledError:
            raise
        except Exception:  # never let one bad batch stop the service
            log.exception("batch failed")
            for job in jobs:
                if not job.future.done():
                    self._drop(job, "error", "the service failed on this frame's batch")
        finally:
            for job in jobs:
                self._land(job)
            self._batch_slots.release()
            self._batches.pop(asyncio.current_task(), None)
            if self._last_batch is asyncio.current_task():
                self._last_batch = None

    @staticmethod
    def _land(job: Job) -> None:
        if job.flying:
            job.flying = False
            job.stream.land()

    def _others_may_send(self) -> bool:
        """Waiting for a batch only pays when a stream without a queued frame sent one recently."""
        now = time.time()
        queued = {job.stream.stream_id for job in self._queue}
        return any(
            sid not in queued and now - stream.last_arrival < ACTIVE_WINDOW_S
            for sid, stream in self.streams.items()
        )

    # --- worker threads --------------------------------------------------------------------
    def _detect(self, detector: Any, jobs: list[Job]) -> list[Detections | None]:
        """Detect thread: one batched call; on failure, frame by frame (None = that frame failed)."""
        try:
            return detector.detect([job.image for job in jobs])
        except Exception as exc:  # isolate the bad frame: retry one by one
            log.warning("batched detect failed (%s); retrying frames one by one", exc)
            return [self._detect_one(detector, job.image) for job in jobs]

    def _track(self, model: LoadedModel, jobs: list[Job], detections: list[Detections | None]) -> list[Result]:
        """Track thread: per-stream trackers and geometry, batches in the order they were formed."""
        ground_range, closing = _geometry()
        results = []
        for job, det in zip(jobs, detections):
            if det is None:
                results.append(Result(None, None, "the detector could not process this frame"))
                continue
            try:
                tracker = job.stream.ensure_tracker(lambda: self._tracker_factory(model.tracker_spec))
                tracks = tracker.update(det, timestamp=job.capture_ts)
                ranges = job.stream.ranges_and_ttc(tracks, job.capture_ts, ground_range, closing)
                job.stream.frames += 1
                births, deaths = job.stream.births_and_deaths(
                    tracks.track_id.tolist(), self.settings.track_forget_frames
                )
                results.append(Result(tracks, ranges, None, births, deaths))
            except Exception as exc:
                log.warning("stream %s frame %s failed: %s", job.stream.stream_id, job.index, exc)
                results.append(Result(None, None, f"tracking failed on this frame: {exc}"))
        return results

    @staticmethod
    def _detect_one(detector: Any, image: np.ndarray) -> Detections | None:
        try:
            return detector.detect([image])[0]
        except Exception:
            return None

    # --- event loop again ------------------------------------------------------------------
    def _publish(self, job: Job, result: Result, model: LoadedModel) -> None:
        stream = job.stream
        if result.error is not None or result.tracks is None:
            self._drop(job, "error", result.error or "frame failed")
            self._land(job)
            return
        births, deaths = result.births, result.deaths
        unreported, stream.dropped_unreported = stream.dropped_unreported, 0
        message: PerceptionMessage = build_message(
            stream=stream,
            tracks=result.tracks,
            class_names=model.class_names,
            frame_index=job.index,
            capture_ts=job.capture_ts,
            image_size=(job.image.shape[1], job.image.shape[0]),
            model_version=model.version,
            ranges=result.ranges,
            dropped_unreported=unreported,
        )
        sid = stream.stream_id
        self.metrics.frames.labels(sid).inc()
        self.metrics.fps.labels(sid).set(stream.fps.tick(time.time()))
        self.metrics.latency.observe(max(0.0, message.latency_ms / 1000.0))
        if births:
            self.metrics.births.labels(sid).inc(births)
        if deaths:
            self.metrics.deaths.labels(sid).inc(deaths)
        stream.publish(message)
        self._land(job)  # after the message: drops of newer frames go into the next one
        if not job.future.done():
            job.future.set_result(message)
