"""Tracker configs validate themselves; make_tracker applies overrides and rejects unknowns."""

from __future__ import annotations

import pytest

from perception.config import as_dict
from perception.types import Detections
from perception.tracking import (
    DEFAULT_TRACKER,
    TRACKERS,
    ByteTrackConfig,
    ByteTrackTracker,
    SortConfig,
    SortTracker,
    make_tracker,
)


@pytest.mark.parametrize(
    "config_cls, values, error",
    [
        (ByteTrackConfig, {}, None),
        (SortConfig, {}, None),
        (ByteTrackConfig, {"detection_threshold": 1.5}, "detection_threshold must be in \\[0, 1\\], got 1.5"),
        (ByteTrackConfig, {"low_detection_threshold": -0.1}, "low_detection_threshold"),
        (ByteTrackConfig, {"low_detection_threshold": 0.7, "detection_threshold": 0.6}, "must be <="),
        (ByteTrackConfig, {"minimum_matching_threshold": 0.0}, "matching_threshold must be in \\(0, 1"),
        (ByteTrackConfig, {"low_matching_threshold": 2}, "low_matching_threshold"),
        (ByteTrackConfig, {"lost_track_buffer": -1}, "lost_track_buffer must be an integer >= 0, got -1"),
        (ByteTrackConfig, {"lost_track_buffer": 2.5}, "lost_track_buffer"),
        (ByteTrackConfig, {"minimum_consecutive_frames": 0}, "minimum_consecutive_frames"),
        (ByteTrackConfig, {"frame_rate": 0}, "frame_rate must be a finite number > 0, got 0"),
        (ByteTrackConfig, {"frame_rate": float("inf")}, "frame_rate"),
        (ByteTrackConfig, {"measurement_noise": -1.0}, "measurement_noise"),
        (SortConfig, {"detection_threshold": "high"}, "detection_threshold"),
        (SortConfig, {"minimum_consecutive_frames": True}, "minimum_consecutive_frames"),
        (SortConfig, {"velocity_noise": 0}, "velocity_noise"),
        (SortConfig, {"lost_track_buffer": 0}, None),
    ],
)
def test_config_validation(config_cls, values, error):
    if error is None:
        config = config_cls(**values)
        assert as_dict(config)  # plain data for params.yaml / MLflow
    else:
        with pytest.raises(ValueError, match=error):
            config_cls(**values)


@pytest.mark.parametrize(
    "name, overrides, expected_cls, error",
    [
        ("bytetrack", {}, ByteTrackTracker, None),
        ("sort", {"lost_track_buffer": 3}, SortTracker, None),
        ("sort", {"low_detection_threshold": 0.1}, None, "unknown SortConfig key"),
        ("deepsort", {}, None, "unknown tracker 'deepsort'"),
        ("bytetrack", {"frame_rate": -5}, None, "frame_rate"),
    ],
)
def test_make_tracker(name, overrides, expected_cls, error):
    if error:
        with pytest.raises(ValueError, match=error):
            make_tracker(name, **overrides)
        return
    trk = make_tracker(name, **overrides)
    assert type(trk) is expected_cls
    for key, value in overrides.items():
        assert getattr(trk.config, key) == value


def test_default_tracker_is_registered():
    assert DEFAULT_TRACKER in TRACKERS
    assert isinstance(make_tracker(), TRACKERS[DEFAULT_TRACKER][0])


@pytest.mark.parametrize("config_cls", [ByteTrackConfig, SortConfig])
def test_every_field_documents_its_trade_off(config_cls):
    import ast
    import inspect

    documented = set()
    for cls in config_cls.__mro__[:-1]:  # the config and the shared MotionConfig, not object
        body = ast.parse(inspect.getsource(cls)).body[0].body
        documented |= {
            node.target.id
            for node, after in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
        }
    fields = set(as_dict(config_cls()))
    assert documented == fields


@pytest.mark.parametrize(
    "values, expected_cls, error",
    [
        (None, TRACKERS[DEFAULT_TRACKER][0], None),
        ({"name": "sort", "lost_track_buffer": 4}, SortTracker, None),
        ({"lost_track_buffer": 4}, TRACKERS[DEFAULT_TRACKER][0], None),
        ({"name": "sort", "low_matching_threshold": 0.5}, None, "unknown SortConfig key"),
        ({"name": "nope"}, None, "unknown tracker"),
    ],
)
def test_tracker_from_params(values, expected_cls, error):
    from perception.tracking import tracker_from_params

    if error:
        with pytest.raises(ValueError, match=error):
            tracker_from_params(values)
    else:
        assert type(tracker_from_params(values)) is expected_cls


def test_params_yaml_tracker_key_is_a_valid_config_for_our_detector():
    """params.yaml tunes the tracker for our detector's scores (its floor is the detector's
    score_threshold); the dataclass defaults stay the MOT15-tuned set the benchmark uses."""
    from pathlib import Path

    from perception.config import load_params

    from perception.tracking import tracker_from_params

    params = load_params(Path(__file__).parents[3] / "params.yaml")
    tracker = tracker_from_params(params["tracker"])
    assert params["tracker"]["name"] == DEFAULT_TRACKER
    assert tracker.config.low_detection_threshold >= params["detector"]["score_threshold"]
    assert tracker.config.track_activation_threshold < type(tracker.config)().track_activation_threshold


@pytest.mark.parametrize(
    "build, error",
    [
        (lambda: ByteTrackTracker(config=ByteTrackConfig(lost_track_buffer=7)), None),
        (lambda: SortTracker(), None),
        (lambda: ByteTrackTracker(ByteTrackConfig()), TypeError),  # config is keyword-only
    ],
)
def test_direct_construction(build, error):
    if error:
        with pytest.raises(error):
            build()
    else:
        assert len(build().update(Detections.empty())) == 0
