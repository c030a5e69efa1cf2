"""Writing synthetic scenes to disk: MOTChallenge sequences plus ``dataset.yaml``.

Per sequence::

    <seq>/seqinfo.ini
    <seq>/img1/000001.jpg ...    JPEG at SceneConfig.jpeg_quality (same bytes for the same args)
    <seq>/gt/gt.txt              frame,id,x,y,w,h,1,class_id+1,visibility,-1   (frame 1-based)
    <seq>/gt/range.txt           frame,id,range_m   (one row per gt.txt row, same order; metres,
                                 3 decimals: ground distance from the camera's foot point to
                                 the object's near face, see perception.geometry)
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from perception.config import as_dict
from perception.data.dataset import DatasetSpec, write_dataset_yaml
from perception.data.mot import MotRecords, SeqInfo, write_mot, write_seqinfo
from perception.data.synthetic.config import CLASSES, SceneConfig
from perception.data.synthetic.render import render_scene
from perception.geometry import CameraModel

PathLike = str | os.PathLike[str]


def sequence_seed(seed: int, index: int) -> int:
    """The seed of sequence ``index`` of a dataset made with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def dataset_splits(names: list[str]) -> dict[str, list[str]]:
    """Split sequence names: test = the last ``max(1, N // 5)``, val = the one before when
    ``N >= 3``, train = the rest. One sequence goes to train only (a sequence may sit in one
    split); two give one train and one test."""
    n = len(names)
    if n == 0:
        return {"train": [], "val": [], "test": []}
    if n == 1:
        return {"train": list(names), "val": [], "test": []}
    n_test = max(1, n // 5)
    n_val = 1 if n >= 3 else 0
    cut = n - n_test - n_val
    return {"train": names[:cut], "val": names[cut:cut + n_val], "test": names[cut + n_val:]}


def write_sequence(
    seq_dir: PathLike,
    *,
    name: str,
    seed: int,
    frames: int,
    config: SceneConfig = SceneConfig(),
    camera: CameraModel | None = None,
    on_frame: Any = None,
) -> SeqInfo:
    """Render one sequence into ``seq_dir`` (created; existing files are overwritten).

    on_frame: optional callable with no arguments, called after each frame (progress bars).
    """
    seq_dir = Path(seq_dir)
    img_dir = seq_dir / "img1"
    img_dir.mkdir(parents=True, exist_ok=True)
    (seq_dir / "gt").mkdir(exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality, cv2.IMWRITE_JPEG_OPTIMIZE, 0]
    frame_col, id_col, xywh, cls_col, vis_col, range_col = [], [], [], [], [], []
    for scene in render_scene(seed=seed, frames=frames, config=config, camera=camera):
        f = scene.frame.index + 1
        if not cv2.imwrite(str(img_dir / f"{f:06d}.jpg"), scene.frame.image, params):
            raise ValueError(f"could not write {img_dir / f'{f:06d}.jpg'}")
        t = scene.tracks
        frame_col.append(np.full(len(t), f, np.int64))
        id_col.append(t.track_id)
        xywh.append(np.column_stack([t.xyxy[:, :2], t.xyxy[:, 2:] - t.xyxy[:, :2]]).astype(np.float64))
        cls_col.append(t.class_id + 1)
        vis_col.append(scene.visibility.astype(np.float64))
        range_col.append(t.range_m.astype(np.float64))
        if on_frame is not None:
            on_frame()
    frame_a = np.concatenate(frame_col) if frame_col else np.zeros(0, np.int64)
    n = len(frame_a)
    records = MotRecords(
        frame=frame_a,
        track_id=np.concatenate(id_col) if id_col else np.zeros(0, np.int64),
        xywh=np.concatenate(xywh) if xywh else np.zeros((0, 4)),
        conf=np.ones(n),
        extra=np.column_stack([
            np.concatenate(cls_col).astype(np.float64) if cls_col else np.zeros(0),
            np.round(np.concatenate(vis_col), 3) if vis_col else np.zeros(0),
            np.full(n, -1.0),
        ]),
    )
    write_mot(seq_dir / "gt" / "gt.txt", records)
    ranges = np.concatenate(range_col) if range_col else np.zeros(0)
    order = np.lexsort((records.track_id, records.frame))  # write_mot's row order
    lines = [f"{records.frame[i]},{records.track_id[i]},{ranges[i]:.3f}" for i in order]
    (seq_dir / "gt" / "range.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    info = SeqInfo(
        name=name, frame_rate=config.fps, seq_length=frames, width=config.width, height=config.height
    )
    write_seqinfo(seq_dir / "seqinfo.ini", info)
    return info


def write_dataset(
    out: PathLike,
    *,
    sequences: int,
    frames: int,
    seed: int,
    config: SceneConfig = SceneConfig(),
    name: str = "synthetic",
    progress: bool = False,
) -> DatasetSpec:
    """Write ``seq-000 ...`` and ``dataset.yaml`` into ``out`` (which must not exist or be empty).

    Sequence ``i`` uses ``sequence_seed(seed, i)``; splits follow ``dataset_splits``. The yaml
    records the source (seed, frames, sequences, the resolved config) and the camera calibration.
    progress: show a rich progress bar over all frames (for the CLI).
    """
    out = Path(out)
    if isinstance(sequences, bool) or int(sequences) != sequences or sequences < 1:
        raise ValueError(f"sequences must be a positive integer, got {sequences!r}")
    if isinstance(frames, bool) or int(frames) != frames or frames < 1:
        raise ValueError(f"frames must be a positive integer, got {frames!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not an empty folder; choose a new path")
    camera = CameraModel.default(width=config.width, height=config.height)
    width = max(3, len(str(sequences - 1)))
    names = [f"seq-{i:0{width}d}" for i in range(sequences)]
    spec = DatasetSpec(
        name=name,
        classes=CLASSES,
        splits=dataset_splits(names),
        source={"kind": "synthetic", "seed": int(seed), "frames": int(frames), "sequences": int(sequences),
                "config": _plain(as_dict(config))},
        camera=camera.to_dict(),
    )
    out.mkdir(parents=True, exist_ok=True)
    bar = _progress_bar(progress)
    with bar if bar is not None else nullcontext():
        task = bar.add_task("rendering", total=sequences * frames) if bar is not None else None
        advance = (lambda: bar.advance(task)) if bar is not None else None
        for i, seq in enumerate(names):
            write_sequence(out / seq, name=seq, seed=sequence_seed(seed, i), frames=frames, config=config,
                           camera=camera, on_frame=advance)
    write_dataset_yaml(out, spec)
    return spec


def _progress_bar(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), transient=True)


def _plain(value: Any) -> Any:
    """YAML-safe plain data: tuples become lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
