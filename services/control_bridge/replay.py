"""Score the bridge on synthetic scenarios with known range (``python -m services.control_bridge.replay``).

For each scenario a short sequence is rendered; messages are built from its ground-truth boxes
and IDs exactly as the service would from perfect detections (range from the box bottom through
the dataset camera, TTC from the range history), and fed to ``CollisionWarner``. The truth per
frame is "the in-lane lead's true TTC < warn_enter_ttc_s (or true range < warn_enter_range_m)",
TTC from the true range's finite differences. Reports per-frame warning precision/recall and the
median absolute TTC error of the lead (frames where both TTCs are known and the true one < 10 s).
"""

from __future__ import annotations

import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perception.data.mot import read_mot
from perception.geometry import CameraModel, closing_speed_and_ttc, ground_range
from services.control_bridge.config import BridgeConfig
from services.control_bridge.decision import CollisionWarner
from services.control_bridge.lane import in_lane_ground
from services.perception.messages import PerceptionMessage, TrackMessage, finite_or_none

SCENARIOS = ("lead_brake", "cut_in", "ped_crossing")
CLASS_NAMES = ("car", "pedestrian", "cyclist")


@dataclass(frozen=True)
class ReplayScore:
    scenario: str
    frames: int
    truth_frames: int
    warned_frames: int
    precision: float
    recall: float
    median_ttc_error_s: float

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def read_range_txt(path: Path) -> dict[tuple[int, int], float]:
    """``gt/range.txt`` rows ``frame,id,range_m`` -> {(frame, id): range_m}."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            frame, tid, rng = line.split(",")[:3]
            out[(int(frame), int(float(tid)))] = float(rng)
    return out


def true_ttc(times: list[float], ranges: list[float]) -> float:
    """TTC from the last two true ranges (exact for the synthetic world); inf when not closing."""
    if len(ranges) < 2:
        return math.inf
    speed = (ranges[-2] - ranges[-1]) / max(times[-1] - times[-2], 1e-9)
    return ranges[-1] / speed if speed > 0.2 else math.inf


def score_sequence(
    seq_dir: Path, camera: CameraModel, config: BridgeConfig, *, scenario: str, fps: float
) -> ReplayScore:
    """Replay one written sequence (gt.txt + range.txt) through a fresh ``CollisionWarner``."""
    gt = read_mot(seq_dir / "gt" / "gt.txt")
    true_range = read_range_txt(seq_dir / "gt" / "range.txt")
    warner = CollisionWarner(config, camera=camera)
    est_hist: dict[int, list[tuple[float, float]]] = {}
    true_hist: dict[int, tuple[list[float], list[float]]] = {}
    tp = fp = fn = hit = 0
    errors: list[float] = []
    frames = _frames(gt)
    for frame, (xyxy, ids, cls) in frames.items():
        t = frame / fps
        est = ground_range(xyxy, camera) if len(xyxy) else np.zeros(0, np.float32)
        tracks, truths = [], {}
        for i, tid in enumerate(ids.tolist()):
            hist = est_hist.setdefault(tid, [])
            if np.isfinite(est[i]):
                hist.append((t, float(est[i])))
            speed, ttc = math.nan, math.nan
            if len(hist) >= 2:
                speed, ttc = closing_speed_and_ttc(*map(np.asarray, zip(*hist[-10:])))
            tracks.append(
                TrackMessage(
                    track_id=tid,
                    class_name=CLASS_NAMES[int(cls[i]) % 3],
                    score=1.0,
                    bbox_xyxy=tuple(map(float, xyxy[i])),
                    velocity_px_s=(0.0, 0.0),
                    range_m=finite_or_none(est[i]),
                    closing_speed_mps=finite_or_none(speed),
                    ttc_s=finite_or_none(ttc),
                )
            )
            r = true_range.get((frame, tid))
            if r is not None:
                ts, rs = true_hist.setdefault(tid, ([], []))
                ts.append(t)
                rs.append(r)
                truths[tid] = (r, true_ttc(ts, rs))
        message = PerceptionMessage(
            stream_id=scenario, frame_index=frame, capture_ts=t, publish_ts=t, latency_ms=0.0, stale=False,
            dropped_frames=0, model_version=None, image_width=camera.width, image_height=camera.height,
            tracks=tracks,
        )
        warner.update(message)
        truth = _truth_warning(xyxy, ids, truths, camera, config, exit_band=False)
        justified = _truth_warning(xyxy, ids, truths, camera, config, exit_band=True)
        tp += justified and warner.warning
        fp += (not justified) and warner.warning
        fn += truth and not warner.warning
        hit += truth and warner.warning
        lead = warner.lead
        if lead is not None and lead.ttc_s is not None and lead.track_id in truths:
            gt_ttc = truths[lead.track_id][1]
            if gt_ttc < 10:
                errors.append(abs(lead.ttc_s - gt_ttc))
    return ReplayScore(
        scenario=scenario, frames=len(frames), truth_frames=hit + fn, warned_frames=tp + fp,
        precision=tp / (tp + fp) if tp + fp else math.nan, recall=hit / (hit + fn) if hit + fn else math.nan,
        median_ttc_error_s=float(np.median(errors)) if errors else math.nan,
    )


def _frames(gt) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """1-based frame -> (xyxy (N,4), track ids (N,), class ids (N,)), frames without objects included."""
    by_frame = gt.tracks_by_frame()
    last = max(by_frame) if by_frame else 0
    empty = (np.zeros((0, 4)), np.zeros(0, int), np.zeros(0, int))
    return {f: (t.xyxy, t.track_id.astype(int), t.class_id) if (t := by_frame.get(f)) is not None else empty
            for f in range(1, last + 1)}


def _truth_warning(xyxy, ids, truths, camera, config, *, exit_band: bool) -> bool:
    """Should a warning be on? ``exit_band``: judged with the exit thresholds (a warning that is
    still on inside the hysteresis band is justified, not a false alarm)."""
    if len(xyxy) == 0:
        return False
    inside = in_lane_ground(xyxy, camera, config.lane_half_width_m)
    lane = [(truths[t][0], truths[t][1]) for t, ok in zip(ids.tolist(), inside) if ok and t in truths]
    if not lane:
        return False
    rng, ttc = min(lane)
    if exit_band:
        return ttc < config.warn_exit_ttc_s or rng < config.warn_exit_range_m
    return ttc < config.warn_enter_ttc_s or rng < config.warn_enter_range_m


def run(
    *, seeds: tuple[int, ...] = (0, 1, 2), frames: int = 80, config: BridgeConfig | None = None
) -> list[dict]:
    """Render each scenario for each seed, score, and pool per scenario."""
    from perception.data.synthetic import SceneConfig, write_sequence

    config = config or BridgeConfig()
    rows = []
    with tempfile.TemporaryDirectory(prefix="percept-replay-") as tmp:
        for scenario in SCENARIOS:
            scene = SceneConfig(scenario=scenario)
            camera = CameraModel.default(scene.width, scene.height)
            for seed in seeds:
                seq = Path(tmp) / f"{scenario}-{seed}"
                write_sequence(seq, name=seq.name, seed=seed, frames=frames, config=scene, camera=camera)
                rows.append(score_sequence(seq, camera, config, scenario=scenario, fps=scene.fps).to_dict())
    return rows


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table("scenario", "frames", "truth", "warned", "precision", "recall", "median |TTC err| s")
    for r in run():
        table.add_row(r["scenario"], str(r["frames"]), str(r["truth_frames"]), str(r["warned_frames"]),
                      f"{r['precision']:.2f}", f"{r['recall']:.2f}", f"{r['median_ttc_error_s']:.2f}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
