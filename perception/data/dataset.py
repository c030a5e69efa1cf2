"""A percept dataset: MOTChallenge sequences plus ``dataset.yaml``.

Layout::

    <root>/dataset.yaml
    <root>/<seq>/seqinfo.ini
    <root>/<seq>/img1/000001.jpg ...        (absent for detection-only sequences such as MOT15 here)
    <root>/<seq>/gt/gt.txt                  (absent for unlabelled video)
    <root>/<seq>/gt/range.txt               (optional: frame,id,range_m per object, synthetic only)
    <root>/<seq>/det/det.txt                (optional: public detections)

``dataset.yaml``::

    name: demo
    classes: [car, pedestrian, cyclist]     # class_id i <-> classes[i]; gt.txt column 8 = i + 1
    splits: {train: [seq-000], val: [seq-001], test: [seq-002]}
    source: {kind: synthetic, seed: 0, ...} # where it came from, free-form
    camera: {fx: .., fy: .., cx: .., cy: .., height_m: .., pitch_rad: ..}   # optional calibration
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from perception.data.mot import read_mot, read_seqinfo

SPLITS = ("train", "val", "test")
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class DatasetSpec:
    """What ``dataset.yaml`` says. ``splits`` maps each of train/val/test to sequence names."""

    name: str
    classes: tuple[str, ...]
    splits: Mapping[str, tuple[str, ...]]
    source: Mapping[str, Any] = field(default_factory=dict)
    camera: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"dataset name must be a non-empty string, got {self.name!r}")
        # A bare string would be split into characters by tuple(): reject it.
        if isinstance(self.classes, str) or not self.classes or len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be a non-empty list of unique names, got {self.classes!r}")
        unknown = sorted(set(self.splits) - set(SPLITS))
        if unknown:
            raise ValueError(f"unknown split(s) {unknown}; splits are {list(SPLITS)}")
        seen: dict[str, str] = {}
        for split, seqs in self.splits.items():
            if isinstance(seqs, str):
                raise ValueError(f"split {split!r} must list sequence names, got the string {seqs!r}")
            for s in seqs:
                if not isinstance(s, str) or not s or s in (".", "..") or "/" in s or "\\" in s:
                    raise ValueError(f"sequence name must be a plain folder name, got {s!r} in {split!r}")
                if s in seen:
                    raise ValueError(f"sequence {s!r} is in both {seen[s]!r} and {split!r}")
                seen[s] = split
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "splits", {k: tuple(v) for k, v in self.splits.items()})

    @property
    def sequences(self) -> tuple[str, ...]:
        return tuple(s for split in SPLITS for s in self.splits.get(split, ()))

    def split(self, name: str) -> tuple[str, ...]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; splits are {list(SPLITS)}")
        return tuple(self.splits.get(name, ()))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "classes": list(self.classes),
            "splits": {k: list(self.splits.get(k, ())) for k in SPLITS},
            "source": dict(self.source),
        }
        if self.camera is not None:
            out["camera"] = dict(self.camera)
        return out


def read_dataset_yaml(root: PathLike) -> DatasetSpec:
    p = Path(root) / "dataset.yaml"
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{Path(root)}: no dataset.yaml; is this a percept dataset folder?") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a mapping, got {type(data).__name__}")
    missing = [k for k in ("name", "classes", "splits") if k not in data]
    if missing:
        raise ValueError(f"{p}: missing key(s) {missing}")
    splits = data["splits"]
    if not isinstance(splits, dict) or not all(v is None or isinstance(v, list) for v in splits.values()):
        raise ValueError(f"{p}: splits must map train/val/test to lists of sequences, got {splits!r}")
    for key in ("source", "camera"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ValueError(f"{p}: {key} must be a mapping, got {data[key]!r}")
    if not isinstance(data["classes"], list):
        raise ValueError(f"{p}: classes must be a list of names, got {data['classes']!r}")
    try:
        return DatasetSpec(
            name=str(data["name"]),
            classes=tuple(str(c) for c in data["classes"]),
            splits={k: tuple(str(s) for s in (v or ())) for k, v in splits.items()},
            source=data.get("source") or {},
            camera=data.get("camera"),
        )
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from exc


def write_dataset_yaml(root: PathLike, spec: DatasetSpec) -> None:
    p = Path(root) / "dataset.yaml"
    p.write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False), encoding="utf-8")


def validate_dataset(root: PathLike) -> DatasetSpec:
    """Check a dataset folder end to end; raise ``ValueError`` with the first problem found.

    Checks: dataset.yaml; every listed sequence has a valid seqinfo.ini; image folders hold
    ``seqLength`` frames when present; gt/det files parse, stay within ``seqLength`` and use
    known classes.
    """
    root = Path(root)
    spec = read_dataset_yaml(root)
    if not spec.sequences:
        raise ValueError(f"{root}/dataset.yaml lists no sequences")
    for seq in spec.sequences:
        seq_dir = root / seq
        if not seq_dir.is_dir():
            raise ValueError(f"{root}: sequence {seq!r} is listed in dataset.yaml but missing")
        info = read_seqinfo(seq_dir)
        img_dir = seq_dir / info.im_dir
        if img_dir.is_dir():
            n = sum(1 for f in img_dir.iterdir() if f.suffix == info.im_ext)
            if n != info.seq_length:
                raise ValueError(f"{img_dir}: {n} {info.im_ext} frames, seqinfo.ini says {info.seq_length}")
        for rel in ("gt/gt.txt", "det/det.txt"):
            f = seq_dir / rel
            if not f.exists():
                continue
            rec = read_mot(f)
            if len(rec) and rec.frame.max() > info.seq_length:
                raise ValueError(f"{f}: frame {int(rec.frame.max())} beyond seqLength {info.seq_length}")
            if rel.startswith("gt") and len(rec) and rec.class_ids().max() >= len(spec.classes):
                raise ValueError(
                    f"{f}: class {int(rec.class_ids().max()) + 1} but dataset.yaml has {len(spec.classes)} classes"
                )
    return spec
