"""Bridge replay on a synthetic lead-brake scene with known range (GT boxes -> messages -> warnings)."""

from __future__ import annotations

import math

import pytest

from perception.data.synthetic import SceneConfig, write_sequence
from perception.geometry import CameraModel
from services.control_bridge.config import BridgeConfig
from services.control_bridge.replay import read_range_txt, score_sequence, true_ttc


@pytest.mark.parametrize(
    "times, ranges, expected",
    [
        ([], [], math.inf),
        ([0.0], [10.0], math.inf),
        ([0.0, 1.0], [10.0, 8.0], 4.0),
        ([0.0, 1.0], [8.0, 10.0], math.inf),
    ],
)
def test_true_ttc(times, ranges, expected):
    assert true_ttc(times, ranges) == pytest.approx(expected)


def test_lead_brake_is_warned(tmp_path):
    scene = SceneConfig(scenario="lead_brake")
    camera = CameraModel.default(scene.width, scene.height)
    write_sequence(tmp_path / "s", name="s", seed=0, frames=80, config=scene, camera=camera)
    assert read_range_txt(tmp_path / "s" / "gt" / "range.txt")
    score = score_sequence(tmp_path / "s", camera, BridgeConfig(), scenario="lead_brake", fps=scene.fps)
    assert score.frames == 80 and score.truth_frames > 0
    assert score.recall >= 0.8  # the braking lead is warned about on most frames where true TTC is short
    assert score.median_ttc_error_s < 1.5
