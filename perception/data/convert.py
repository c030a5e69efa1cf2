"""Materialise MOTChallenge folders, COCO JSON and videos/streams into a percept dataset folder.

Each converter writes the layout described in ``perception.data.dataset`` into ``out``, which
must not exist or be empty. Work happens in a hidden sibling folder that is renamed to ``out``
only once ``validate_dataset`` passed, so an error (raised as ``ValueError``) never leaves a
half-written dataset behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Mapping, Sequence
from urllib.parse import urlparse

import cv2
import numpy as np

from perception.data.coco import read_coco
from perception.data.dataset import SPLITS, DatasetSpec, validate_dataset, write_dataset_yaml
from perception.data.mot import MotRecords, SeqInfo, write_mot, write_seqinfo
from perception.data.sources import open_source

PathLike = str | os.PathLike[str]
Splits = Mapping[str, Sequence[str]]


def default_splits(sequences: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Sorted names: the last is test, the one before it val when there are >= 3, the rest train."""
    seqs = sorted(sequences)
    if not seqs:
        return {split: () for split in SPLITS}
    val = seqs[-2:-1] if len(seqs) >= 3 else []
    train = seqs[: len(seqs) - 1 - len(val)]
    return {"train": tuple(train), "val": tuple(val), "test": (seqs[-1],)}


def mot_to_dataset(
    src: PathLike,
    out: PathLike,
    *,
    name: str,
    classes: Sequence[str] = ("pedestrian",),
    splits: Splits | None = None,
) -> DatasetSpec:
    """Copy MOTChallenge sequences (``src`` holds sequence folders, or is one) into a dataset.

    Each sequence folder is copied whole (seqinfo.ini, img1/, gt/, det/, anything else) under its
    folder name. ``splits`` names the sequences per split; sequences it does not name are not
    copied. Default: ``default_splits``. gt class column (8) must fit ``classes`` (MOT15's -1
    means class 0).
    """
    src = Path(src)
    if (src / "seqinfo.ini").is_file():
        found = {src.name: src}
    elif src.is_dir():
        found = {d.name: d for d in sorted(src.iterdir()) if (d / "seqinfo.ini").is_file()}
    else:
        raise ValueError(f"{src}: no such folder")
    if not found:
        raise ValueError(f"{src}: no MOTChallenge sequence (a folder with seqinfo.ini) found")
    chosen = _resolve_splits(splits, list(found))
    with _staging(out) as tmp:
        for seq in DatasetSpec(name=name, classes=tuple(classes), splits=chosen).sequences:
            shutil.copytree(found[seq], tmp / seq)
        source = {"kind": "mot", "path": str(src.resolve())}
        spec = DatasetSpec(name=name, classes=tuple(classes), splits=chosen, source=source)
        write_dataset_yaml(tmp, spec)
        validate_dataset(tmp)
    return spec


def coco_to_dataset(
    coco_json: PathLike,
    images_dir: PathLike,
    out: PathLike,
    *,
    name: str,
    classes: Sequence[str] | None = None,
    splits: Splits | None = None,
) -> DatasetSpec:
    """One single-frame sequence per COCO image, named after the image file's stem.

    classes: names that define class_id; annotations of other categories are dropped.
             Default: the categories that annotations actually use, in category-id order.
    Crowd boxes are dropped (see ``perception.data.coco``). Images are copied as
    ``img1/000001.jpg`` (re-encoded when not JPEG); gt.txt gets one row per box with track ids
    1..n, conf 1 and class ``class_id + 1``. Default splits: ``default_splits``.
    """
    coco_json, images_dir = Path(coco_json), Path(images_dir)
    boxes = read_coco(coco_json, classes)
    if classes is None:
        used = sorted({int(c) for det in boxes.detections.values() for c in det.class_id})
        if not used:
            raise ValueError(f"{coco_json}: no annotations, so no classes; pass classes=")
        remap = np.full(len(boxes.classes), -1, np.int64)
        remap[used] = np.arange(len(used))
        classes = tuple(boxes.classes[i] for i in used)
    else:
        remap = np.arange(len(boxes.classes))
    names = _unique_names([Path(im.file_name).stem for im in boxes.images])
    chosen = _resolve_splits(splits, names)
    listed = set(DatasetSpec(name=name, classes=tuple(classes), splits=chosen).sequences)
    with _staging(out) as tmp:
        for im, seq in zip(boxes.images, names):
            if seq not in listed:
                continue
            image_path = images_dir / im.file_name
            _copy_as_jpg(image_path, tmp / seq / "img1" / "000001.jpg", expect=(im.width, im.height))
            write_seqinfo(tmp / seq / "seqinfo.ini", SeqInfo(seq, 1, 1, im.width, im.height))
            det = boxes.detections[im.id]
            xyxy = det.xyxy.astype(np.float64)
            xywh = np.round(np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]), 3)  # float32 noise
            n = len(det)
            extra = np.column_stack([remap[det.class_id] + 1.0, np.full((n, 2), -1.0)])
            write_mot(
                tmp / seq / "gt" / "gt.txt",
                MotRecords(np.ones(n, np.int64), np.arange(1, n + 1), xywh, np.ones(n), extra),
            )
        spec = DatasetSpec(
            name=name,
            classes=tuple(classes),
            splits=chosen,
            source={
                "kind": "coco",
                "annotations": str(coco_json.resolve()),
                "images": str(images_dir.resolve()),
            },
        )
        write_dataset_yaml(tmp, spec)
        validate_dataset(tmp)
    return spec


