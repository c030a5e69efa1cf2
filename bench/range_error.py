"""Range from boxes: ``ground_range`` on ground-truth synthetic boxes vs the true range.

Median absolute error in percent for objects 10-50 m away (goal <= 10 %), per class and per
distance band. The renderer wobbles the camera pitch (road bumps) that the calibration does not
know, so the error grows with distance, as on a real car.

    .venv/bin/python -m bench.range_error
"""

from __future__ import annotations

import numpy as np

from perception.data.synthetic import CLASSES, SceneConfig, render_scene
from perception.geometry import CameraModel, ground_range

SEEDS = tuple(range(6))
FRAMES = 100
BANDS = ((10.0, 20.0), (20.0, 30.0), (30.0, 50.0), (10.0, 50.0))


def run(seeds: tuple[int, ...] = SEEDS, frames: int = FRAMES) -> list[dict]:
    """Rows: class (or "all"), band, objects, median and 90th percentile absolute error in %."""
    config = SceneConfig()
    camera = CameraModel.default(width=config.width, height=config.height)
    true, est, cls = [], [], []
    for seed in seeds:
        for scene in render_scene(seed=seed, frames=frames, config=config, camera=camera):
            t = scene.tracks
            true.append(t.range_m)
            est.append(ground_range(t.xyxy, camera))
            cls.append(t.class_id)
    true_a, est_a, cls_a = np.concatenate(true), np.concatenate(est), np.concatenate(cls)
    err = np.abs(est_a - true_a) / true_a * 100
    rows = []
    for name, mask in [("all", np.ones_like(cls_a, bool))] + [(c, cls_a == i) for i, c in enumerate(CLASSES)]:
        for lo, hi in BANDS:
            sel = mask & (true_a >= lo) & (true_a <= hi)
            e = err[sel]
            rows.append({
                "class": name,
                "band_m": f"{lo:g}-{hi:g}",
                "objects": int(sel.sum()),
                "median_abs_err_pct": round(float(np.median(e)), 2) if len(e) else None,
                "p90_abs_err_pct": round(float(np.percentile(e, 90)), 2) if len(e) else None,
                "goal_pct": 10.0 if (lo, hi) == (10.0, 50.0) else None,
            })
    return rows


def main() -> None:
    from bench.tables import print_rows

    print_rows("ground_range on synthetic GT boxes (median |error|, %)", run())


if __name__ == "__main__":
    main()
