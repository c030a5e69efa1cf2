"""The Ray worker side of ``retrain``: train one candidate, evaluate it, write its bundle.

``train_and_evaluate`` is a plain function (callable in-process, which the benchmark does); the
flow runs it as the Ray task ``train_remote``. Ray's ``max_retries`` covers lost workers (a killed
process, an OOM kill, a lost node): the retry lands in the same ``work_dir`` and
``train_detector`` resumes from its last per-epoch checkpoint. Exceptions raised by our code are
not retried by Ray; the flow decides about those.

Each attempt appends ``{"pid", "host", "started"}`` to ``work_dir/attempts.jsonl`` first, and
every finished (checkpointed) epoch rewrites ``work_dir/progress.json``, so an operator (or a
test) can see which process holds a candidate, how far it got and how often it was restarted.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import ray

ATTEMPTS_FILE = "attempts.jsonl"
PROGRESS_FILE = "progress.json"
BUNDLE_DIR = "bundle"
SAMPLE_FRAMES = 4


def record_attempt(work_dir: Path) -> dict[str, Any]:
    """Append this process to ``work_dir/attempts.jsonl``; return the entry."""
    entry = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    work_dir.mkdir(parents=True, exist_ok=True)
    with open(work_dir / ATTEMPTS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    return entry


def _write_progress(work_dir: Path, epoch: int) -> None:
    # Written after train_detector saved the epoch's checkpoint: a restart resumes from here.
    tmp = work_dir / f"{PROGRESS_FILE}.tmp"
    tmp.write_text(json.dumps({"epoch": epoch, "pid": os.getpid(), "time": time.time()}), encoding="utf-8")
    tmp.replace(work_dir / PROGRESS_FILE)


def read_progress(work_dir: Path) -> dict[str, Any] | None:
    """``{"epoch", "pid", "time"}`` of the last finished epoch, or None before the first."""
    try:
        return json.loads((Path(work_dir) / PROGRESS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_attempts(work_dir: Path) -> list[dict[str, Any]]:
    path = Path(work_dir) / ATTEMPTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def train_and_evaluate(
    *,
    data_root: str,
    work_dir: str,
    overrides: Mapping[str, Any],
    tracker: Mapping[str, Any],
    run_id: str | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Train a detector with ``overrides`` on ``data_root``, evaluate it on ``split``, write a bundle.

    overrides: ``DetectorConfig`` keys (an unknown key or bad value raises ``ValueError`` here,
        inside the worker, so the candidate is recorded as failed and the others carry on).
        ``classes`` always comes from the dataset's ``dataset.yaml``.
    tracker: ``{"name": ..., <config fields>}`` used for the HOTA/MOTA/IDF1 evaluation and
        stored in the bundle.
    run_id: MLflow run (created by the flow) that receives params, per-epoch metrics and final
        metrics; ``None`` logs nothing.
    Returns ``{"bundle_dir", "metrics", "device", "epochs", "attempts", "resumed_from", "config"}``
    (JSON-safe; ``resumed_from`` = the checkpointed epoch the last attempt started from).
    """
    from perception.config import as_dict, override
    from perception.models import DetectorConfig, train_detector

    from perception.data.dataset import read_dataset_yaml

    work = Path(work_dir)
    record_attempt(work)
    # A model predicts the classes of the data it is trained on, whatever params.yaml lists.
    classes = list(read_dataset_yaml(Path(data_root)).classes)
    config = override(DetectorConfig(), {**dict(overrides), "classes": classes})
    logger = _MlflowLogger(run_id) if run_id else None
    if logger:
        logger.params(as_dict(config))

    def on_epoch(epoch: int, values: dict) -> None:
        _write_progress(work, epoch)
        if logger:
            logger.epoch(epoch, values)

    started = time.perf_counter()
    result = train_detector(
        data_root=Path(data_root), out_dir=work / "train", config=config, on_epoch=on_epoch
    )
    train_s = time.perf_counter() - started
    bundle, metrics = _evaluate_and_bundle(
        result=result, config=config, data_root=Path(data_root), work=work, tracker=tracker, split=split
    )
    metrics["train_seconds"] = train_s
    device = str(getattr(result, "device", "unknown"))
    if logger:
        logger.final(metrics, device=device)
    return {
        "bundle_dir": str(bundle),
        "metrics": metrics,
        "device": device,
        "epochs": int(config.epochs),
        "attempts": len(read_attempts(work)),
        "resumed_from": int(result.resumed_from),
        "config": as_dict(config),
    }


