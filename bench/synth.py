"""Synthetic scene speed: frames per second at 640x384 on one core, render only and render+write.

Goal: >= 200 frames/s rendered on one core. Run with ``OMP_NUM_THREADS=1`` for a one-core number
(this module pins OpenCV to one thread itself):

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.synth
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2

from perception.data.synthetic import SceneConfig, render_scene, write_sequence

FRAMES = 300
SEEDS = (0, 1, 2)


def run(frames: int = FRAMES, seeds: tuple[int, ...] = SEEDS) -> list[dict]:
    """One row per mode: frames, seconds, frames/s (median over seeds), labelled objects per frame."""
    cv2.setNumThreads(1)
    config = SceneConfig()
    rows = []
    render_fps, render_cpu, objects = [], [], 0
    for seed in seeds:
        wall, cpu = time.perf_counter(), time.process_time()
        for scene in render_scene(seed=seed, frames=frames, config=config):
            objects += len(scene.tracks)
        render_fps.append(frames / (time.perf_counter() - wall))
        render_cpu.append(frames / (time.process_time() - cpu))
    per_frame = objects / (frames * len(seeds))
    rows.append(_row("render", frames, render_fps, render_cpu, per_frame, config))
    write_fps, write_cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            wall, cpu = time.perf_counter(), time.process_time()
            name = f"seq-{seed}"
            write_sequence(Path(tmp) / name, name=name, seed=seed, frames=frames, config=config)
            write_fps.append(frames / (time.perf_counter() - wall))
            write_cpu.append(frames / (time.process_time() - cpu))
    rows.append(_row("render+write", frames, write_fps, write_cpu, per_frame, config))
    return rows


def _median(values: list[float]) -> float:
    return round(sorted(values)[len(values) // 2], 1)


def _row(mode: str, frames: int, fps: list[float], cpu_fps: list[float], objects: float,
         config: SceneConfig) -> dict:
    # cpu_fps counts this process's CPU time only: the fairer one-core number on a shared machine.
    return {
        "mode": mode,
        "size": f"{config.width}x{config.height}",
        "frames": frames * len(fps),
        "fps_median": _median(fps),
        "cpu_fps_median": _median(cpu_fps),
        "objects_per_frame": round(objects, 2),
        "goal_fps": 200 if mode == "render" else None,
    }


def main() -> None:
    from bench.tables import print_rows

    print_rows("synthetic scenes, one core", run())


if __name__ == "__main__":
    main()
