"""perception.geometry: camera model, ground projection round trips, range, closing speed and TTC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perception.data.synthetic import SceneConfig, render_scene
from perception.geometry import (
    CameraModel,
    closing_speed_and_ttc,
    closing_speed_and_ttc_many,
    ground_points,
    ground_range,
    project_ground_points,
)

CAM = CameraModel.default()


@pytest.mark.parametrize(
    "pitch, xs, zs",
    [
        (0.0, [0.0, 3.5, -2.0], [10.0, 20.0, 50.0]),
        (0.04, [0.0, 3.5, -2.0, 1.0], [10.0, 20.0, 50.0, 5.0]),
        (-0.05, [0.5, -7.0], [8.0, 80.0]),
        (0.2, [0.0, 1.0], [3.0, 15.0]),
        (0.04, [], []),
    ],
)
def test_project_then_range_round_trips(pitch: float, xs: list[float], zs: list[float]) -> None:
    cam = CameraModel(fx=500, fy=480, cx=320, cy=190, height_m=1.4, pitch_rad=pitch)
    uv = project_ground_points(np.array(xs), np.array(zs), cam)
    assert uv.shape == (len(xs), 2)
    np.testing.assert_allclose(ground_points(uv, cam), np.column_stack([xs, zs]).reshape(-1, 2), atol=1e-9)
    boxes = np.column_stack([uv[:, 0] - 5, uv[:, 1] - 30, uv[:, 0] + 5, uv[:, 1]]).reshape(-1, 4)
    got = ground_range(boxes, cam)
    assert got.dtype == np.float32 and got.shape == (len(xs),)
    np.testing.assert_allclose(got, np.hypot(xs, zs), rtol=1e-5)


@pytest.mark.parametrize(
    "bottom_v, finite",
    [(CAM.horizon_v - 10, False), (CAM.horizon_v, False), (CAM.horizon_v + 0.5, True), (CAM.height, True)],
)
def test_range_is_nan_at_or_above_the_horizon(bottom_v: float, finite: bool) -> None:
    r = ground_range(np.array([[300.0, bottom_v - 20, 340.0, bottom_v]]), CAM)
    assert bool(np.isfinite(r[0])) is finite
    if finite:
        assert r[0] > 0


def test_points_above_the_camera_project_higher_and_behind_is_nan() -> None:
    uv = project_ground_points(np.array([0.0, 0.0, 0.0]), np.array([10.0, 10.0, -5.0]), CAM,
                               up_m=np.array([0.0, 1.5, 0.0]))
    assert uv[1, 1] < uv[0, 1]
    assert np.isnan(uv[2]).all()


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"fx": 0}, "fx"),
        ({"fy": -1.0}, "fy"),
        ({"height_m": 0.0}, "height_m"),
        ({"pitch_rad": 1.0}, "pitch_rad"),
        ({"cx": float("nan")}, "cx"),
        ({"width": 0}, "width"),
        ({"height": 10.5}, "height"),
        ({"fx": "500"}, "fx"),
    ],
)
def test_bad_camera_raises(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CameraModel(**{**CAM.to_dict(), **changes})


@pytest.mark.parametrize(
    "data, error",
    [
        (CAM.to_dict(), None),
        ({k: v for k, v in CAM.to_dict().items() if k not in ("pitch_rad", "width", "height")}, None),
        ({**CAM.to_dict(), "focal": 3.0}, "unknown camera key"),
        ({k: v for k, v in CAM.to_dict().items() if k != "fx"}, "missing"),
    ],
)
def test_camera_dict_round_trip(data: dict, error: str | None) -> None:
    if error:
        with pytest.raises(ValueError, match=error):
            CameraModel.from_dict(data)
        return
    cam = CameraModel.from_dict(data)
    assert CameraModel.from_dict(cam.to_dict()) == cam
    assert cam.fx == pytest.approx(CAM.fx)


def test_default_camera_is_a_plausible_dash_cam() -> None:
    cam = CameraModel.default(width=1280, height=720)
    hfov = math.degrees(2 * math.atan(cam.width / 2 / cam.fx))
    assert 60 <= hfov <= 70 and 1.4 <= cam.height_m <= 1.6
    assert (cam.cx, cam.cy) == (640, 360)


@pytest.mark.parametrize(
    "times, ranges, speed, ttc",
    [
        (np.arange(10) * 0.1, 30.0 - 5.0 * np.arange(10) * 0.1, 5.0, 25.5 / 5.0),  # constant approach
        (np.arange(5) * 0.1, 20.0 - 10.0 * np.arange(5) * 0.1, 10.0, 1.6),
        (np.arange(10) * 0.1, 30.0 + 5.0 * np.arange(10) * 0.1, -5.0, math.nan),  # receding
        (np.arange(6) * 0.1, np.full(6, 12.0), 0.0, math.nan),  # keeping distance
        ([0.0], [20.0], math.nan, math.nan),  # too short
        ([], [], math.nan, math.nan),  # empty
        ([0.0, 0.1, 0.2], [20.0, math.nan, math.nan], math.nan, math.nan),  # one valid point
    ],
)
def test_closing_speed_and_ttc(times, ranges, speed: float, ttc: float) -> None:
    got_speed, got_ttc = closing_speed_and_ttc(np.asarray(times, float), np.asarray(ranges, float))
    np.testing.assert_allclose([got_speed, got_ttc], [speed, ttc], rtol=1e-9, atol=1e-9, equal_nan=True)


def test_ttc_shrugs_off_one_outlier_and_uses_only_the_window() -> None:
    t = np.arange(30) * 0.1
    r = 40.0 - 4.0 * t
    r[-3] = 5.0  # one bad box
    r[:15] = 100.0  # old history outside the window must not count
    speed, ttc = closing_speed_and_ttc(t, r, window=10)
    assert speed == pytest.approx(4.0)
    assert ttc == pytest.approx((40.0 - 4.0 * t[-1]) / 4.0)


def test_many_tracks_match_one_at_a_time_with_nan_padding() -> None:
    t = np.tile(np.arange(8) * 0.1, (3, 1))
    r = np.stack([30 - 6 * t[0], 10 + 2 * t[1], 25 - 3 * t[2]])
    r[2, :6] = np.nan  # a young track: two points
    speeds, ttcs = closing_speed_and_ttc_many(t, r)
    for i in range(3):
        s, c = closing_speed_and_ttc(t[i], r[i])
        np.testing.assert_allclose([speeds[i], ttcs[i]], [s, c], equal_nan=True)
    assert speeds[2] == pytest.approx(3.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"times_s": np.zeros((2, 3)), "ranges_m": np.zeros((2, 4))}, "N, K"),
        ({"times_s": np.zeros(3), "ranges_m": np.zeros(3)}, "N, K"),
        ({"times_s": np.zeros((1, 3)), "ranges_m": np.zeros((1, 3)), "window": 1}, "window"),
        ({"times_s": np.zeros((1, 3)), "ranges_m": np.zeros((1, 3)), "min_closing_mps": -1.0}, "min_closing"),
    ],
)
def test_ttc_bad_input_raises(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        closing_speed_and_ttc_many(**kwargs)


def test_range_from_synthetic_boxes_within_ten_percent() -> None:
    """The estimator against the renderer's true range (pitch wobble on, as in the datasets)."""
    errors = []
    for seed in (0, 1):
        for scene in render_scene(seed=seed, frames=40, config=SceneConfig(), camera=CAM):
            t = scene.tracks
            near = (t.range_m >= 10) & (t.range_m <= 50)
            est = ground_range(t.xyxy[near], CAM)
            errors.append(np.abs(est - t.range_m[near]) / t.range_m[near])
    errors = np.concatenate(errors)
    assert len(errors) >= 200
    assert np.median(errors) <= 0.10
