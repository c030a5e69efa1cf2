"""Orchestration overhead of ``retrain``: the flow with 2 candidates vs the same 2 trainings in-process.

``python -m bench.retrain`` ingests a small synthetic dataset into a temporary PERCEPT_HOME, then
measures, on the same data and configs:

- direct: ``flows.candidates.train_and_evaluate`` called twice, one after the other, in this
  process (train + ONNX export + evaluation + bundle; no Prefect, Ray or MLflow);
- flow: ``retrain`` with the same 2 candidates (Ray workers in parallel, 1 CPU or 1 GPU each,
  MLflow runs, registration, gate), timed with Ray, the Prefect server and the MLflow database
  already up; their start-up is reported on its own row (paid once per process or install).

What remains in the overhead is mostly fixed per retrain: fresh Ray worker processes import
torch/torchvision/onnxruntime/mlflow (seconds each; a long-running ``percept schedule`` process
reuses warm workers), MLflow logging and bundle registration. It shrinks relative to training
as datasets and epochs grow, so tiny settings overstate it.

overhead % = (flow - direct) / direct. Goal: <= 15 %. On 2 cores the two workers share the CPU
that one direct training uses alone, so parallelism gains little here; on a GPU machine each
worker gets its own GPU and logs its device (shown in the table). Environment:
``PERCEPT_BENCH_RETRAIN`` = ``sequences,frames,epochs`` (default ``3,24,2``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

GOAL_OVERHEAD_PCT = 15.0
CANDIDATES = ({"name": "fcos-lr2e-3"}, {"name": "fcos-lr4e-3", "lr": 0.004})


def _sizes() -> tuple[int, int, int]:
    # Default: trainings of ~1.5 min each, where the question "what does orchestration cost" has
    # an answer; at 3,24,2 (7 s each) the ~17 s fixed start-up cost is all there is to measure.
    raw = os.environ.get("PERCEPT_BENCH_RETRAIN", "5,60,5")
    sequences, frames, epochs = (int(x) for x in raw.split(","))
    return sequences, frames, epochs


def run() -> list[dict[str, Any]]:
    """Measure in a temporary PERCEPT_HOME; the environment and Ray are restored afterwards."""
    import shutil

    import ray

    saved = dict(os.environ)
    root = Path(tempfile.mkdtemp(prefix="percept-bench-retrain-"))
    try:
        return _measure(root)
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(root, ignore_errors=True)


def _measure(root: Path) -> list[dict[str, Any]]:
    sequences, frames, epochs = _sizes()
    os.environ.update(
        {
            "PERCEPT_HOME": str(root / "home"),
            "PERCEPT_WORKSPACE": str(root / "workspace"),
            "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(root / "prefect")),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "RAY_USAGE_STATS_ENABLED": "0",
            "DVC_NO_ANALYTICS": "1",
        }
    )
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from flows.candidates import train_and_evaluate
    from flows.ingest import ingest
    from flows.retrain import plan_candidates, retrain
    from flows.runtime import ensure_ray
    from flows.versioning import resolve_version
    from registry.store import ensure_experiment

    start = time.perf_counter()
    ensure_ray(dashboard=False)
    version = ingest(f"synth:sequences={sequences},frames={frames},seed=0", "bench")  # starts Prefect too
    ensure_experiment("percept-retrain")  # creates the MLflow database: once per PERCEPT_HOME
    setup_s = time.perf_counter() - start
    path = resolve_version("bench").path
    (root / "params.yaml").write_text("{}\n")
    sweep = {"candidates": list(CANDIDATES), "task_retries": 0}
    gate = {"floor_hota": 0.0, "floor_map50": 0.0, "latency_budget_ms": 1e6}

    # The direct side starts with its libraries imported; fresh Ray workers importing them is
    # part of what the flow costs.
    import perception.eval.detection, perception.eval.tracking, perception.models.export  # noqa: F401
    import perception.models.ort_detector, perception.models.train  # noqa: F401

    start = time.perf_counter()
    direct = []
    for i, cand in enumerate(plan_candidates(_sweep(sweep), {"epochs": epochs})):
        direct.append(
            train_and_evaluate(data_root=str(path), work_dir=str(root / f"direct-{i}"),
                               overrides=cand.overrides, tracker={"name": _tracker()})
        )
    direct_s = time.perf_counter() - start

    start = time.perf_counter()
    summary = retrain(dataset="bench", epochs=epochs, params_path=str(root / "params.yaml"),
                      overrides={"sweep": sweep, "gate": gate})
    flow_s = time.perf_counter() - start
    overhead = 100.0 * (flow_s - direct_s) / direct_s
    devices = sorted({r.get("device", "?") for r in summary["candidates"]})
    return [
        {"what": "setup (Ray, Prefect, MLflow db, ingest)", "seconds": setup_s, "devices": "",
         "note": f"{version.md5[:12]}"},
        {"what": "direct: 2 trainings in-process", "seconds": direct_s,
         "devices": ",".join(sorted({d["device"] for d in direct})),
         "note": f"hota {[round(d['metrics']['hota'], 1) for d in direct]}"},
        {"what": "flow: retrain with 2 candidates", "seconds": flow_s, "devices": ",".join(devices),
         "note": f"statuses {[r['status'] for r in summary['candidates']]}"},
        {"what": "overhead %", "seconds": overhead, "devices": "", "note": f"goal <= {GOAL_OVERHEAD_PCT:g} %"
         + (" (met)" if overhead <= GOAL_OVERHEAD_PCT else " (NOT met)")},
    ]


def _sweep(values: dict[str, Any]) -> Any:
    from flows.retrain import SweepConfig
    from perception.config import override

    return override(SweepConfig(), values)


def _tracker() -> str:
    from perception.tracking import DEFAULT_TRACKER

    return DEFAULT_TRACKER


def main() -> None:
    sequences, frames, epochs = _sizes()
    rows = run()
    table = Table(title=f"retrain overhead: {sequences} synthetic sequences x {frames} frames, "
                        f"{epochs} epochs, {os.cpu_count()} CPUs")
    for col in ("what", "seconds", "devices", "note"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for r in rows:
        table.add_row(r["what"], f"{r['seconds']:.1f}", r["devices"], r["note"])
    Console().print(table)


if __name__ == "__main__":
    main()