def video_to_dataset(
    uri: str | os.PathLike[str],
    out: PathLike,
    *,
    name: str,
    max_frames: int | None = None,
    stride: int = 1,
    classes: Sequence[str] = ("pedestrian",),
) -> DatasetSpec:
    """One unlabelled sequence (img1 only, no gt) from ``open_source(uri)``, in the test split.

    Keeps every ``stride``-th frame, at most ``max_frames`` of them (a live stream needs
    ``max_frames``, or this runs until the stream ends). frameRate = source fps / stride.
    ``classes`` is what a model evaluated on it would predict (dataset.yaml needs a list).
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    seq = _sequence_name(os.fspath(uri))
    with _staging(out) as tmp:
        img_dir = tmp / seq / "img1"
        img_dir.mkdir(parents=True)
        count = 0
        with open_source(uri) as source:
            for frame in source:
                if frame.index % stride:
                    continue
                count += 1
                if not cv2.imwrite(str(img_dir / f"{count:06d}.jpg"), frame.image):
                    raise ValueError(f"{img_dir}: could not write frame {count}")
                if max_frames is not None and count >= max_frames:
                    break
            fps, (width, height), skipped = source.fps, source.size, source.skipped
        if count == 0:
            raise ValueError(f"{uri}: no frame kept (stride {stride})")
        write_seqinfo(tmp / seq / "seqinfo.ini", SeqInfo(seq, fps / stride, count, width, height))
        spec = DatasetSpec(
            name=name,
            classes=tuple(classes),
            splits={"train": (), "val": (), "test": (seq,)},
            source={
                "kind": "video",
                "uri": os.fspath(uri),
                "stride": stride,
                "max_frames": max_frames,
                "skipped": skipped,
            },
        )
        write_dataset_yaml(tmp, spec)
        validate_dataset(tmp)
    return spec


@contextlib.contextmanager
def _staging(out: PathLike) -> Iterator[Path]:
    """A temporary sibling of ``out`` that becomes ``out`` on success and vanishes on error."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out}: exists and is not an empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _resolve_splits(splits: Splits | None, available: Sequence[str]) -> dict[str, tuple[str, ...]]:
    if splits is None:
        return default_splits(available)
    if isinstance(splits, str) or not isinstance(splits, Mapping):
        raise ValueError(f"splits must map train/val/test to sequence names, got {splits!r}")
    chosen = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in splits.items()}
    missing = sorted({s for seqs in chosen.values() for s in seqs} - set(available))
    if missing:
        raise ValueError(f"splits name unknown sequence(s) {missing}; available: {sorted(available)}")
    return chosen


def _copy_as_jpg(src: Path, dst: Path, *, expect: tuple[int, int]) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    image = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{src}: missing or not a readable image")
    if (image.shape[1], image.shape[0]) != expect:
        got = f"{image.shape[1]}x{image.shape[0]}"
        raise ValueError(f"{src}: is {got}, the COCO file says {expect[0]}x{expect[1]}")
    if src.suffix.lower() in (".jpg", ".jpeg"):
        shutil.copyfile(src, dst)  # no re-encoding loss
    elif not cv2.imwrite(str(dst), image):
        raise ValueError(f"{dst}: could not write")


def _unique_names(stems: Sequence[str]) -> list[str]:
    names, seen = [], set()
    for stem in stems:
        base = _safe(stem) or "image"
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base}-{k}"
        seen.add(name)
        names.append(name)
    return names


def _sequence_name(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme and len(parsed.scheme) > 1:  # a URL, not a Windows drive letter
        return _safe(Path(parsed.path).stem) or _safe(parsed.hostname or "") or "stream"
    path = Path(uri)
    return _safe(path.stem if path.is_file() else path.name) or "video"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-")
