"""Tracker benchmark: ours (SORT, ByteTrack) against the ``trackers`` and ``norfair`` packages.

``python -m bench.trackers`` runs every tracker over six MOT15 training sequences (their published
Faster R-CNN ``det/det.txt`` as input, one parameter set per tracker for all sequences), scores all
results with our ``evaluate_tracking`` and prints update rate, HOTA, MOTA, IDF1 and ID switches
combined over the sequences, then checks the goals for ``DEFAULT_TRACKER``: >= 2 points above the
best peer on each of HOTA, IDF1 and MOTA, and >= 3x the fastest peer's update rate.

Update rate = frames / seconds spent inside the tracker's update call (building its input is not
timed). The clock is CPU time of the process by default (``PERCEPT_BENCH_CLOCK=cpu``), which
other work on a shared machine disturbs far less than wall time; ``wall`` uses ``perf_counter``.
Peers run in ``.bench-venv`` (created on first use: their dependencies conflict with ours)
through ``bench/peers/run_peers.py``. Environment: ``PERCEPT_MOT15`` (sequence root, default
``../shared/data/mot15``), ``PERCEPT_BENCH_REPEATS`` (timing passes per tracker, best kept).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".bench-venv"
PEER_PACKAGES = ("trackers", "norfair")
PEERS = ("trackers-sort", "trackers-bytetrack", "norfair")
GOAL_POINTS, GOAL_SPEEDUP = 2.0, 3.0


def default_root() -> Path:
    return Path(os.environ.get("PERCEPT_MOT15", REPO.parent / "shared" / "data" / "mot15"))


def ensure_peer_venv() -> Path:
    """The python of ``.bench-venv`` with the peers installed (created once, reused)."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import trackers, norfair"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def run(*, root: Path | None = None, repeats: int | None = None, clock: str | None = None) -> list[dict]:
    """One row per tracker: ``tracker``, ``peer``, ``frames``, ``update_khz``, HOTA/MOTA/IDF1/IDSW."""
    from perception.eval.tracking import evaluate_tracking

    root = Path(root or default_root())
    repeats = int(os.environ.get("PERCEPT_BENCH_REPEATS", 1)) if repeats is None else repeats
    clock = clock or os.environ.get("PERCEPT_BENCH_CLOCK", "cpu")
    if clock not in CLOCKS:
        raise SystemExit(f"PERCEPT_BENCH_CLOCK must be one of {sorted(CLOCKS)}, got {clock!r}")
    if not root.is_dir():
        raise SystemExit(f"{root}: no MOT15 sequences (set PERCEPT_MOT15)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-trackers-") as tmp:
        out = Path(tmp)
        timings = _run_ours(root, out, repeats, clock)
        timings |= _run_peers(root, out, repeats, clock)
        for name, (frames, seconds) in timings.items():
            combined = evaluate_tracking(root, out / name)["COMBINED"]
            rows.append(
                {
                    "tracker": name,
                    "peer": name in PEERS,
                    "frames": frames,
                    "clock": clock,
                    "update_khz": frames / seconds / 1000.0,
                    **{k: combined[k] for k in ("HOTA", "MOTA", "IDF1", "IDSW")},
                }
            )
    return rows


def _run_ours(root: Path, out: Path, repeats: int, clock: str) -> dict[str, tuple[int, float]]:
    from perception.data.mot import read_seqinfo, write_mot
    from perception.eval.tracking import track_sequence
    from perception.tracking import TRACKERS, make_tracker

    timings = {}
    sequences = sorted(p for p in root.iterdir() if (p / "det" / "det.txt").is_file())
    for name in TRACKERS:
        frames, seconds = 0, 0.0
        for seq in sequences:
            rate = read_seqinfo(seq).frame_rate
            best = None
            for _ in range(max(1, repeats)):
                records, stats = track_sequence(seq, make_tracker(name, frame_rate=rate), clock=CLOCKS[clock])
                best = stats if best is None or stats.update_seconds < best.update_seconds else best
            write_mot(out / name / f"{seq.name}.txt", records)
            frames, seconds = frames + best.frames, seconds + best.update_seconds
        timings[name] = (frames, seconds)
    return timings


def _run_peers(root: Path, out: Path, repeats: int, clock: str) -> dict[str, tuple[int, float]]:
    python = ensure_peer_venv()
    script = REPO / "bench" / "peers" / "run_peers.py"
    cmd = [str(python), str(script), "--seq-root", str(root), "--out", str(out)]
    cmd += ["--repeats", str(repeats), "--clock", clock]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    timings = {}
    for name in PEERS:
        per_seq = json.loads((out / name / "timing.json").read_text())
        timings[name] = (
            sum(v["frames"] for v in per_seq.values()),
            sum(v["update_seconds"] for v in per_seq.values()),
        )
    return timings


def goals(rows: list[dict], *, tracker: str) -> list[str]:
    """One line per goal for ``tracker``: met or not, with the numbers."""
    ours = next(r for r in rows if r["tracker"] == tracker)
    peers = [r for r in rows if r["peer"]]
    lines = []
    for metric in ("HOTA", "IDF1", "MOTA"):
        best = max(peers, key=lambda r: r[metric])
        margin = ours[metric] - best[metric]
        ok = margin >= GOAL_POINTS
        lines.append(
            f"{'met' if ok else 'MISSED'}: {metric} {ours[metric]:.1f} = best peer "
            f"({best['tracker']}) {best[metric]:.1f} {margin:+.1f} (goal +{GOAL_POINTS:g})"
        )
    fastest = max(peers, key=lambda r: r["update_khz"])
    speedup = ours["update_khz"] / fastest["update_khz"]
    lines.append(
        f"{'met' if speedup >= GOAL_SPEEDUP else 'MISSED'}: update rate {ours['update_khz']:.1f} kHz = "
        f"{speedup:.1f}x fastest peer ({fastest['tracker']}, {fastest['update_khz']:.1f} kHz; "
        f"goal {GOAL_SPEEDUP:g}x)"
    )
    return lines


def main() -> None:
    from perception.tracking import DEFAULT_TRACKER

    console = Console()
    rows = run()
    title = f"trackers on MOT15 train ({rows[0]['frames']} frames, combined; {rows[0]['clock']} time)"
    table = Table("tracker", "update kHz", "HOTA", "MOTA", "IDF1", "IDSW", title=title)
    for r in rows:
        name = f"{r['tracker']} (peer)" if r["peer"] else r["tracker"]
        table.add_row(name, f"{r['update_khz']:.1f}", f"{r['HOTA']:.1f}", f"{r['MOTA']:.1f}",
                      f"{r['IDF1']:.1f}", f"{r['IDSW']:.0f}")
    console.print(table)
    for line in goals(rows, tracker=DEFAULT_TRACKER):
        console.print(f"goal ({DEFAULT_TRACKER}) {line}")


if __name__ == "__main__":
    main()
