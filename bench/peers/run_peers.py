"""Run peer trackers (``trackers`` SORT/ByteTrack, ``norfair``) over MOTChallenge det.txt files.

Runs inside ``.bench-venv`` (the peers' dependencies conflict with percept's), so it imports only
the standard library, numpy and the peers. For each tracker and sequence it writes
``<out>/<tracker>/<seq>.txt`` (MOTChallenge rows) and ``<out>/<tracker>/timing.json``
(frames and seconds spent inside the peer's update call; building its input is not timed).

    .bench-venv/bin/python bench/peers/run_peers.py --seq-root DIR --out DIR \\
        [--only NAME ...] [--repeats N] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import configparser
import json
import time
import warnings
from pathlib import Path

import numpy as np


def read_sequence(seq_dir: Path) -> tuple[float, list[np.ndarray]]:
    """Frame rate and, per frame, an (N, 5) array ``x1, y1, x2, y2, score``."""
    ini = configparser.ConfigParser()
    ini.read(seq_dir / "seqinfo.ini")
    rate, length = float(ini["Sequence"]["frameRate"]), int(ini["Sequence"]["seqLength"])
    rows = np.loadtxt(seq_dir / "det" / "det.txt", delimiter=",", ndmin=2)
    frames = []
    for f in range(1, length + 1):
        r = rows[rows[:, 0] == f]
        frames.append(np.column_stack([r[:, 2:4], r[:, 2:4] + r[:, 4:6], r[:, 6]]))
    return rate, frames


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def supervision_runner(kind: str, clock):
    import supervision as sv
    from trackers import ByteTrackTracker, SORTTracker

    def run(rate: float, frames: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        tracker = (SORTTracker if kind == "sort" else ByteTrackTracker)(frame_rate=rate)
        out, spent = [], 0.0
        for det in frames:
            d = sv.Detections(
                xyxy=det[:, :4].copy(), confidence=det[:, 4].copy(), class_id=np.zeros(len(det), int)
            )
            start = clock()
            res = tracker.update(d)
            spent += clock() - start
            ids = np.asarray(res.tracker_id if res.tracker_id is not None else [], dtype=float)
            conf = res.confidence if res.confidence is not None else np.ones(len(ids))
            keep = ids >= 0  # unconfirmed tracks come back with id -1
            out.append(np.column_stack([ids[keep], res.xyxy[keep], conf[keep]]).reshape(-1, 6))
        return out, spent

    return run


def norfair_runner(clock):
    from norfair import Detection, Tracker

    def run(rate: float, frames: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        tracker = Tracker(distance_function="iou", distance_threshold=0.7)
        out, spent = [], 0.0
        for det in frames:
            d = [Detection(points=b[:4].reshape(2, 2), scores=np.array([b[4], b[4]])) for b in det]
            start = clock()
            objs = tracker.update(detections=d)
            spent += clock() - start
            # The two estimated corners move independently and may cross: order them.
            rows = [[o.id, *o.estimate.min(axis=0), *o.estimate.max(axis=0), 1.0] for o in objs]
            out.append(np.array(rows, dtype=float).reshape(-1, 6))
        return out, spent

    return run


def write_results(path: Path, per_frame: list[np.ndarray]) -> None:
    lines = []
    for f, rows in enumerate(per_frame, start=1):
        for tid, x1, y1, x2, y2, conf in rows:
            lines.append(f"{f},{int(tid)},{x1:.3f},{y1:.3f},{x2 - x1:.3f},{y2 - y1:.3f},{conf:.4f},-1,-1,-1")
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-root", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=None, help="trackers to run (default: all)")
    parser.add_argument("--repeats", type=int, default=1, help="timing passes per sequence (fastest kept)")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall", help="perf_counter or process_time")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    clock = CLOCK[args.clock]
    runners = {
        "trackers-sort": lambda: supervision_runner("sort", clock),
        "trackers-bytetrack": lambda: supervision_runner("bytetrack", clock),
        "norfair": lambda: norfair_runner(clock),
    }
    seqs = sorted(p.name for p in args.seq_root.iterdir() if (p / "det" / "det.txt").is_file())
    data = {s: read_sequence(args.seq_root / s) for s in seqs}
    for name in args.only or list(runners):
        run = runners[name]()
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        timing = {}
        for seq, (rate, frames) in data.items():
            passes = [run(rate, frames) for _ in range(max(1, args.repeats))]
            per_frame, spent = min(passes, key=lambda p: p[1])
            write_results(folder / f"{seq}.txt", per_frame)
            timing[seq] = {"frames": len(frames), "update_seconds": spent}
        (folder / "timing.json").write_text(json.dumps(timing, indent=1))
        print(name, "done", flush=True)


if __name__ == "__main__":
    main()
