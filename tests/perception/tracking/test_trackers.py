"""Behaviour of both trackers on small synthetic scenes (ids, occlusion, velocity, classes, state)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from perception.data.mot import read_mot, read_seqinfo
from perception.tracking import TRACKERS, make_tracker
from perception.types import Detections, Tracks

NAMES = sorted(TRACKERS)
RATE = 10.0  # frames per second in these scenes


def box(x: float, y: float = 100.0, w: float = 40.0, h: float = 80.0) -> list[float]:
    return [x, y, x + w, y + h]


def dets(boxes: list[list[float]], *, score: float = 0.95, classes: list[int] | None = None) -> Detections:
    n = len(boxes)
    return Detections(
        xyxy=np.array(boxes, np.float32).reshape(n, 4),
        score=np.full(n, score),
        class_id=np.zeros(n, np.int64) if classes is None else np.array(classes),
    )


def tracker(name: str, **overrides):
    return make_tracker(name, frame_rate=RATE, lost_track_buffer=5, minimum_consecutive_frames=2, **overrides)


def run(trk, frames: list[Detections]) -> list:
    return [trk.update(d) for d in frames]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("frames", [1, 5, 50])
def test_no_detections_gives_empty_tracks(name, frames):
    trk = tracker(name)
    for out in run(trk, [Detections.empty()] * frames):
        assert len(out) == 0 and out.track_id.dtype == np.int64 and out.velocity.shape == (0, 2)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("speed_px_per_frame", [5.0, -3.0, 0.0])
def test_object_crossing_keeps_one_id_and_velocity_in_px_per_s(name, speed_px_per_frame):
    trk = tracker(name)
    outs = run(trk, [dets([box(300 + speed_px_per_frame * t)]) for t in range(30)])
    assert len(outs[0]) == 0  # not confirmed yet: minimum_consecutive_frames=2
    assert all(len(o) == 1 for o in outs[1:])
    assert {int(o.track_id[0]) for o in outs[1:]} == {1}
    vx, vy = outs[-1].velocity[0]
    assert vx == pytest.approx(speed_px_per_frame * RATE, abs=0.05 * abs(speed_px_per_frame * RATE) + 1.0)
    assert abs(vy) < 1.0
    assert np.allclose(outs[-1].xyxy[0], box(300 + speed_px_per_frame * 29), atol=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_velocity_uses_timestamps(name):
    trk = tracker(name)
    # 5 px per frame but frames 0.2 s apart: 25 px/s, whatever frame_rate says.
    outs = [trk.update(dets([box(100 + 5 * t)]), timestamp=10.0 + 0.2 * t) for t in range(30)]
    assert outs[-1].velocity[0, 0] == pytest.approx(25.0, abs=1.5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("gap, same_id", [(0, True), (3, True), (5, True), (8, False), (20, False)])
def test_occlusion_shorter_than_buffer_keeps_id(name, gap, same_id):
    trk = tracker(name)  # lost_track_buffer=5 frames
    frames = [dets([box(100 + 4 * t)]) for t in range(10)]
    frames += [Detections.empty()] * gap
    frames += [dets([box(100 + 4 * t)]) for t in range(10 + gap, 20 + gap)]
    outs = run(trk, frames)
    ids = {int(i) for o in outs for i in o.track_id}
    assert ids == ({1} if same_id else {1, 2})
    assert all(len(o) == 0 for o in outs[10 : 10 + gap])  # coasting tracks are not output


@pytest.mark.parametrize("name", NAMES)
def test_two_instances_do_not_share_ids(name):
    a, b = tracker(name), tracker(name)
    for t in range(5):
        out_a = a.update(dets([box(100 + t), box(300 + t)]))
        out_b = b.update(dets([box(500 - t)]))
    assert sorted(out_a.track_id.tolist()) == [1, 2]
    assert out_b.track_id.tolist() == [1]  # b's counter never advanced by a's tracks


@pytest.mark.parametrize("name", NAMES)
def test_inputs_not_mutated(name):
    trk = tracker(name)
    frames = [dets([box(100 + 5 * t), box(400 - 5 * t, y=120)]) for t in range(10)]
    copies = [(d.xyxy.copy(), d.score.copy(), d.class_id.copy()) for d in frames]
    run(trk, frames)
    for d, (xyxy, score, cls) in zip(frames, copies):
        assert np.array_equal(d.xyxy, xyxy) and np.array_equal(d.score, score)
        assert np.array_equal(d.class_id, cls)


@pytest.mark.parametrize("name", NAMES)
def test_class_aware_association(name):
    trk = tracker(name)
    outs = run(trk, [dets([box(100 + 2 * t), box(101 + 2 * t)], classes=[0, 2]) for t in range(10)])
    last = outs[-1]
    assert len(last) == 2
    by_class = dict(zip(last.class_id.tolist(), last.track_id.tolist()))
    first = dict(zip(outs[1].class_id.tolist(), outs[1].track_id.tolist()))
    assert by_class == first and len(set(by_class.values())) == 2


@pytest.mark.parametrize("name", NAMES)
def test_reset_restarts(name):
    trk = tracker(name)
    run(trk, [dets([box(100 + t), box(300)]) for t in range(5)])
    trk.reset()
    assert len(trk.update(dets([box(600)]))) == 0  # old tracks gone; new one unconfirmed
    assert trk.update(dets([box(600)])).track_id.tolist() == [1]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "scores, expected_tracks",
    [
        ([0.95], 1),  # starts a track
        ([0.3], 0),  # below every threshold
        ([], 0),
    ],
)
def test_score_thresholds(name, scores, expected_tracks):
    trk = tracker(name)
    boxes = [box(100)] * len(scores)
    for _ in range(3):
        frame = Detections(xyxy=np.array(boxes).reshape(-1, 4), score=scores, class_id=[0] * len(scores))
        out = trk.update(frame)
    assert len(out) == expected_tracks


def test_bytetrack_low_score_detections_extend_tracks_only():
    trk = tracker("bytetrack")
    outs = run(trk, [dets([box(100 + 3 * t)]) for t in range(5)])
    # The object's score drops below detection_threshold: stage 2 keeps the same track going...
    outs += run(trk, [dets([box(100 + 3 * t)], score=0.3) for t in range(5, 15)])
    assert {int(o.track_id[0]) for o in outs[1:]} == {1} and all(len(o) == 1 for o in outs[1:])
    # ...but low scores never start a track.
    fresh = tracker("bytetrack")
    assert all(len(o) == 0 for o in run(fresh, [dets([box(500)], score=0.3)] * 5))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("timestamps, error", [((1.0, 1.0), "must increase"), ((2.0, 1.0), "must increase")])
def test_timestamps_must_increase(name, timestamps, error):
    trk = tracker(name)
    trk.update(dets([box(100)]), timestamp=timestamps[0])
    with pytest.raises(ValueError, match=error):
        trk.update(dets([box(100)]), timestamp=timestamps[1])


@pytest.mark.parametrize("name", NAMES)
def test_many_tracks_grow_the_table(name):
    trk = tracker(name)
    boxes = [box(10 + 50 * (i % 20), y=10 + 100 * (i // 20)) for i in range(100)]
    for _ in range(3):
        out = trk.update(dets(boxes))
    assert sorted(out.track_id.tolist()) == list(range(1, 101))


@pytest.mark.parametrize("name", NAMES)
def test_output_passes_public_validation_and_stays_frozen(name, test_data):
    # Trackers build Tracks through an unchecked fast path; its output must be exactly what the
    # validating constructor would accept and produce, and must not change on later updates.
    seq = test_data / "mot15" / "TUD-Campus"
    by_frame = read_mot(seq / "det" / "det.txt").detections_by_frame()
    trk = make_tracker(name, frame_rate=read_seqinfo(seq).frame_rate)
    outs, copies = [], []  # copies taken right away, to compare after later frames
    for frame in range(1, max(by_frame) + 1):
        outs.append(trk.update(by_frame.get(frame, Detections.empty())))
        copies.append({f.name: _copy(getattr(outs[-1], f.name)) for f in fields(Tracks)})
    assert sum(len(o) for o in outs) > 100
    for out, before in zip(outs, copies):
        checked = Tracks(**before)
        for f in fields(out):
            got, want = getattr(out, f.name), getattr(checked, f.name)
            if want is None:
                assert got is None
                continue
            assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
            assert np.array_equal(got, before[f.name])  # unchanged by later frames
            assert not got.flags.writeable and got.flags.c_contiguous
            with pytest.raises(ValueError, match="read-only"):
                got[...] = 0


def _copy(value):
    return None if value is None else value.copy()
