"""Detections / Tracks / Frame: validation at construction, immutability, select()."""

from __future__ import annotations

import numpy as np
import pytest

from perception.types import Detections, Frame, Tracks

BOX = [[0.0, 0.0, 10.0, 20.0]]


def det(**kw):
    args = {"xyxy": BOX, "score": [0.9], "class_id": [0]}
    args.update(kw)
    return Detections(**args)


def trk(**kw):
    args = {"xyxy": BOX, "score": [0.9], "class_id": [0], "track_id": [7], "velocity": [[1.0, -1.0]]}
    args.update(kw)
    return Tracks(**args)


@pytest.mark.parametrize(
    "kw, n, error",
    [
        ({}, 1, None),
        ({"xyxy": np.zeros((0, 4)), "score": [], "class_id": []}, 0, None),
        ({"xyxy": [], "score": [], "class_id": []}, 0, None),
        ({"xyxy": [[5, 5, 5, 5]]}, 1, None),  # zero-size box is allowed
        ({"class_id": [2.0]}, 1, None),  # integral floats are fine
        ({"xyxy": [[0, 0, 10]]}, None, r"xyxy must have shape \(N, 4\), got \(1, 3\)"),
        ({"xyxy": [0, 0, 10, 20]}, None, r"xyxy must have shape \(N, 4\), got \(4,\)"),
        ({"xyxy": [[0, 0, 1], [0, 0, 1, 1]]}, None, "xyxy must be convertible"),
        ({"xyxy": [[np.nan, 0, 10, 20]]}, None, "xyxy must be finite, got nan"),
        ({"xyxy": [[0, 0, np.inf, 20]]}, None, "xyxy must be finite, got inf"),
        ({"xyxy": [[11, 0, 10, 20]]}, None, r"xyxy row 0 has x1>x2 or y1>y2: \[11.0, 0.0, 10.0, 20.0\]"),
        ({"xyxy": [[0, 21, 10, 20]]}, None, "xyxy row 0 has x1>x2 or y1>y2"),
        ({"score": [0.9, 0.8]}, None, "score has 2 rows but xyxy has 1"),
        ({"score": []}, None, "score has 0 rows but xyxy has 1"),
        ({"score": [np.nan]}, None, "score must be finite, got nan"),
        ({"score": [[0.9]]}, None, r"score must have shape \(N\), got \(1, 1\)"),
        ({"score": ["high"]}, None, "score must be convertible to float32, got \\['high'\\]"),
        ({"class_id": [0, 1]}, None, "class_id has 2 rows but xyxy has 1"),
        ({"class_id": [-1]}, None, "class_id must be >= 0, got -1"),
        ({"class_id": [1.5]}, None, "class_id must hold integers, got 1.5"),
        ({"class_id": [np.nan]}, None, "class_id must hold integers, got nan"),
    ],
)
def test_detections_validation(kw, n, error):
    if error:
        with pytest.raises(ValueError, match=error):
            det(**kw)
    else:
        d = det(**kw)
        assert len(d) == n
        assert d.xyxy.dtype == np.float32 and d.xyxy.shape == (n, 4)
        assert d.score.dtype == np.float32 and d.class_id.dtype == np.int64