# Lost workers are retried by Ray; the flow overrides max_retries from params.yaml ``sweep:``.
train_remote = ray.remote(max_retries=2)(train_and_evaluate)


def _evaluate_and_bundle(
    *, result: Any, config: Any, data_root: Path, work: Path, tracker: Mapping[str, Any], split: str
) -> tuple[Path, dict[str, float]]:
    from perception.bundle import write_bundle
    from perception.data.dataset import read_dataset_yaml
    from perception.data.mot import read_seqinfo
    from perception.eval.detection import evaluate_detector
    from perception.eval.latency import detector_latency
    from perception.models import OrtDetector, export_onnx, load_trained

    onnx_path = work / "model.onnx"
    model = load_trained(result.model_path, config)
    preprocess = export_onnx(model, config, onnx_path)
    detector = OrtDetector(onnx_path, preprocess)
    sequences = read_dataset_yaml(data_root).split(split)
    if not sequences:
        raise ValueError(f"{data_root}: dataset has no {split!r} sequences to evaluate on")
    det_report = evaluate_detector(detector, data_root, split=split)
    detections = {seq: _detect_sequence(detector, data_root / seq) for seq in sequences}
    track_report = _evaluate_tracking(detections, data_root, work / "tracking", tracker)
    info = read_seqinfo(data_root / sequences[0])
    latency = detector_latency(detector, batch_sizes=(1,), size=(info.height, info.width))
    metrics = {
        "map50": float(det_report["map50"]),
        "map": float(det_report["map"]),
        "hota": float(track_report["HOTA"]),
        "mota": float(track_report["MOTA"]),
        "idf1": float(track_report["IDF1"]),
        "idsw": float(track_report["IDSW"]),
        "latency_ms_b1": float(latency[1]["median_ms"]),
    }
    report = {
        "split": split,
        "sequences": list(sequences),
        "metrics": metrics,
        "detection": det_report,
        "tracking": track_report,
        "latency": latency,
        "tracker": dict(tracker),
    }
    samples = work / "samples.png"
    _write_samples(detections, data_root, samples, config.classes)
    bundle = work / BUNDLE_DIR
    staging = work / f"{BUNDLE_DIR}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    write_bundle(
        staging,
        onnx_path=onnx_path,
        preprocess=preprocess,
        tracker=dict(tracker),
        report=_json_safe(report),
        samples_png=samples,
    )
    shutil.rmtree(bundle, ignore_errors=True)
    staging.rename(bundle)  # a bundle folder is either complete or absent
    return bundle, metrics


def _frames(seq_dir: Path) -> list[Path]:
    from perception.data.mot import read_seqinfo

    info = read_seqinfo(seq_dir)
    return sorted((seq_dir / info.im_dir).glob(f"*{info.im_ext}"))


def _detect_sequence(detector: Any, seq_dir: Path, batch: int = 8) -> list[Any]:
    """The detector's ``Detections`` for every frame of one sequence, in frame order."""
    import cv2

    paths = _frames(seq_dir)
    out: list[Any] = []
    for i in range(0, len(paths), batch):
        images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths[i : i + batch]]
        out.extend(detector.detect(images))
    return out


def _evaluate_tracking(
    detections: Mapping[str, list[Any]], data_root: Path, stage: Path, tracker: Mapping[str, Any]
) -> dict[str, float]:
    """Default tracker over the detector's output per sequence, scored against gt (COMBINED row)."""
    from perception.data.mot import MotRecords, read_seqinfo, write_mot, write_seqinfo
    from perception.eval.tracking import evaluate_tracking, track_sequence
    from perception.tracking import make_tracker

    shutil.rmtree(stage, ignore_errors=True)
    results = stage / "results"
    for seq, per_frame in detections.items():
        seq_stage = stage / "sequences" / seq
        (seq_stage / "det").mkdir(parents=True)
        write_seqinfo(seq_stage / "seqinfo.ini", read_seqinfo(data_root / seq))
        write_mot(seq_stage / "det" / "det.txt", _detection_records(per_frame, MotRecords))
        name = tracker.get("name")
        fields = {k: v for k, v in tracker.items() if k != "name"}
        instance = make_tracker(name, **fields) if name else make_tracker(**fields)
        records, _ = track_sequence(seq_stage, instance)
        write_mot(results / f"{seq}.txt", records)
    scores = evaluate_tracking(data_root, results, sequences=list(detections))
    return dict(scores["COMBINED"])


