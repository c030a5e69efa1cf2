"""Build a small real bundle (fixed-seed untrained detector exported to ONNX) for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path


def untrained_bundle(out_dir: Path, *, seed: int = 0, input_size: int = 320, score_threshold: float = 0.05) -> Path:
    """A complete bundle folder at ``out_dir``: the default arch with random weights (boxes are
    meaningless but plentiful at a low threshold), a permissive ByteTrack config, a stub report."""
    import torch

    from perception.bundle import write_bundle
    from perception.config import override
    from perception.models.build import build_detector
    from perception.models.config import DetectorConfig
    from perception.models.export import export_onnx

    torch.manual_seed(seed)
    config = override(DetectorConfig(), {"input_size": input_size, "score_threshold": score_threshold})
    model = build_detector(config).eval()
    onnx_path = Path(out_dir).with_name(Path(out_dir).name + ".onnx")
    preprocess = export_onnx(model, config, onnx_path)
    # Untrained scores sit near the threshold: let the tracker take them so tracks exist.
    tracker = {"name": "bytetrack", "detection_threshold": score_threshold, "low_detection_threshold": 0.0,
               "track_activation_threshold": score_threshold, "minimum_consecutive_frames": 1}
    write_bundle(Path(out_dir), onnx_path=onnx_path, preprocess=preprocess, tracker=tracker,
                 report={"note": f"untrained, seed {seed}"})
    onnx_path.unlink()
    return Path(out_dir)
