"""Detector latency: torch vs onnxruntime for the default architecture at 320 px, batch 1 and 4.

``python -m bench.latency``. Weights are untrained (latency does not depend on them); the score
threshold is set so both runtimes do the same postprocess work. Median and p99 of ``detect`` on
384x640 BGR frames (letterbox, network, NMS), warmup excluded. Needs a quiet machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

BATCH_SIZES = (1, 4)
REPEATS = 30


def run(*, repeats: int = REPEATS, threads: int = 2) -> list[dict]:
    """Rows ``{runtime, batch, median_ms, p99_ms, per_image_ms}``."""
    import torch

    from perception.eval.latency import detector_latency
    from perception.models import DetectorConfig, OrtDetector, TorchDetector, build_detector, export_onnx

    torch.set_num_threads(threads)
    config = DetectorConfig(input_size=320, score_threshold=0.3)
    torch.manual_seed(0)
    model = build_detector(config).eval()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        preprocess = export_onnx(model, config, Path(tmp) / "model.onnx")
        detectors = {
            "torch": TorchDetector(model, config, device="cpu"),
            "onnxruntime": OrtDetector(Path(tmp) / "model.onnx", preprocess, threads=threads,
                                       providers=["CPUExecutionProvider"]),
        }
        for name, det in detectors.items():
            table = detector_latency(det, batch_sizes=BATCH_SIZES, repeats=repeats)
            for batch, r in table.items():
                rows.append({"runtime": name, "arch": config.arch, "batch": batch, "median_ms": r["median_ms"],
                             "p99_ms": r["p99_ms"], "per_image_ms": r["per_image_ms"]})
    return rows


def main() -> None:
    table = Table(title="detector latency, 384x640 frames -> 320 px, CPU")
    for col in ("runtime", "arch", "batch", "median ms", "p99 ms", "ms / image"):
        table.add_column(col)
    for r in run():
        table.add_row(r["runtime"], r["arch"], str(r["batch"]), f"{r['median_ms']:.1f}", f"{r['p99_ms']:.1f}",
                      f"{r['per_image_ms']:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
