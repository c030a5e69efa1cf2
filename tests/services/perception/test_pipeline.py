"""The batcher's two stages: detection of the next batch overlaps tracking of the previous one, yet
every stream's frames reach its tracker in arrival order, and the work in flight stays bounded."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from perception.types import Tracks
from services.perception.metrics import ServiceMetrics
from services.perception.model import LoadedModel, ModelManager
from services.perception.pipeline import FrameRejected, Pipeline
from services.perception.settings import ServiceSettings
from tests.services.perception.svc_helpers import BrightBoxDetector, ListSource, bright_frame


class TimedDetector(BrightBoxDetector):
    """Sleeps ``delays[i]`` seconds in its i-th call (the last value after that); logs call windows."""

    def __init__(self, delays: list[float]) -> None:
        super().__init__()
        self.delays = delays
        self.events: list[tuple[str, float]] = []
        self.active = self.max_active = 0
        self._lock = threading.Lock()

    def detect(self, images):
        with self._lock:
            call = len(self.batches)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.events.append(("detect_start", time.perf_counter()))
        time.sleep(self.delays[min(call, len(self.delays) - 1)])
        out = super().detect(images)
        with self._lock:
            self.active -= 1
            self.events.append(("detect_end", time.perf_counter()))
        return out

    def windows(self) -> list[tuple[float, float]]:
        starts = [t for kind, t in self.events if kind == "detect_start"]
        ends = [t for kind, t in self.events if kind == "detect_end"]
        return list(zip(starts, ends))  # calls end in start order here: one sleep length per detector


class RecordingTracker:
    """Records the timestamps it is fed; sleeps ``delay`` per frame (a slow tracker)."""

    def __init__(self, seen: list[float], events: list, delay: float) -> None:
        self.seen, self.events, self.delay = seen, events, delay

    def update(self, detections, *, timestamp: float) -> Tracks:
        time.sleep(self.delay)
        self.seen.append(timestamp)
        self.events.append(("track_end", time.perf_counter()))
        return Tracks.empty()


def _pipeline(detector, *, workers: int, max_batch: int, track_delay: float = 0.0, side=None):
    settings = ServiceSettings(detect_workers=workers, max_batch=max_batch, batch_window_ms=0,
                               staleness_budget_ms=60_000, max_pending=1000)
    blank = np.zeros((8, 8, 3), np.uint8)
    models = ModelManager(source=ListSource(), alias="champion", warm_image=lambda: blank)
    models.current = LoadedModel(version=1, detector=detector, class_names=["car"], tracker_spec={},
                                 side_detector=side)
    seen: dict[str, list[float]] = {}

    def factory(spec):
        sid = f"s{len(seen)}"
        seen[sid] = []
        return RecordingTracker(seen[sid], detector.events, track_delay)

    pipeline = Pipeline(settings=settings, models=models, metrics=ServiceMetrics(), tracker_factory=factory)
    return pipeline, seen


@pytest.mark.parametrize(
    "workers, max_batch, streams, delays",
    [
        (1, 1, 1, [0.0]),
        (1, 4, 3, [0.03, 0.0]),
        (2, 1, 1, [0.06, 0.0]),  # the 2nd batch finishes detection first; it must still be tracked 2nd
        (2, 2, 3, [0.06, 0.0, 0.03, 0.0]),
        (3, 3, 4, [0.02, 0.05, 0.0]),
    ],
)
def test_each_stream_is_tracked_in_arrival_order(workers, max_batch, streams, delays):
    detector = TimedDetector(delays)

    async def run():
        pipeline, seen = _pipeline(detector, workers=workers, max_batch=max_batch)
        pipeline.start()
        futures = []
        for i in range(12):
            for s in range(streams):
                futures.append(pipeline.enqueue(f"cam{s}", bright_frame(10 + i), capture_ts=1000.0 + i))
            await asyncio.sleep(0.002)
        messages = await asyncio.gather(*futures)
        await pipeline.stop()
        return messages, seen

    messages, seen = asyncio.run(run())
    assert len(messages) == 12 * streams
    for s in range(streams):
        indices = [m.frame_index for m in messages if m.stream_id == f"cam{s}"]
        assert indices == list(range(12))
    assert len(seen) == streams
    for timestamps in seen.values():
        assert timestamps == [1000.0 + i for i in range(12)]
    assert 1 <= detector.max_active <= workers
    assert max(detector.batches) <= max_batch


def test_next_batch_is_detected_while_the_previous_is_tracked():
    detector = TimedDetector([0.05])

    async def run():
        pipeline, _ = _pipeline(detector, workers=1, max_batch=1, track_delay=0.05)
        pipeline.start()
        futures = [pipeline.enqueue("cam", bright_frame(10 + i), capture_ts=1.0 + i) for i in range(4)]
        await asyncio.gather(*futures)
        await pipeline.stop()

    asyncio.run(run())
    starts = [t for kind, t in detector.events if kind == "detect_start"]
    ends = [t for kind, t in detector.events if kind == "track_end"]
    assert len(starts) == len(ends) == 4
    assert starts[1] < ends[0] and starts[2] < ends[1]  # one worker, yet never idle while tracking


@pytest.mark.parametrize("workers, side_used", [(1, False), (2, True)])
def test_a_batch_beside_another_runs_on_the_side_detector(workers, side_used):
    main, side = TimedDetector([0.03]), TimedDetector([0.03])

    async def run():
        pipeline, _ = _pipeline(main, workers=workers, max_batch=1, side=side)
        pipeline.start()
        futures = [pipeline.enqueue(f"cam{i % 3}", bright_frame(10), capture_ts=1.0 + i) for i in range(9)]
        await asyncio.gather(*futures)
        await pipeline.stop()

    asyncio.run(run())
    assert len(main.batches) + len(side.batches) == 9
    assert bool(side.batches) == side_used and (side_used or len(main.batches) == 9)
    # The all-cores session never runs beside another batch; single-threaded runs may pair.
    assert main.max_active <= 1 and side.max_active <= workers
    for m_start, m_end in main.windows():
        assert all(s_end <= m_start or s_start >= m_end for s_start, s_end in side.windows())


def test_idle_workers_split_the_waiting_frames():
    main, side = TimedDetector([0.05]), TimedDetector([0.05])

    async def run():
        pipeline, _ = _pipeline(main, workers=2, max_batch=8, side=side)
        pipeline.start()
        futures = [pipeline.enqueue(f"cam{i}", bright_frame(10), capture_ts=1.0) for i in range(8)]
        await asyncio.gather(*futures)
        lone = await pipeline.enqueue("cam0", bright_frame(10), capture_ts=2.0)  # nothing else waiting
        await pipeline.stop()
        return lone

    lone = asyncio.run(run())
    # Eight frames and two idle workers: two batches of four, side by side, single-threaded;
    # then a frame alone gets the all-cores session.
    assert side.batches == [4, 4] and side.max_active == 2
    assert main.batches == [1] and lone.frame_index == 1


def test_stop_answers_frames_in_flight():
    detector = TimedDetector([0.1])

    async def run():
        pipeline, _ = _pipeline(detector, workers=2, max_batch=1)
        pipeline.start()
        futures = [pipeline.enqueue("cam", bright_frame(10), capture_ts=1.0 + i) for i in range(6)]
        await asyncio.sleep(0.02)
        await pipeline.stop()
        return await asyncio.gather(*futures, return_exceptions=True)

    outcomes = asyncio.run(run())
    assert all(isinstance(o, FrameRejected) and o.status == 503 for o in outcomes)