def test_detections_copy_inputs_and_are_read_only():
    xyxy = np.array(BOX)
    d = det(xyxy=xyxy)
    xyxy[0, 0] = 5.0  # the caller's array changes ...
    assert d.xyxy[0, 0] == 0.0  # ... the object does not
    for name in ("xyxy", "score", "class_id"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(d, name)[0] = 1
    with pytest.raises(AttributeError):
        d.score = np.zeros(1)


@pytest.mark.parametrize(
    "index, expect_rows",
    [
        (np.array([True, False, True]), [0, 2]),
        (np.array([2, 0]), [2, 0]),
        (np.array([False, False, False]), []),
        (np.array([], dtype=np.int64), []),
    ],
)
def test_select_returns_new_object(index, expect_rows):
    d = Detections(xyxy=np.arange(12).reshape(3, 4) * [1, 1, 2, 2], score=[0.1, 0.2, 0.3], class_id=[0, 1, 2])
    s = d.select(index)
    assert s is not d and isinstance(s, Detections)
    assert s.class_id.tolist() == expect_rows
    assert len(d) == 3  # the original is untouched
    assert not s.xyxy.flags.writeable


def test_tracks_select_keeps_optional_fields():
    t = trk(
        xyxy=[[0, 0, 1, 1], [0, 0, 2, 2]],
        score=[1, 1],
        class_id=[0, 1],
        track_id=[1, 2],
        velocity=[[0, 0], [1, 1]],
        range_m=[np.nan, 12.5],
    )
    s = t.select(np.array([1]))
    assert isinstance(s, Tracks)
    assert s.track_id.tolist() == [2] and s.range_m.tolist() == [12.5] and s.ttc_s is None
    assert np.isnan(t.range_m[0])


@pytest.mark.parametrize(
    "kw, error",
    [
        ({}, None),
        ({"range_m": [np.nan], "ttc_s": [np.nan]}, None),  # NaN = unknown: allowed here only
        ({"range_m": [3.0], "ttc_s": [1.5]}, None),
        ({"range_m": [np.inf]}, "range_m must be finite, got inf"),
        ({"ttc_s": [-np.inf]}, "ttc_s must be finite, got -inf"),
        ({"range_m": [1.0, 2.0]}, "range_m has 2 rows but xyxy has 1"),
        ({"velocity": [[np.nan, 0.0]]}, "velocity must be finite, got nan"),
        ({"velocity": [[1.0]]}, r"velocity must have shape \(N, 2\), got \(1, 1\)"),
        ({"velocity": []}, "velocity has 0 rows but xyxy has 1"),
        ({"track_id": [1, 2]}, "track_id has 2 rows but xyxy has 1"),
        ({"track_id": [1.25]}, "track_id must hold integers, got 1.25"),
        ({"xyxy": [[np.nan, 0, 1, 1]]}, "xyxy must be finite, got nan"),  # NaN not allowed in boxes
    ],
)
def test_tracks_validation(kw, error):
    if error:
        with pytest.raises(ValueError, match=error):
            trk(**kw)
    else:
        t = trk(**kw)
        assert t.track_id.dtype == np.int64 and t.velocity.dtype == np.float32
        for name in ("range_m", "ttc_s"):
            if name in kw:
                np.testing.assert_array_equal(getattr(t, name), np.asarray(kw[name], np.float32))


@pytest.mark.parametrize("cls", [Detections, Tracks])
def test_empty(cls):
    e = cls.empty()
    assert len(e) == 0 and e.xyxy.shape == (0, 4) and isinstance(e, cls)
    assert len(e.select(np.zeros(0, bool))) == 0


IMG = np.zeros((4, 6, 3), np.uint8)


@pytest.mark.parametrize(
    "kw, error",
    [
        ({}, None),
        ({"index": np.int64(3), "timestamp": np.float32(1.5)}, None),
        ({"index": 2.0}, None),
        ({"image": np.zeros((4, 6), np.uint8)}, r"image must have shape \(H, W, 3\) with H, W > 0, got \(4, 6\)"),
        ({"image": np.zeros((4, 6, 4), np.uint8)}, r"got \(4, 6, 4\)"),
        ({"image": np.zeros((0, 6, 3), np.uint8)}, r"got \(0, 6, 3\)"),
        ({"image": np.zeros((4, 6, 3), np.float32)}, "image must be uint8, got float32"),
        ({"image": [[[0, 0, 0]]]}, "image must be a numpy array, got list"),
        ({"stream_id": ""}, "stream_id must be a non-empty string, got ''"),
        ({"stream_id": 3}, "stream_id must be a non-empty string, got 3"),
        ({"index": -1}, "index must be a non-negative integer, got -1"),
        ({"index": 1.5}, "index must be a non-negative integer, got 1.5"),
        ({"index": None}, "index must be a non-negative integer, got None"),
        ({"index": float("nan")}, "index must be a non-negative integer, got nan"),
        ({"index": True}, "index must be a non-negative integer, got True"),
        ({"timestamp": float("inf")}, "timestamp must be a finite number of seconds, got inf"),
        ({"timestamp": None}, "timestamp must be a finite number of seconds, got None"),
        ({"timestamp": "now"}, "timestamp must be a finite number of seconds, got 'now'"),
    ],
)
def test_frame_validation(kw, error):
    args = {"image": IMG, "stream_id": "cam0", "index": 0, "timestamp": 0.0}
    args.update(kw)
    if error:
        with pytest.raises(ValueError, match=error):
            Frame(**args)
    else:
        f = Frame(**args)
        assert type(f.index) is int and type(f.timestamp) is float
        assert (f.height, f.width) == (4, 6)


def test_frame_image_is_read_only_view_and_input_untouched():
    image = np.zeros((2, 3, 3), np.uint8)
    f = Frame(image=image, stream_id="a", index=0, timestamp=0.0)
    assert image.flags.writeable  # the caller's array keeps its flags
    with pytest.raises(ValueError, match="read-only"):
        f.image[0, 0, 0] = 1
    assert np.shares_memory(f.image, image)  # no copy per frame
