"""Detector latency: torch vs onnxruntime for the default architecture, batch 1 and 4, at 320x320 and
at the shipped input shape (``params.yaml`` ``detector:``, 512x320 w x h).

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
    """Rows ``{input, runtime, batch, median_ms, p99_ms, per_image_ms}``."""
    from bench import shipped_detector_config
    from perception.config import override
    from perception.models import DetectorConfig

    shipped = shipped_detector_config()
    configs = [DetectorConfig(input_size=320, score_threshold=0.3), override(shipped, {"score_threshold": 0.3})]
    return [row for config in dict.fromkeys(configs) for row in _rows(config, repeats=repeats, threads=threads)]


def _rows(config, *, repeats: int, threads: int) -> list[dict]:
    import torch

    from perception.eval.latency import detector_latency
    from perception.models import OrtDetector, TorchDetector, build_detector, export_onnx

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_detector(config).eval()
    shape = "{1}x{0}".format(*config.input_shape)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        preprocess = export_onnx(model, config, Path(tmp) / "model.onnx")
        detectors = {
            "torch": TorchDetector(model, config, device="cpu"),
            "onnxruntime": OrtDetector(Path(tmp) / "model.onnx", preprocess, threads=threads,
                                       providers=["CPUExecutionProvider"]),
            # Spinning intra-op threads: lower latency on an idle machine, more CPU (the service's
            # default is off; see OrtDetector).
            "onnxruntime spin": OrtDetector(Path(tmp) / "model.onnx", preprocess, threads=threads, spin=True,
                                            providers=["CPUExecutionProvider"]),
        }
        for name, det in detectors.items():
            table = detector_latency(det, batch_sizes=BATCH_SIZES, repeats=repeats)
            for batch, r in table.items():
                rows.append({"input": shape, "runtime": name, "arch": config.arch, "batch": batch, "median_ms": r["median_ms"],
                             "p99_ms": r["p99_ms"], "per_image_ms": r["per_image_ms"]})
    return rows


def main() -> None:
    table = Table(title="detector latency, 640x384 frames, CPU (input w x h)")
    for col in ("input", "runtime", "arch", "batch", "median ms", "p99 ms", "ms / image"):
        table.add_column(col)
    for r in run():
        table.add_row(r["input"], r["runtime"], r["arch"], str(r["batch"]), f"{r['median_ms']:.1f}", f"{r['p99_ms']:.1f}",
                      f"{r['per_image_ms']:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
