"""evaluate_tracking (TrackEval, class-agnostic) and track_sequence on tiny hand-made sequences."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from perception.data.mot import MotRecords, SeqInfo, read_mot, write_mot, write_seqinfo
from perception.eval.tracking import METRICS, TrackingStats, evaluate_tracking, track_sequence
from perception.types import Tracks


def records(rows: list[list[float]]) -> MotRecords:
    """Rows ``frame, id, x, y, w, h, conf, c7`` -> MotRecords (c8, c9 = -1)."""
    t = np.array(rows, float).reshape(-1, 8)
    extra = np.column_stack([t[:, 7], np.full((len(t), 2), -1.0)])
    return MotRecords(t[:, 0].astype(np.int64), t[:, 1].astype(np.int64), t[:, 2:6], t[:, 6], extra)


def make_seq(root, name, gt_rows, length=4):
    (root / name).mkdir(parents=True)
    write_seqinfo(root / name, SeqInfo(name=name, frame_rate=10, seq_length=length, width=640, height=480))
    write_mot(root / name / "gt" / "gt.txt", records(gt_rows))


# Two people walking for 4 frames; MOT17-like rows: class column = class_id + 1.
PEOPLE = [[f, i, 10 + 100 * i + 5 * f, 50, 40, 80, 1, 1] for f in range(1, 5) for i in (1, 2)]
SWAPPED = [r[:1] + [3 - r[1] if r[0] >= 3 else r[1]] + r[2:] for r in PEOPLE]  # ids swap at frame 3
CAR = [[f, 7, 400, 300, 80, 40, 1, 3] for f in range(1, 5)]  # class_id 2


@pytest.mark.parametrize(
    "gt_rows, result_rows, classes, expected",
    [
        # Perfect results.
        (PEOPLE, PEOPLE, None, {"HOTA": 100, "MOTA": 100, "IDF1": 100, "IDSW": 0}),
        # MOT15 flavour: class column -1.
        ([r[:7] + [-1] for r in PEOPLE], PEOPLE, None, {"HOTA": 100, "MOTA": 100, "IDF1": 100, "IDSW": 0}),
        # Ids swapped from frame 3 on: two identity switches.
        (PEOPLE, SWAPPED, None, {"MOTA": 75, "IDSW": 2}),
        # Nothing tracked.
        (PEOPLE, [], None, {"HOTA": 0, "MOTA": 0, "IDF1": 0, "IDSW": 0}),
        # conf 0 in gt = ignore: a miss there is not counted.
        (PEOPLE + [[1, 9, 400, 50, 40, 80, 0, 1]], PEOPLE, None, {"MOTA": 100}),
        # A car (class 2 -> column 3) counts like a person when evaluating class-agnostic...
        (PEOPLE + CAR, PEOPLE, None, {"MOTA": 200 / 3}),  # 4 of 12 boxes missed
        # ...and is left out when only class 0 is evaluated.
        (PEOPLE + CAR, PEOPLE, [0], {"MOTA": 100}),
    ],
)
def test_evaluate_tracking(tmp_path, gt_rows, result_rows, classes, expected):
    make_seq(tmp_path / "gt", "walk", gt_rows)
    write_mot(tmp_path / "res" / "walk.txt", records(result_rows))
    scores = evaluate_tracking(tmp_path / "gt", tmp_path / "res", classes=classes)
    assert list(scores) == ["walk", "COMBINED"]
    assert set(scores["walk"]) == set(METRICS)
    for metric, value in expected.items():
        assert scores["walk"][metric] == pytest.approx(value, abs=0.01), metric
        assert isinstance(scores["COMBINED"][metric], float)


def test_combined_over_sequences(tmp_path):
    make_seq(tmp_path / "gt", "a", PEOPLE)
    make_seq(tmp_path / "gt", "b", PEOPLE)
    write_mot(tmp_path / "res" / "a.txt", records(PEOPLE))
    write_mot(tmp_path / "res" / "b.txt", records([]))
    scores = evaluate_tracking(tmp_path / "gt", tmp_path / "res")
    assert scores["a"]["MOTA"] == pytest.approx(100) and scores["b"]["MOTA"] == pytest.approx(0)
    assert scores["COMBINED"]["MOTA"] == pytest.approx(50)
    only_a = evaluate_tracking(tmp_path / "gt", tmp_path / "res", sequences=["a"])
    assert list(only_a) == ["a", "COMBINED"]


def test_gt_of_mot15_scores_itself_perfectly(tmp_path, test_data):
    src = test_data / "mot15" / "TUD-Campus"
    shutil.copy(src / "gt" / "gt.txt", tmp_path / "TUD-Campus.txt")
    scores = evaluate_tracking(test_data / "mot15", tmp_path, sequences=["TUD-Campus"])
    assert scores["TUD-Campus"]["HOTA"] == pytest.approx(100)
    assert scores["COMBINED"]["IDF1"] == pytest.approx(100)


@pytest.mark.parametrize(
    "setup, error",
    [
        ("no_results", "no results for sequence walk"),
        ("no_sequences", "no sequences with gt/gt.txt"),
        ("beyond_length", "beyond seqLength=4"),
        ("unknown_sequence", "no ground truth"),
        ("duplicate_id", "TrackEval rejected the input"),
    ],
)
def test_evaluate_tracking_errors(tmp_path, setup, error):
    (tmp_path / "gt").mkdir()
    (tmp_path / "res").mkdir()
    sequences = None
    if setup != "no_sequences":
        make_seq(tmp_path / "gt", "walk", PEOPLE)
    if setup == "beyond_length":
        write_mot(tmp_path / "res" / "walk.txt", records(PEOPLE + [[9, 1, 0, 0, 5, 5, 1, -1]]))
    if setup == "duplicate_id":
        write_mot(tmp_path / "res" / "walk.txt", records(PEOPLE + [[1, 1, 300, 50, 40, 80, 1, -1]]))
    if setup == "unknown_sequence":
        sequences = ["nowhere"]
    with pytest.raises(ValueError, match=error):
        evaluate_tracking(tmp_path / "gt", tmp_path / "res", sequences=sequences)


class Recorder:
    """A stand-in tracker that records what it was fed and echoes detections as tracks."""

    def __init__(self):
        self.calls = []

    def update(self, detections, *, timestamp=None):
        self.calls.append((len(detections), timestamp))
        n = len(detections)
        return Tracks(xyxy=detections.xyxy, score=detections.score, class_id=detections.class_id,
                      track_id=np.arange(1, n + 1), velocity=np.zeros((n, 2)))


@pytest.mark.parametrize(
    "det_frames, length, expected_counts",
    [
        ([2, 3, 3], 5, [0, 1, 2, 0, 0]),
        ([], 3, [0, 0, 0]),
        ([1], 0, [1]),  # seqLength 0 (unknown) still covers the last detection frame
    ],
)
def test_track_sequence_feeds_every_frame(tmp_path, det_frames, length, expected_counts):
    seq = tmp_path / "seq"
    seq.mkdir()
    write_seqinfo(seq, SeqInfo(name="seq", frame_rate=20, seq_length=length, width=64, height=48))
    write_mot(seq / "det" / "det.txt", records([[f, -1, 1, 2, 3, 4, 0.9, -1] for f in det_frames]))
    rec = Recorder()
    out, stats = track_sequence(seq, rec)
    assert [c for c, _ in rec.calls] == expected_counts
    assert [t for _, t in rec.calls] == pytest.approx([i / 20 for i in range(len(expected_counts))])
    assert isinstance(stats, TrackingStats) and stats.frames == len(expected_counts)
    assert stats.update_seconds > 0 and stats.as_dict()["update_hz"] == pytest.approx(stats.update_hz)
    assert sorted(out.frame.tolist()) == sorted(det_frames)
    write_mot(tmp_path / "out.txt", out)
    assert len(read_mot(tmp_path / "out.txt")) == len(det_frames)


def test_track_sequence_without_detections_file(tmp_path):
    write_seqinfo(tmp_path, SeqInfo(name="x", frame_rate=10, seq_length=3, width=64, height=48))
    with pytest.raises(ValueError, match="no detections file"):
        track_sequence(tmp_path, Recorder())
