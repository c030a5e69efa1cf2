"""Accuracy regression: the default tracker on three MOT15 sequences must not fall below the baseline.

The baseline (tests/data/tracking_baseline.json) holds HOTA/MOTA/IDF1 per sequence for
``DEFAULT_TRACKER`` with its default config. After a deliberate improvement, regenerate it with
``PERCEPT_WRITE_TRACKING_BASELINE=1 pytest tests/perception/tracking/test_tracking_accuracy.py``.
"""

from __future__ import annotations

import json
import os

import pytest

from perception.data.mot import read_seqinfo, write_mot
from perception.eval.tracking import evaluate_tracking, track_sequence
from perception.tracking import DEFAULT_TRACKER, make_tracker

SEQUENCES = ["KITTI-17", "TUD-Campus", "TUD-Stadtmitte"]
TOLERANCE = 1.0  # points a metric may drop before the test fails


@pytest.fixture(scope="module")
def scores(test_data, tmp_path_factory):
    root = test_data / "mot15"
    out = tmp_path_factory.mktemp("tracking-results")
    for seq in SEQUENCES:
        trk = make_tracker(DEFAULT_TRACKER, frame_rate=read_seqinfo(root / seq).frame_rate)
        records, _ = track_sequence(root / seq, trk)
        write_mot(out / f"{seq}.txt", records)
    result = evaluate_tracking(root, out, sequences=SEQUENCES)
    path = test_data / "tracking_baseline.json"
    if os.environ.get("PERCEPT_WRITE_TRACKING_BASELINE"):
        per_seq = {s: {m: round(result[s][m], 2) for m in ("HOTA", "MOTA", "IDF1")} for s in SEQUENCES}
        baseline = {"tracker": DEFAULT_TRACKER, "sequences": per_seq}
        path.write_text(json.dumps(baseline, indent=2) + "\n")
    return result, json.loads(path.read_text())


@pytest.mark.parametrize("seq", SEQUENCES)
@pytest.mark.parametrize("metric", ["HOTA", "MOTA", "IDF1"])
def test_not_below_baseline(scores, seq, metric):
    result, baseline = scores
    assert baseline["tracker"] == DEFAULT_TRACKER
    assert result[seq][metric] >= baseline["sequences"][seq][metric] - TOLERANCE