def _detection_records(per_frame: list[Any], records_cls: Any) -> Any:
    """MOT det rows (class_id + 1 in column 7, as our gt) from per-frame ``Detections``."""
    rows = [(f, d) for f, d in enumerate(per_frame, 1) if len(d)]
    if not rows:
        none = np.zeros(0, np.int64)
        return records_cls(none, none, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 3)))
    frame = np.concatenate([np.full(len(d), f, np.int64) for f, d in rows])
    xyxy = np.concatenate([d.xyxy for _, d in rows]).astype(np.float64)
    cls_ = np.concatenate([d.class_id for _, d in rows]).astype(np.float64)
    extra = np.column_stack([cls_ + 1, np.full(len(frame), -1.0), np.full(len(frame), -1.0)])
    return records_cls(
        frame=frame,
        track_id=np.full(len(frame), -1, np.int64),
        xywh=np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]),
        conf=np.concatenate([d.score for _, d in rows]).astype(np.float64),
        extra=extra,
    )


def _write_samples(
    detections: Mapping[str, list[Any]], data_root: Path, out: Path, classes: tuple[str, ...]
) -> None:
    """A 2x2 grid of test frames with the detector's boxes, for a glance in the MLflow UI."""
    import cv2

    tiles = []
    for seq, per_frame in detections.items():
        paths = _frames(data_root / seq)
        for idx in np.linspace(0, len(paths) - 1, num=min(2, len(paths)), dtype=int):
            image = cv2.imread(str(paths[idx]), cv2.IMREAD_COLOR)
            tiles.append(_annotate(image, per_frame[idx], classes))
        if len(tiles) >= SAMPLE_FRAMES:
            break
    tiles = tiles[:SAMPLE_FRAMES] or [np.zeros((64, 64, 3), np.uint8)]
    h, w = tiles[0].shape[:2]
    tiles = [cv2.resize(t, (w, h)) for t in tiles] + [np.zeros((h, w, 3), np.uint8)] * (-len(tiles) % 2)
    rows = [np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)]
    cv2.imwrite(str(out), np.vstack(rows))


_COLOURS = ((0, 200, 255), (60, 220, 60), (255, 120, 0))


def _annotate(image: np.ndarray, detections: Any, classes: tuple[str, ...]) -> np.ndarray:
    import cv2

    canvas = image.copy()
    for box, score, cls_ in zip(detections.xyxy, detections.score, detections.class_id):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        colour = _COLOURS[int(cls_) % len(_COLOURS)]
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 1)
        label = f"{classes[int(cls_)] if int(cls_) < len(classes) else cls_} {score:.2f}"
        cv2.putText(canvas, label, (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1)
    return canvas


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_to_builtin))


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class _MlflowLogger:
    """Streams a worker's metrics into the flow's MLflow run with one batched call per epoch.

    Epoch indices are the MLflow steps, so a resumed training (after a lost worker) continues the
    same curves instead of starting new ones.
    """

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id

    def params(self, config: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        from registry.store import session

        flat = {k: json.dumps(v) if isinstance(v, (list, tuple, dict)) else str(v) for k, v in config.items()}
        with session() as c:
            c.log_batch(self._run_id, params=[Param(k, v) for k, v in sorted(flat.items())])

    def epoch(self, epoch: int, values: Mapping[str, Any]) -> None:
        self._log(values, step=int(epoch))

    def final(self, metrics: Mapping[str, float], *, device: str) -> None:
        from registry.store import session

        # Final metrics reach the run through registry.register_bundle; only the device here.
        with session() as c:
            c.set_tag(self._run_id, "device", device)

    def _log(self, values: Mapping[str, Any], *, step: int) -> None:
        from mlflow.entities import Metric

        from registry.store import session

        now = int(time.time() * 1000)
        batch = [
            Metric(key=k, value=float(v), timestamp=now, step=step)
            for k, v in values.items()
            if isinstance(v, (int, float, np.number)) and np.isfinite(v)
        ]
        if batch:
            with session() as c:
                c.log_batch(self._run_id, metrics=batch)
