"""MOTChallenge text files: ``gt.txt``, ``det.txt``, tracker results, and ``seqinfo.ini``.

Every MOTChallenge file is CSV with one box per row:
``frame, id, bb_left, bb_top, bb_width, bb_height, conf, c7, c8, c9``
with 1-based frame numbers. What ``c7..c9`` hold depends on the file: in MOT16+ ground truth they
are ``class`` (1-based) and ``visibility``; in MOT15 and in detections/results they are ``-1`` (or
world coordinates, which we carry through untouched). ``id`` is ``-1`` in detection files.

``MotRecords`` holds the columns as arrays; adapters turn it into per-frame ``Detections`` /
``Tracks`` (``class_id = c7 - 1`` when ``c7 >= 1``, else 0).
"""

from __future__ import annotations

import configparser
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from perception.types import Detections, Tracks

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SeqInfo:
    """``seqinfo.ini`` of one sequence."""

    name: str
    frame_rate: float
    seq_length: int
    width: int
    height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"

    def __post_init__(self) -> None:
        if not math.isfinite(self.frame_rate) or self.frame_rate <= 0:
            raise ValueError(f"frameRate must be finite and > 0, got {self.frame_rate}")
        if self.seq_length < 0:
            raise ValueError(f"seqLength must be >= 0, got {self.seq_length}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"imWidth/imHeight must be > 0, got {self.width}x{self.height}")


def read_seqinfo(path: PathLike) -> SeqInfo:
    """Parse ``seqinfo.ini`` (a file, or a sequence folder that holds one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "seqinfo.ini"
    parser = configparser.ConfigParser()
    try:
        with open(p, encoding="utf-8") as fh:
            parser.read_file(fh)
        s = parser["Sequence"]
        rate = float(s["frameRate"])
        return SeqInfo(
            name=s["name"],
            frame_rate=int(rate) if rate.is_integer() else rate,
            seq_length=int(s["seqLength"]),
            width=int(s["imWidth"]),
            height=int(s["imHeight"]),
            im_dir=s.get("imDir", "img1"),
            im_ext=s.get("imExt", ".jpg"),
        )
    except FileNotFoundError:
        raise ValueError(f"{p}: no seqinfo.ini") from None
    except (KeyError, configparser.Error, ValueError) as exc:
        raise ValueError(f"{p}: malformed seqinfo.ini ({exc})") from exc


def write_seqinfo(path: PathLike, info: SeqInfo) -> None:
    p = Path(path)
    if p.is_dir():
        p = p / "seqinfo.ini"
    lines = [
        "[Sequence]",
        f"name={info.name}",
        f"imDir={info.im_dir}",
        f"frameRate={info.frame_rate:g}",
        f"seqLength={info.seq_length}",
        f"imWidth={info.width}",
        f"imHeight={info.height}",
        f"imExt={info.im_ext}",
        "",
    ]
    p.write_text("\n".join(lines), encoding="utf-8")


@dataclass(frozen=True, eq=False)
class MotRecords:
    """The columns of a MOTChallenge file, one entry per row.

    frame: (N,) int64, 1-based.   track_id: (N,) int64 (-1 in detection files).
    xywh:  (N, 4) float64 pixels, top-left corner plus size.   conf: (N,) float64.
    extra: (N, 3) float64, columns 7..9 as written (class, visibility, or -1).
    """

    frame: np.ndarray
    track_id: np.ndarray
    xywh: np.ndarray
    conf: np.ndarray
    extra: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_tracks(cls, by_frame: Mapping[int, Tracks]) -> "MotRecords":
        """Results rows from per-frame tracks (``by_frame`` keys are 1-based frame numbers)."""
        parts = [(f, t) for f, t in sorted(by_frame.items()) if len(t)]
        if not parts:
            return cls(*_empty_columns())
        frame = np.concatenate([np.full(len(t), f, np.int64) for f, t in parts])
        xyxy = np.concatenate([t.xyxy for _, t in parts]).astype(np.float64)
        xywh = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]])
        return cls(
            frame=frame,
            track_id=np.concatenate([t.track_id for _, t in parts]),
            xywh=xywh,
            conf=np.concatenate([t.score for _, t in parts]).astype(np.float64),
            extra=np.full((len(frame), 3), -1.0),
        )

    def class_ids(self) -> np.ndarray:
        """0-based class per row: ``c7 - 1`` where ``c7 >= 1``, else 0.

        If any ``c7`` is not a whole number the file holds MOT15 world coordinates there (e.g.
        TUD-Stadtmitte, PETS09-S2L1), not classes, and every row is class 0.
        """
        c7 = self.extra[:, 0]
        if (c7 != np.round(c7)).any():
            return np.zeros(len(c7), np.int64)
        return np.where(c7 >= 1, c7 - 1, 0).astype(np.int64)

    def _xyxy(self) -> np.ndarray:
        return np.column_stack([self.xywh[:, :2], self.xywh[:, :2] + self.xywh[:, 2:]])

    def detections_by_frame(self) -> dict[int, Detections]:
        """Per-frame ``Detections`` keyed by 1-based frame number (frames without rows absent)."""
        xyxy, cls_ = self._xyxy(), self.class_ids()
        out: dict[int, Detections] = {}
        for f, idx in _group_rows(self.frame):
            out[f] = Detections(xyxy=xyxy[idx], score=self.conf[idx], class_id=cls_[idx])
        return out

    def tracks_by_frame(self) -> dict[int, Tracks]:
        """Per-frame ``Tracks`` (velocity zero: files carry none)."""
        xyxy, cls_ = self._xyxy(), self.class_ids()
        out: dict[int, Tracks] = {}
        for f, idx in _group_rows(self.frame):
            out[f] = Tracks(
                xyxy=xyxy[idx],
                score=self.conf[idx],
                class_id=cls_[idx],
                track_id=self.track_id[idx],
                velocity=np.zeros((len(idx), 2)),
            )
        return out


def _empty_columns() -> tuple[np.ndarray, ...]:
    return (
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros((0, 4)),
        np.zeros(0),
        np.zeros((0, 3)),
    )


def _group_rows(frame: np.ndarray) -> list[tuple[int, np.ndarray]]:
    order = np.argsort(frame, kind="stable")
    frames, starts = np.unique(frame[order], return_index=True)
    bounds = list(starts[1:]) + [len(order)]
    return [(int(f), order[s:e]) for f, s, e in zip(frames, starts, bounds)]


def read_mot(path: PathLike) -> MotRecords:
    """Read any MOTChallenge text file. Rows may have 6 to 10 columns; missing ones become -1."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{p}: file not found") from None
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not numbered:
        return MotRecords(*_empty_columns())
    lineno, rows = [n for n, _ in numbered], [line for _, line in numbered]
    table = np.full((len(rows), 10), -1.0)
    for i, line in enumerate(rows):
        cells = line.replace(" ", "").split(",")
        if not 6 <= len(cells) <= 10:
            raise ValueError(f"{p}:{lineno[i]}: expected 6 to 10 comma-separated values, got {len(cells)}")
        try:
            table[i, : len(cells)] = [float(c) for c in cells]
        except ValueError:
            raise ValueError(f"{p}:{lineno[i]}: non-numeric value in {line!r}") from None
    checks = (
        (~np.isfinite(table).all(axis=1), "non-finite value"),
        ((table[:, :2] != np.round(table[:, :2])).any(axis=1), "frame and id must be integers"),
        (table[:, 0] < 1, "frame numbers start at 1"),
        ((table[:, 4:6] < 0).any(axis=1), "negative box size"),
    )
    for bad_rows, what in checks:
        if bad_rows.any():
            i = int(np.flatnonzero(bad_rows)[0])
            raise ValueError(f"{p}:{lineno[i]}: {what} in {rows[i]!r}")
    return MotRecords(
        frame=table[:, 0].astype(np.int64),
        track_id=table[:, 1].astype(np.int64),
        xywh=table[:, 2:6].copy(),
        conf=table[:, 6].copy(),
        extra=table[:, 7:10].copy(),
    )


def write_mot(path: PathLike, records: MotRecords) -> None:
    """Write rows sorted by frame then id, floats with up to 6 decimals (``%g``-style)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    order = np.lexsort((records.track_id, records.frame))
    lines = []
    for i in order:
        values = [
            str(int(records.frame[i])),
            str(int(records.track_id[i])),
            *(_fmt(v) for v in records.xywh[i]),
            _fmt(records.conf[i]),
            *(_fmt(v) for v in records.extra[i]),
        ]
        lines.append(",".join(values))
    p.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def _fmt(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
