"""Detector accuracy benchmark: train the default architecture from scratch under a time budget on
a synthetic dataset, evaluate COCO mAP on the held-out test sequences.

``python -m bench.detector`` (goal: mAP@0.5 >= 0.60 after <= 10 min on 2 CPU cores). The config is
the shipped one: ``params.yaml`` ``detector:`` and ``train:`` (what ``percept train`` and the
retrain flow use).
``cpu_s`` is the process CPU time: on a shared machine ``cpu_s / 2`` estimates the quiet wall time.
Environment: ``PERCEPT_BENCH_MINUTES`` (budget, default 10; 0 = none, train ``epochs`` from the
overrides), ``PERCEPT_BENCH_OVERRIDES`` (JSON
``DetectorConfig`` overrides, for experiments), ``PERCEPT_BENCH_DIR`` (keep the work folder).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from rich.console import Console
from rich.table import Table

SEQUENCES, FRAMES, SEED = 15, 80, 0
VISIBLE = 0.3  # evaluate_detector's default min_visibility


def run(
    *, minutes: float | None = None, overrides: Mapping[str, Any] | None = None, work: Path | None = None
) -> list[dict]:
    """Rows: one for all classes then one per class (``map50``, ``map``, ``train_s``, ...)."""
    from bench import shipped_detector_config
    from perception.config import override
    from perception.data.synthetic import write_dataset
    from perception.eval.detection import evaluate_detector
    from perception.models import TorchDetector, load_detector, train_detector

    minutes = float(os.environ.get("PERCEPT_BENCH_MINUTES", 10)) if minutes is None else minutes
    overrides = json.loads(os.environ.get("PERCEPT_BENCH_OVERRIDES", "{}")) if overrides is None else overrides
    with tempfile.TemporaryDirectory(prefix="bench-detector-") as tmp:
        work = Path(work or os.environ.get("PERCEPT_BENCH_DIR") or tmp)
        data = work / "data"
        if not (data / "dataset.yaml").exists():
            write_dataset(data, sequences=SEQUENCES, frames=FRAMES, seed=SEED)
        budget = {"max_train_minutes": minutes} if minutes > 0 else {}
        shipped = shipped_detector_config()
        config = override(shipped, {"epochs": 1000, "threads": 2, **overrides, **budget})
        start, cpu_start = time.perf_counter(), time.process_time()
        result = train_detector(data_root=data, out_dir=work / "train", config=config)
        train_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        model, config = load_detector(result.model_path)
        detector = TorchDetector(model, config, device="cpu")
        # The goal is read on objects at least 30% visible (KITTI/COCO-style ignore regions for the
        # rest); the all-objects view is printed beside it.
        reports = {v: evaluate_detector(detector, data, split="test", min_visibility=v) for v in (VISIBLE, 0.0)}
    common = {"arch": config.arch, "train_s": round(train_s, 1), "cpu_s": round(cpu_s, 1), "epochs": len(result.epochs),
              "train_images": int(sum(e["images"] for e in result.epochs))}
    rows = []
    for vis, report in reports.items():
        gt = f"visible>={vis:g}" if vis else "all objects"
        rows.append({"gt": gt, "class": "all", "map50": report["map50"], "map": report["map"],
                     "gt_boxes": report["gt_boxes"], **common})
        for name, ap in report["ap50_per_class"].items():
            rows.append({"gt": gt, "class": name, "map50": ap, "map": None, "gt_boxes": None, **common})
    return rows


def main() -> None:
    rows = run()
    table = Table(title=f"detector from scratch, synthetic {SEQUENCES}x{FRAMES} frames, test split")
    for col in ("ground truth", "class", "mAP@0.5", "mAP@[.5:.95]", "gt boxes", "arch", "train s", "cpu s",
                "epochs", "train images"):
        table.add_column(col)
    for r in rows:
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        table.add_row(r["gt"], r["class"], fmt(r["map50"]), fmt(r["map"]), str(r["gt_boxes"] or "-"), r["arch"],
                      str(r["train_s"]), str(r["cpu_s"]), str(r["epochs"]), str(r["train_images"]))
    Console().print(table)
    headline = rows[0]
    verdict = "met" if headline["map50"] >= 0.60 else "NOT met"
    Console().print(f"goal mAP@0.5 >= 0.60 ({headline['gt']}): {headline['map50']:.3f}, {verdict}")


if __name__ == "__main__":
    main()
