"""Detector latency: wall time of ``detector.detect`` on random frames, per batch size."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np


def detector_latency(
    detector: Any,
    *,
    batch_sizes: Sequence[int] = (1, 4),
    size: tuple[int, int] = (384, 640),
    repeats: int = 20,
    warmup: int = 3,
    seed: int = 0,
) -> dict[int, dict[str, float]]:
    """``{batch: {"median_ms", "p99_ms", "per_image_ms", "repeats"}}`` for ``detect`` on batches of
    random ``size`` (H, W) BGR frames. ``warmup`` calls per batch size are run first and excluded
    (first calls allocate and tune kernels). p99 over few repeats is close to the max.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    if not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(f"batch_sizes must be positive, got {list(batch_sizes)}")
    rng = np.random.default_rng(seed)
    out: dict[int, dict[str, float]] = {}
    for batch in batch_sizes:
        images = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(batch)]
        for _ in range(warmup):
            detector.detect(images)
        times = np.empty(repeats)
        for i in range(repeats):
            start = time.perf_counter()
            detector.detect(images)
            times[i] = (time.perf_counter() - start) * 1000.0
        median = float(np.median(times))
        out[int(batch)] = {
            "median_ms": median,
            "p99_ms": float(np.percentile(times, 99)),
            "per_image_ms": median / batch,
            "repeats": repeats,
        }
    return out
