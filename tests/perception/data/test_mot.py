"""MOTChallenge text files and seqinfo.ini on the MOT15 copies in tests/data."""

from __future__ import annotations

import numpy as np
import pytest

from perception.data.mot import MotRecords, SeqInfo, read_mot, read_seqinfo, write_mot, write_seqinfo
from perception.types import Tracks

SEQS = ["TUD-Campus", "TUD-Stadtmitte", "KITTI-17"]


@pytest.mark.parametrize("seq", SEQS)
@pytest.mark.parametrize("kind", ["gt/gt.txt", "det/det.txt"])
def test_round_trip_gives_identical_arrays(test_data, tmp_path, seq, kind):
    rec = read_mot(test_data / "mot15" / seq / kind)
    assert len(rec) > 0
    write_mot(tmp_path / "out.txt", rec)
    again = read_mot(tmp_path / "out.txt")
    order = np.lexsort((rec.track_id, rec.frame))  # write_mot sorts by frame, then id
    for name in ("frame", "track_id", "xywh", "conf", "extra"):
        np.testing.assert_array_equal(getattr(again, name), getattr(rec, name)[order], err_msg=name)


@pytest.mark.parametrize(
    "seq, rows, frames, first",
    [
        ("TUD-Campus", 359, 71, "1,1,399,182,121,229,1,-1,-1,-1"),
        ("KITTI-17", 782, 145, "1,1,466,139,91,193.68,1,-1,-1,-1"),
    ],
)
def test_read_gt_values(test_data, seq, rows, frames, first):
    rec = read_mot(test_data / "mot15" / seq / "gt" / "gt.txt")
    assert len(rec) == rows and rec.frame.max() == frames
    cells = [float(c) for c in first.split(",")]
    assert rec.frame[0] == cells[0] and rec.track_id[0] == cells[1]
    np.testing.assert_array_equal(rec.xywh[0], cells[2:6])


def test_mot15_world_coordinates_are_not_classes(test_data):
    # TUD-Stadtmitte's gt carries world x/y/z in columns 8-10; they must not become class ids.
    rec = read_mot(test_data / "mot15" / "TUD-Stadtmitte" / "gt" / "gt.txt")
    assert rec.extra[:, 0].max() > 1
    assert rec.class_ids().tolist() == [0] * len(rec)


@pytest.mark.parametrize(
    "c7, expect",
    [
        ([-1, -1], [0, 0]),
        ([1, 3], [0, 2]),
        ([], []),
        ([1, 2.5], [0, 0]),  # any fraction: world coordinates
    ],
)
def test_class_ids(c7, expect):
    n = len(c7)
    extra = np.column_stack([np.asarray(c7, float).reshape(n), np.full((n, 2), -1.0)]) if n else np.zeros((0, 3))
    rec = MotRecords(np.ones(n, np.int64), np.arange(n), np.ones((n, 4)), np.ones(n), extra)
    assert rec.class_ids().tolist() == expect


def test_detections_and_tracks_by_frame(test_data):
    rec = read_mot(test_data / "mot15" / "TUD-Campus" / "gt" / "gt.txt")
    dets, tracks = rec.detections_by_frame(), rec.tracks_by_frame()
    assert sorted(dets) == sorted(set(rec.frame.tolist())) == sorted(tracks)
    assert sum(len(d) for d in dets.values()) == len(rec)
    first = rec.frame == 1
    np.testing.assert_allclose(dets[1].xyxy[:, 2:], rec.xywh[first, :2] + rec.xywh[first, 2:], rtol=1e-6)
    assert sorted(tracks[1].track_id.tolist()) == sorted(rec.track_id[first].tolist())


@pytest.mark.parametrize("by_frame, rows", [({}, 0), ({3: Tracks.empty()}, 0)])
def test_from_tracks_empty(tmp_path, by_frame, rows):
    rec = MotRecords.from_tracks(by_frame)
    assert len(rec) == rows
    write_mot(tmp_path / "r.txt", rec)
    assert (tmp_path / "r.txt").read_text() == ""
    assert len(read_mot(tmp_path / "r.txt")) == 0


def test_from_tracks_writes_results_rows(tmp_path):
    t = Tracks(
        xyxy=[[10, 20, 40, 80]], score=[0.5], class_id=[0], track_id=[4], velocity=[[0, 0]]
    )
    write_mot(tmp_path / "r.txt", MotRecords.from_tracks({2: t, 1: Tracks.empty()}))
    assert (tmp_path / "r.txt").read_text() == "2,4,10,20,30,60,0.5,-1,-1,-1\n"


