"""The model bundle: what the registry stores and the service loads. Plain files, never a pickle.

    <dir>/model.onnx         detector graph (``perception.models.export``)
    <dir>/preprocess.json    how to feed it: input size, mean/std, class names, thresholds, I/O names
    <dir>/tracker.yaml       tracker config as a mapping: ``{name: bytetrack, <fields>}``
    <dir>/report.json        evaluation report (any JSON object)
    <dir>/samples.png        annotated sample frames (optional)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import onnx
import yaml

from perception.models.ort_detector import check_preprocess

ONNX, PREPROCESS, TRACKER, REPORT, SAMPLES = (
    "model.onnx", "preprocess.json", "tracker.yaml", "report.json", "samples.png"
)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Bundle:
    """A validated bundle folder: file paths plus the parsed configs."""

    root: Path
    onnx_path: Path
    preprocess: Mapping[str, Any]
    tracker: Mapping[str, Any]
    report: Mapping[str, Any]
    samples_png: Path | None = None
    files: tuple[str, ...] = field(default=())

    def detector(self, **kwargs: Any):
        """An ``OrtDetector`` for this bundle (kwargs: ``providers``, ``threads``)."""
        from perception.models.ort_detector import OrtDetector

        return OrtDetector(self.onnx_path, self.preprocess, **kwargs)


def _check_tracker(tracker: Mapping[str, Any]) -> None:
    if not isinstance(tracker, Mapping):
        raise ValueError(f"{TRACKER} must hold a mapping, got {type(tracker).__name__}")
    if not isinstance(tracker.get("name"), str) or not tracker["name"]:
        raise ValueError(f"{TRACKER} must have a non-empty 'name' (e.g. bytetrack), got {tracker.get('name')!r}")


def write_bundle(
    out_dir: Path,
    *,
    onnx_path: Path,
    preprocess: Mapping[str, Any],
    tracker: Mapping[str, Any],
    report: Mapping[str, Any],
    samples_png: Path | None = None,
) -> Bundle:
    """Write a bundle folder (created; must be empty or absent) and return it loaded back."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"bundle folder {out_dir} is not empty")
    check_preprocess(preprocess)
    _check_tracker(tracker)
    if not isinstance(report, Mapping):
        raise ValueError(f"report must be a mapping, got {type(report).__name__}")
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_path, out_dir / ONNX)
    (out_dir / PREPROCESS).write_text(json.dumps(dict(preprocess), indent=2), encoding="utf-8")
    (out_dir / TRACKER).write_text(yaml.safe_dump(dict(tracker), sort_keys=False), encoding="utf-8")
    (out_dir / REPORT).write_text(json.dumps(dict(report), indent=2, allow_nan=False), encoding="utf-8")
    if samples_png is not None:
        shutil.copyfile(samples_png, out_dir / SAMPLES)
    return load_bundle(out_dir)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def load_bundle(bundle_dir: Path) -> Bundle:
    """Read and validate every file; ``ValueError`` names the missing or bad one."""
    root = Path(bundle_dir)
    if not root.is_dir():
        raise ValueError(f"bundle folder {root} does not exist")
    for name in (ONNX, PREPROCESS, TRACKER, REPORT):
        if not (root / name).is_file():
            raise ValueError(f"bundle {root} is missing {name}")
    try:
        onnx.checker.check_model(str(root / ONNX))
    except Exception as exc:  # onnx raises several types (ValidationError, DecodeError, ...)
        raise ValueError(f"{root / ONNX}: not a valid ONNX model ({exc})") from exc
    preprocess = _read_json(root / PREPROCESS)
    if not isinstance(preprocess, dict):
        raise ValueError(f"{root / PREPROCESS}: expected a JSON object")
    try:
        check_preprocess(preprocess)
    except ValueError as exc:
        raise ValueError(f"{root / PREPROCESS}: {exc}") from exc
    try:
        tracker = yaml.safe_load((root / TRACKER).read_text(encoding="utf-8"))
        _check_tracker(tracker)
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{root / TRACKER}: {exc}") from exc
    report = _read_json(root / REPORT)
    if not isinstance(report, dict):
        raise ValueError(f"{root / REPORT}: expected a JSON object")
    samples = root / SAMPLES
    if samples.exists() and samples.read_bytes()[:8] != _PNG_MAGIC:
        raise ValueError(f"{samples}: not a PNG file")
    return Bundle(
        root=root,
        onnx_path=root / ONNX,
        preprocess=preprocess,
        tracker=tracker,
        report=report,
        samples_png=samples if samples.exists() else None,
        files=tuple(sorted(p.name for p in root.iterdir())),
    )
