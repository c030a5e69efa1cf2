"""The bridge's state machine on hand-made message sequences (no server)."""

from __future__ import annotations

import numpy as np
import pytest

from perception.geometry import CameraModel, project_ground_points
from services.control_bridge.config import BridgeConfig
from services.control_bridge.decision import CollisionWarner
from services.control_bridge.lane import in_lane_ground, in_lane_image
from services.perception.messages import PerceptionMessage, TrackMessage

CAM = CameraModel.default(640, 384)


def box_at(x_m: float, z_m: float, w_m: float = 1.8, h_px: float = 40.0) -> tuple[float, float, float, float]:
    """A box whose bottom centre is the ground point (x_m, z_m) of CAM."""
    u, v = project_ground_points(np.array([x_m]), np.array([z_m]), CAM)[0]
    half = CAM.fx * w_m / 2 / z_m
    return (u - half, v - h_px, u + half, v)


def message(t: float, tracks: list[tuple[int, float, float, float | None]], i: int = 0) -> PerceptionMessage:
    """tracks: (track_id, lateral x_m, range z_m, ttc_s)."""
    items = [
        TrackMessage(track_id=tid, class_name="car", score=0.9, bbox_xyxy=box_at(x, z), velocity_px_s=(0, 0),
                     range_m=z, closing_speed_mps=None, ttc_s=ttc)
        for tid, x, z, ttc in tracks
    ]
    return PerceptionMessage(
        stream_id="s", frame_index=i, capture_ts=t, publish_ts=t, latency_ms=0, stale=False, dropped_frames=0,
        model_version=1, image_width=640, image_height=384, tracks=items,
    )


def replay(seq, config=None, camera=CAM):
    warner = CollisionWarner(config or BridgeConfig(min_hold_s=0.5), camera=camera)
    out = []
    for i, (t, tracks) in enumerate(seq):
        out += [(round(e.ts, 2), e.kind) for e in warner.update(message(t, tracks, i))]
    return out


@pytest.mark.parametrize(
    "name, seq, expected",
    [
        ("empty", [], []),
        ("nothing ahead", [(0.0, []), (0.1, [])], []),
        ("far and slow", [(0.0, [(1, 0.0, 40.0, 9.0)])], []),
        ("warn then clear after hold",
         [(0.0, [(1, 0, 20, 2.5)]), (0.1, [(1, 0, 20, 4.0)]), (0.6, [(1, 0, 20, 4.0)])],
         [(0.0, "warning_on"), (0.6, "warning_off")]),
        ("hysteresis: 3.0 s is between enter 2.7 and exit 3.5",
         [(0.0, [(1, 0, 20, 2.5)]), (1.0, [(1, 0, 20, 3.0)])],
         [(0.0, "warning_on")]),
        ("straight to brake", [(0.0, [(1, 0, 10, 1.0)])], [(0.0, "warning_on"), (0.0, "brake_on")]),
        ("brake releases to warning", [(0.0, [(1, 0, 10, 1.0)]), (1.0, [(1, 0, 10, 2.2)])],
         [(0.0, "warning_on"), (0.0, "brake_on"), (1.0, "brake_off")]),
        ("close range alone warns", [(0.0, [(1, 0, 5.0, None)])], [(0.0, "warning_on")]),
        ("next lane ignored", [(0.0, [(1, 3.5, 10, 1.0)])], []),
        ("nearest in-lane is the lead", [(0.0, [(1, 0, 30, 9.0), (2, 0.5, 12, 1.2), (3, -3.5, 8, 0.5)])],
         [(0.0, "warning_on"), (0.0, "brake_on")]),
        ("lead lost releases after hold", [(0.0, [(1, 0, 20, 2.0)]), (0.2, []), (0.7, [])],
         [(0.0, "warning_on"), (0.7, "warning_off")]),
    ],
)
def test_transitions(name, seq, expected):
    assert replay(seq) == expected


def test_uncalibrated_uses_image_corridor():
    seq = [(0.0, [(1, 0, 10, 1.0)])]
    assert replay(seq, camera=None) == [(0.0, "warning_on"), (0.0, "brake_on")]
    assert replay([(0.0, [(1, 3.5, 10, 1.0)])], camera=None) == []


@pytest.mark.parametrize(
    "values, error",
    [
        ({}, None),
        ({"warn_enter_ttc_s": 4.0}, "warn_exit_ttc_s"),
        ({"brake_enter_ttc_s": 3.0, "brake_exit_ttc_s": 3.0}, "brake_enter_ttc_s"),
        ({"min_hold_s": -1}, "min_hold_s"),
        ({"corridor_bottom_half_width": 0.9}, "corridor"),
    ],
)
def test_config_validation(values, error):
    if error is None:
        assert BridgeConfig(**values).warn_enter_ttc_s == 2.7
    else:
        with pytest.raises(ValueError, match=error):
            BridgeConfig(**values)


@pytest.mark.parametrize(
    "x_m, z_m, expected", [(0.0, 10.0, True), (1.5, 10.0, True), (2.5, 10.0, False), (-3.5, 30.0, False)]
)
def test_in_lane_ground(x_m, z_m, expected):
    assert in_lane_ground(np.array([box_at(x_m, z_m)]), CAM, 1.75).tolist() == [expected]


@pytest.mark.parametrize(
    "box, expected",
    [((300, 300, 340, 380), True), ((0, 300, 20, 380), False), ((300, 100, 340, 150), False)],
)
def test_in_lane_image(box, expected):
    got = in_lane_image(np.array([box], float), width=640, height=384, bottom_half_width=0.3, top=0.5)
    assert got.tolist() == [expected]
    empty = in_lane_image(np.zeros((0, 4)), width=640, height=384, bottom_half_width=0.3, top=0.5)
    assert empty.shape == (0,)
