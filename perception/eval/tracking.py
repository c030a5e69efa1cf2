"""Tracking accuracy (HOTA, MOTA, IDF1, IDSW) through TrackEval, and running a tracker over det.txt.

Evaluation is class-agnostic: every box of the selected classes counts as one "pedestrian"-like
class, so a track that matches an object of another class still counts as a hit. We chose this
because TrackEval's MOTChallenge reader only evaluates the pedestrian class and our trackers never
switch class within a track; pass ``classes`` to restrict ground truth to some classes instead.

Both ground-truth flavours are accepted: MOT15 (class column ``-1``) and MOT17-like (class column
= ``class_id + 1``, as our synthetic generator writes). Ground-truth rows whose ``conf`` column is
0 are "ignore" boxes: TrackEval drops them, neither hits nor misses.

TrackEval reads MOTChallenge folders, so each call stages normalised copies of the inputs in a
temporary folder. trackeval 1.3 runs on NumPy 2 as it is (no ``np.float``-style aliases needed).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from perception.data.mot import MotRecords, read_mot, read_seqinfo, write_mot, write_seqinfo
from perception.types import Detections, Tracks

METRICS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")
"""Keys of each per-sequence result; all but IDSW (a count) are percentages."""


@dataclass(frozen=True)
class TrackingStats:
    """Timing of one tracker run: frames fed and wall seconds spent inside ``update()``."""

    frames: int
    update_seconds: float

    @property
    def update_hz(self) -> float:
        return self.frames / self.update_seconds if self.update_seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, float]:
        return {"frames": self.frames, "update_seconds": self.update_seconds, "update_hz": self.update_hz}


def track_sequence(
    seq_dir: Path, tracker: Any, *, clock: Callable[[], float] = time.perf_counter
) -> tuple[MotRecords, TrackingStats]:
    """Run ``tracker`` over ``seq_dir/det/det.txt``, one ``update`` per frame of ``seqinfo.ini``.

    Frames without detection rows get empty ``Detections``; timestamps are ``(frame - 1) / frameRate``
    seconds. Only the ``update`` calls are timed, with ``clock`` (wall time by default;
    ``time.process_time`` gives CPU time, steadier on a busy machine). The tracker is used as given
    (reset it first if it has seen another sequence). Raises ``ValueError`` if det.txt or
    seqinfo.ini is missing.
    """
    seq_dir = Path(seq_dir)
    det_path = seq_dir / "det" / "det.txt"
    if not det_path.is_file():
        raise ValueError(f"{det_path}: no detections file (expected <sequence>/det/det.txt)")
    info = read_seqinfo(seq_dir)
    by_frame = read_mot(det_path).detections_by_frame()
    last = max(info.seq_length, max(by_frame, default=0))
    empty = Detections.empty()
    frames: list[Detections] = [by_frame.get(f, empty) for f in range(1, last + 1)]
    out: dict[int, Tracks] = {}
    spent = 0.0
    for i, detections in enumerate(frames):
        start = clock()
        tracks = tracker.update(detections, timestamp=i / info.frame_rate)
        spent += clock() - start
        out[i + 1] = tracks
    return MotRecords.from_tracks(out), TrackingStats(frames=len(frames), update_seconds=spent)


def evaluate_tracking(
    gt_root: Path,
    results_dir: Path,
    *,
    sequences: Sequence[str] | None = None,
    classes: Sequence[int] | None = None,
) -> dict[str, dict[str, float]]:
    """HOTA, DetA, AssA, MOTA, IDF1 (percent) and IDSW per sequence and ``"COMBINED"``.

    gt_root: folders ``<seq>/gt/gt.txt`` + ``<seq>/seqinfo.ini`` (MOTChallenge layout).
    results_dir: ``<seq>.txt`` per sequence, MOTChallenge rows (``frame, id, x, y, w, h, conf, ...``).
    sequences: which ones (default: every folder of ``gt_root`` holding ``gt/gt.txt``).
    classes: 0-based class ids of ground truth (and of result rows that carry a class) to keep;
    ``None`` keeps everything.
    """
    gt_root, results_dir = Path(gt_root), Path(results_dir)
    names = list(sequences) if sequences is not None else _find_sequences(gt_root)
    if not names:
        raise ValueError(f"{gt_root}: no sequences with gt/gt.txt found")
    keep = None if classes is None else np.asarray(list(classes), np.int64)
    with tempfile.TemporaryDirectory(prefix="percept-trackeval-") as tmp:
        stage = Path(tmp)
        lengths = {}
        for name in names:
            lengths[name] = _stage_sequence(gt_root / name, results_dir / f"{name}.txt", stage, name, keep)
        raw = _run_trackeval(stage, lengths)
    return {seq: _summarise(res["pedestrian"]) for seq, res in raw.items()}


def _find_sequences(gt_root: Path) -> list[str]:
    if not gt_root.is_dir():
        raise ValueError(f"{gt_root}: not a folder")
    return sorted(p.name for p in gt_root.iterdir() if (p / "gt" / "gt.txt").is_file())


def _stage_sequence(seq_dir: Path, result: Path, stage: Path, name: str, keep: np.ndarray | None) -> int:
    """Write a normalised copy of one sequence's gt and results for TrackEval; return its length.

    Normalised: class column -1 (TrackEval's MOT15 mode: no per-class preprocessing), gt conf 0/1,
    only classes in ``keep``.
    """
    gt_path = seq_dir / "gt" / "gt.txt"
    if not gt_path.is_file():
        raise ValueError(f"{gt_path}: no ground truth")
    if not result.is_file():
        raise ValueError(f"{result}: no results for sequence {name}")
    info = read_seqinfo(seq_dir)
    gt, res = read_mot(gt_path), read_mot(result)
    if keep is not None:
        gt = _select(gt, np.isin(gt.class_ids(), keep))
        res = _select(res, (res.extra[:, 0] < 1) | np.isin(res.class_ids(), keep))
    gt = _select(gt, np.ones(len(gt), bool), conf=(gt.conf != 0).astype(np.float64))
    beyond = res.frame > info.seq_length
    if beyond.any():
        raise ValueError(f"{result}: frame {int(res.frame[beyond][0])} is beyond seqLength={info.seq_length}")
    write_mot(stage / "gt" / name / "gt" / "gt.txt", gt)
    write_seqinfo(stage / "gt" / name, info)
    write_mot(stage / "trackers" / "percept" / "data" / f"{name}.txt", _select(res, np.ones(len(res), bool)))
    return info.seq_length


def _select(rec: MotRecords, mask: np.ndarray, conf: np.ndarray | None = None) -> MotRecords:
    return MotRecords(
        frame=rec.frame[mask],
        track_id=rec.track_id[mask],
        xywh=rec.xywh[mask],
        conf=(rec.conf if conf is None else conf)[mask],
        extra=np.full((int(mask.sum()), 3), -1.0),
    )


def _run_trackeval(stage: Path, lengths: dict[str, int]) -> dict[str, Any]:
    import trackeval  # heavy import, only when evaluating

    dataset = trackeval.datasets.MotChallenge2DBox(
        {
            "GT_FOLDER": str(stage / "gt"),
            "TRACKERS_FOLDER": str(stage / "trackers"),
            "TRACKERS_TO_EVAL": ["percept"],
            "BENCHMARK": "MOT15",  # no distractor-class preprocessing: we evaluate class-agnostic
            "SKIP_SPLIT_FOL": True,
            "SEQ_INFO": dict(lengths),
            "PRINT_CONFIG": False,
        }
    )
    quiet = {"PRINT_CONFIG": False}
    metrics = [
        trackeval.metrics.HOTA(quiet),
        trackeval.metrics.CLEAR(quiet),
        trackeval.metrics.Identity(quiet),
    ]
    evaluator = trackeval.Evaluator(
        {
            "USE_PARALLEL": False,
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "TIME_PROGRESS": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "OUTPUT_EMPTY_CLASSES": False,
            "DISPLAY_LESS_PROGRESS": True,
        }
    )
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # TrackEval prints progress unconditionally
            results, messages = evaluator.evaluate([dataset], metrics)
    except trackeval.utils.TrackEvalException as exc:  # e.g. an id twice in one frame
        raise ValueError(f"TrackEval rejected the input: {exc}") from exc
    per_tracker = results["MotChallenge2DBox"]["percept"]
    if not isinstance(per_tracker, dict) or "COMBINED_SEQ" not in per_tracker:
        raise ValueError(f"TrackEval failed: {messages['MotChallenge2DBox']['percept']}")
    ordered = {k: v for k, v in per_tracker.items() if k != "COMBINED_SEQ"}
    ordered["COMBINED"] = per_tracker["COMBINED_SEQ"]
    return ordered


def _summarise(res: dict[str, Any]) -> dict[str, float]:
    hota, clear, ident = res["HOTA"], res["CLEAR"], res["Identity"]
    return {
        "HOTA": 100.0 * float(np.mean(hota["HOTA"])),
        "DetA": 100.0 * float(np.mean(hota["DetA"])),
        "AssA": 100.0 * float(np.mean(hota["AssA"])),
        "MOTA": 100.0 * float(clear["MOTA"]),
        "IDF1": 100.0 * float(ident["IDF1"]),
        "IDSW": float(clear["IDSW"]),
    }
