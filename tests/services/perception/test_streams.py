"""Per-stream state stays bounded: track histories are freed, idle streams are forgotten."""

from __future__ import annotations

import numpy as np
import pytest

from perception.geometry import CameraModel, closing_speed_and_ttc, ground_range
from perception.types import Tracks
from services.perception.metrics import ServiceMetrics
from services.perception.model import ModelManager
from services.perception.pipeline import Pipeline
from services.perception.settings import ServiceSettings
from services.perception.streams import StreamState
from tests.services.perception.svc_helpers import ListSource


@pytest.mark.parametrize("frames, forget, alive_max", [(0, 5, 0), (50, 5, 7), (200, 60, 62)])
def test_track_memory_is_bounded(frames, forget, alive_max):
    stream = StreamState("s", camera=None, subscriber_queue=4)
    births = deaths = 0
    for f in range(frames):  # a new track every frame, each seen for 2 frames
        stream.frames += 1
        b, d = stream.births_and_deaths([f, f - 1] if f else [f], forget)
        births, deaths = births + b, deaths + d
    assert len(stream.last_seen) <= alive_max
    assert births == frames and deaths == max(0, frames - len(stream.last_seen))


@pytest.mark.parametrize("camera, expect_range", [(None, False), (CameraModel.default(640, 384), True)])
def test_ranges_need_calibration(camera, expect_range):
    stream = StreamState("s", camera=camera, subscriber_queue=4)
    tracks = Tracks(xyxy=[[300, 200, 340, 260]], score=[0.9], class_id=[0], track_id=[1], velocity=[[0, 0]])
    rng, speed, ttc = stream.ranges_and_ttc(tracks, 0.0, ground_range, closing_speed_and_ttc)
    assert np.isfinite(rng[0]) == expect_range and np.isnan(speed[0]) and np.isnan(ttc[0])
    empty = stream.ranges_and_ttc(Tracks.empty(), 0.1, ground_range, closing_speed_and_ttc)
    assert [a.shape for a in empty] == [(0,), (0,), (0,)]


def test_idle_streams_are_forgotten():
    settings = ServiceSettings(stream_idle_s=10)
    blank = np.zeros((8, 8, 3), np.uint8)
    models = ModelManager(source=ListSource(), alias="champion", warm_image=lambda: blank)
    pipeline = Pipeline(settings=settings, models=models, metrics=ServiceMetrics())
    for sid in ("idle", "watched", "pulled", "fresh"):
        pipeline.get_stream(sid, create=True).last_arrival = 1000.0
    pipeline.streams["fresh"].last_arrival = 1095.0
    pipeline.streams["watched"].subscribers.add(object())
    for stream in pipeline.streams.values():
        stream.created = 0.0
    assert pipeline.expire_idle(keep={"pulled"}, now=1100.0) == ["idle"]
    assert sorted(pipeline.streams) == ["fresh", "pulled", "watched"]


@pytest.mark.parametrize(
    "steps, unreported",
    [
        ("", 0),
        ("d", 1),  # nothing in flight: the next message reports it
        ("td", 0),  # an older frame is in flight: its message must not claim the newer drop
        ("tdl", 1),  # ... once it is answered, the drop is the next message's
        ("ttdl", 0),
        ("ttdll", 1),
        ("dtdl", 2),
    ],
)
def test_drops_are_reported_after_older_frames_in_flight(steps, unreported):
    stream = StreamState("s", camera=None, subscriber_queue=4)
    actions = {"t": stream.take_off, "l": stream.land, "d": stream.record_drop}
    for step in steps:
        actions[step]()
    assert stream.dropped_unreported == unreported and stream.dropped == steps.count("d")