@pytest.mark.parametrize(
    "text, where",
    [
        ("1,1,1,1,1\n", r"x.txt:1: expected 6 to 10 comma-separated values, got 5"),
        ("1,1,1,1,1,1,1,1,1,1,1\n", r"x.txt:1: expected 6 to 10 comma-separated values, got 11"),
        ("1,1,1,1,1,1\n\n1,1,a,1,1,1\n", r"x.txt:3: non-numeric value in '1,1,a,1,1,1'"),
        ("1,1,1,1,1,1\n1,1,nan,1,1,1\n", r"x.txt:2: non-finite value"),
        ("0,1,1,1,1,1\n", r"x.txt:1: frame numbers start at 1"),
        ("1.5,1,1,1,1,1\n", r"x.txt:1: frame and id must be integers"),
        ("1,1,1,1,-2,1\n", r"x.txt:1: negative box size"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, text, where):
    (tmp_path / "x.txt").write_text(text)
    with pytest.raises(ValueError, match=where):
        read_mot(tmp_path / "x.txt")


@pytest.mark.parametrize("text, rows", [("", 0), ("\n\n", 0), ("1,-1,1,2,3,4\n", 1)])
def test_short_and_empty_files(tmp_path, text, rows):
    (tmp_path / "x.txt").write_text(text)
    rec = read_mot(tmp_path / "x.txt")
    assert len(rec) == rows
    if rows:
        assert rec.conf.tolist() == [-1.0] and rec.extra.tolist() == [[-1.0, -1.0, -1.0]]


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="nope.txt: file not found"):
        read_mot(tmp_path / "nope.txt")


@pytest.mark.parametrize("seq, rate, length, size", [("TUD-Campus", 25, 71, (640, 480)), ("KITTI-17", 10, 145, (1224, 370))])
def test_seqinfo_round_trip(test_data, tmp_path, seq, rate, length, size):
    info = read_seqinfo(test_data / "mot15" / seq)  # the folder or the file
    assert info == read_seqinfo(test_data / "mot15" / seq / "seqinfo.ini")
    assert (info.name, info.frame_rate, info.seq_length, (info.width, info.height)) == (seq, rate, length, size)
    write_seqinfo(tmp_path / "seqinfo.ini", info)
    assert read_seqinfo(tmp_path) == info


def test_seqinfo_fractional_rate_round_trip(tmp_path):
    info = SeqInfo("s", 29.97, 3, 10, 10, im_ext=".png")
    write_seqinfo(tmp_path / "seqinfo.ini", info)
    assert read_seqinfo(tmp_path) == info


@pytest.mark.parametrize(
    "text, error",
    [
        ("[Sequence]\nname=s\nframeRate=10\nseqLength=3\nimWidth=10\n", "malformed seqinfo.ini.*imHeight"),
        ("[Other]\nname=s\n", "malformed seqinfo.ini"),
        ("[Sequence]\nname=s\nframeRate=fast\nseqLength=3\nimWidth=10\nimHeight=10\n", "malformed"),
        ("[Sequence]\nname=s\nframeRate=0\nseqLength=3\nimWidth=10\nimHeight=10\n", "frameRate must be finite and > 0, got 0"),
        ("[Sequence]\nname=s\nframeRate=nan\nseqLength=3\nimWidth=10\nimHeight=10\n", "frameRate must be finite"),
        ("[Sequence]\nname=s\nframeRate=10\nseqLength=-1\nimWidth=10\nimHeight=10\n", "seqLength must be >= 0, got -1"),
        ("[Sequence]\nname=s\nframeRate=10\nseqLength=3\nimWidth=0\nimHeight=10\n", "imWidth/imHeight must be > 0, got 0x10"),
        ("no section header\n", "malformed"),
    ],
)
def test_malformed_seqinfo(tmp_path, text, error):
    (tmp_path / "seqinfo.ini").write_text(text)
    with pytest.raises(ValueError, match=error):
        read_seqinfo(tmp_path)


def test_missing_seqinfo(tmp_path):
    with pytest.raises(ValueError, match="no seqinfo.ini"):
        read_seqinfo(tmp_path)
