"""perception.data.synthetic: determinism, layout, labels, scenarios, bad config."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from perception.config import override
from perception.data.dataset import read_dataset_yaml, validate_dataset
from perception.data.mot import read_mot, read_seqinfo
from perception.data.synthetic import (
    CLASSES,
    SceneConfig,
    dataset_splits,
    render_scene,
    render_sequence,
    write_dataset,
)
from perception.geometry import CameraModel, ground_points

EXACT = SceneConfig(pitch_jitter_rad=0.0)  # boxes agree with the camera model exactly


def _scenes(seed: int, frames: int, config: SceneConfig = SceneConfig()) -> list:
    return list(render_scene(seed=seed, frames=frames, config=config))


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    a = write_dataset(tmp_path / "a", sequences=2, frames=6, seed=7)
    b = write_dataset(tmp_path / "b", sequences=2, frames=6, seed=7)
    assert a == b
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    write_dataset(tmp_path / "c", sequences=2, frames=6, seed=8)
    assert _tree_digest(tmp_path / "a") != _tree_digest(tmp_path / "c")


def test_different_seeds_give_different_scenes() -> None:
    (a,), (b,) = _scenes(1, 1), _scenes(2, 1)
    assert not np.array_equal(a.frame.image, b.frame.image)


def test_dataset_layout_validates(tmp_path: Path) -> None:
    spec = write_dataset(tmp_path / "ds", sequences=3, frames=5, seed=0, name="demo", progress=True)
    assert validate_dataset(tmp_path / "ds") == read_dataset_yaml(tmp_path / "ds")
    assert spec.name == "demo" and spec.classes == CLASSES
    assert {k: len(v) for k, v in spec.splits.items()} == {"train": 1, "val": 1, "test": 1}
    assert spec.source["kind"] == "synthetic" and spec.source["seed"] == 0
    assert CameraModel.from_dict(spec.camera) == CameraModel.default()
    seq = tmp_path / "ds" / "seq-000"
    info = read_seqinfo(seq)
    assert (info.seq_length, info.width, info.height, info.frame_rate) == (5, 640, 384, 10)
    assert sorted(p.name for p in (seq / "img1").iterdir()) == [f"{i:06d}.jpg" for i in range(1, 6)]
    gt = read_mot(seq / "gt" / "gt.txt")
    rows = [line.split(",") for line in (seq / "gt" / "range.txt").read_text().splitlines()]
    assert len(rows) == len(gt) > 0
    assert [(int(r[0]), int(r[1])) for r in rows] == list(zip(gt.frame.tolist(), gt.track_id.tolist()))
    assert all(float(r[2]) > 0 for r in rows)
    assert set(gt.extra[:, 0].astype(int)) <= {1, 2, 3}
    assert ((gt.extra[:, 1] > 0) & (gt.extra[:, 1] <= 1)).all()


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, ([], [], [])),
        (1, ([0], [], [])),
        (2, ([0], [], [1])),
        (3, ([0], [1], [2])),
        (5, ([0, 1, 2], [3], [4])),
        (10, ([0, 1, 2, 3, 4, 5, 6], [7], [8, 9])),
    ],
)
def test_splits(n: int, expected: tuple) -> None:
    names = [f"s{i}" for i in range(n)]
    got = dataset_splits(names)
    assert (got["train"], got["val"], got["test"]) == tuple([names[i] for i in part] for part in expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sequences": 0}, "sequences"),
        ({"frames": 0}, "frames"),
        ({"seed": -1}, "seed"),
    ],
)
def test_write_dataset_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"sequences": 1, "frames": 2, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        write_dataset(tmp_path / "x", **args)


def test_write_dataset_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an empty folder"):
        write_dataset(tmp_path, sequences=1, frames=1, seed=0)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    write_dataset(tmp_path / "empty", sequences=1, frames=1, seed=0)  # an existing empty folder is fine


def test_labels_are_consistent_with_images_and_geometry() -> None:
    cam = CameraModel.default()
    scenes = _scenes(3, 30, EXACT)
    seen_classes = set()
    for i, s in enumerate(scenes):
        t = s.tracks
        assert s.frame.index == i and s.frame.timestamp == pytest.approx(i / 10)
        assert s.frame.image.shape == (384, 640, 3) and s.frame.image.dtype == np.uint8
        assert (t.xyxy[:, :2] >= 0).all() and (t.xyxy[:, 2] <= 640).all() and (t.xyxy[:, 3] <= 384).all()
        assert (t.xyxy[:, 3] - t.xyxy[:, 1] >= 8).all()
        assert (t.score == 1).all() and (t.track_id >= 1).all()
        assert list(t.track_id) == sorted(set(t.track_id.tolist()))
        assert (t.range_m > 0).all() and len(s.visibility) == len(t)
        seen_classes |= set(t.class_id.tolist())
        # Box bottoms not cut by the image edge land where the object stands.
        whole = t.xyxy[:, 3] < 383
        bottom = np.column_stack([(t.xyxy[:, 0] + t.xyxy[:, 2]) / 2, t.xyxy[:, 3]])[whole]
        np.testing.assert_allclose(ground_points(bottom, cam)[:, 1], s.ground_xz[whole, 1], rtol=1e-3)
        np.testing.assert_allclose(t.range_m, np.hypot(s.ground_xz[:, 0], s.ground_xz[:, 1]), rtol=1e-5)
    assert seen_classes == {0, 1, 2}


def test_objects_persist_enter_leave_and_occlude() -> None:
    scenes = _scenes(5, 60)
    ids = [set(s.tracks.track_id.tolist()) for s in scenes]
    lifetimes: dict[int, list[int]] = {}
    for f, frame_ids in enumerate(ids):
        for i in frame_ids:
            lifetimes.setdefault(i, []).append(f)
    assert max(len(v) for v in lifetimes.values()) >= 20  # IDs persist
    assert any(v[0] > 0 for v in lifetimes.values())  # something enters
    assert any(v[-1] < len(scenes) - 1 for v in lifetimes.values())  # something leaves
    vis = np.concatenate([s.visibility for s in scenes])
    assert (vis < 0.9).any() and (vis == 1).any()  # some occlusion happens
    moving = np.concatenate([np.abs(s.tracks.velocity).sum(axis=1) for s in scenes[1:]])
    assert (moving > 1).mean() > 0.5


def _lead_brakes(scenes: list) -> bool:
    return any(
        c == 0 and abs(x) < 0.5 and np.isfinite(ttc)
        for s in scenes
        for c, (x, _), ttc in zip(s.tracks.class_id, s.ground_xz, s.tracks.ttc_s)
    )


def _cuts_in(scenes: list) -> bool:
    xs: dict[int, list[float]] = {}
    for s in scenes:
        for c, i, (x, _) in zip(s.tracks.class_id, s.tracks.track_id, s.ground_xz):
            if c == 0:
                xs.setdefault(int(i), []).append(abs(float(x)))
    return any(max(v) > 3.0 and min(v) < 0.5 for v in xs.values())


def _ped_crosses(scenes: list) -> bool:
    return any(c == 1 and abs(x) < 1.75 for s in scenes for c, (x, _) in zip(s.tracks.class_id, s.ground_xz))


@pytest.mark.parametrize(
    "scenario, happened",
    [("lead_brake", _lead_brakes), ("cut_in", _cuts_in), ("ped_crossing", _ped_crosses)],
)
def test_scenarios_play_out(scenario: str, happened) -> None:
    assert happened(_scenes(11, 80, SceneConfig(scenario=scenario)))


def test_render_sequence_yields_frame_and_tracks() -> None:
    pairs = list(render_sequence(seed=4, frames=3))
    scenes = _scenes(4, 3)
    assert len(pairs) == 3
    for (frame, tracks), s in zip(pairs, scenes):
        assert np.array_equal(frame.image, s.frame.image)
        assert np.array_equal(tracks.xyxy, s.tracks.xyxy)
    assert list(render_sequence(seed=4, frames=0)) == []


@pytest.mark.parametrize(
    "values, match",
    [
        ({"scenario": "rally"}, "scenario"),
        ({"fps": 0}, "fps"),
        ({"lanes": 1}, "ego_lane"),
        ({"ego_lane": 0}, "ego_lane"),
        ({"car_speed_mps": (9, 3)}, "car_speed_mps"),
        ({"ego_speed_mps": (3,)}, "ego_speed_mps"),
        ({"jpeg_quality": 0}, "jpeg_quality"),
        ({"noise_sigma": (-1, 2)}, "noise_sigma"),
        ({"width": 10}, "at least"),
        ({"blur_prob": 1.5}, "blur_prob"),
        ({"max_objects": 0}, "max_objects"),
        ({"lane_width_m": "wide"}, "lane_width_m"),
        ({"initial_cars": 2.5}, "initial_cars"),
    ],
)
def test_bad_config_raises(values: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SceneConfig(**values)


def test_config_takes_params_yaml_overrides() -> None:
    cfg = override(SceneConfig(), {"ego_speed_mps": [5, 6], "scenario": "cut_in"})
    assert cfg.ego_speed_mps == (5.0, 6.0) and cfg.scenario == "cut_in"
    with pytest.raises(ValueError, match="unknown"):
        override(SceneConfig(), {"speed": 3})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seed": -1, "frames": 1}, "seed"),
        ({"seed": 0, "frames": -1}, "frames"),
        ({"seed": 0, "frames": 1, "camera": CameraModel.default(width=320, height=192)}, "differs"),
    ],
)
def test_render_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        render_scene(**kwargs)
