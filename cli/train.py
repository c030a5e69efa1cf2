"""``percept train``: train a detector in-process, evaluate it, write a model bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.common import console, fail


def train(
    data: Path = typer.Option(..., "--data", help="Percept dataset folder (dataset.yaml + MOT sequences)."),
    out: Path = typer.Option(..., "--out", help="Work folder: checkpoints, model.pt, model.onnx, bundle/. "
                             "Rerunning with the same folder resumes training."),
    arch: Optional[str] = typer.Option(None, "--arch", help="fcos_mnv3 | ssdlite | fasterrcnn_mnv3 (no bundle)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Passes over the train split."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate."),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="Network input width, pixels (multiple of 32)."),
    input_height: Optional[int] = typer.Option(
        None, "--input-height", help="Network input height, pixels (default: params.yaml; unset there = square)."),
    train_crop: Optional[int] = typer.Option(
        None, "--train-crop", help="Train on random square crops of this side at the input's scale (fcos_mnv3)."),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Wall-clock training budget."),
    params: Path = typer.Option(Path("params.yaml"), "--params", help="detector:/train:/tracker: keys."),
) -> None:
    """Train from scratch on the train split, report test-split mAP, write OUT/bundle."""
    from perception.config import load_params, override
    from perception.models.config import config_from_params

    cli_values = {"arch": arch, "epochs": epochs, "lr": lr, "input_size": input_size, "input_height": input_height,
                  "train_crop": train_crop, "max_train_minutes": minutes}
    try:
        values = load_params(params)
        config = override(config_from_params(values), {k: v for k, v in cli_values.items() if v is not None})
    except ValueError as exc:
        fail(str(exc))
    tracker = dict(values.get("tracker") or {"name": "bytetrack"})
    try:
        _run(data=data, out=out, config=config, tracker=tracker)
    except ValueError as exc:
        fail(str(exc))


def _run(*, data: Path, out: Path, config, tracker: dict) -> None:
    import shutil

    from perception.bundle import write_bundle
    from perception.config import as_dict, override
    from perception.data.dataset import read_dataset_yaml
    from perception.eval.detection import evaluate_detector
    from perception.models import OrtDetector, export_onnx, load_detector, train_detector

    spec = read_dataset_yaml(data)
    if tuple(spec.classes) != config.classes:  # the dataset decides what there is to detect
        config = override(config, {"classes": list(spec.classes)})
    console.print(f"training [bold]{config.arch}[/] on {data} ({', '.join(spec.split('train'))})")

    def on_epoch(epoch: int, metrics: dict) -> None:
        console.print(f"epoch {epoch:3d}  loss {metrics['loss']:.4f}  lr {metrics['lr']:.2e}  "
                      f"{metrics['images']} images in {metrics['seconds']:.1f} s")

    result = train_detector(data_root=data, out_dir=out, config=config, on_epoch=on_epoch, progress=True)
    if result.resumed_from:
        console.print(f"resumed after epoch {result.resumed_from}")
    if result.stopped_early:
        console.print(f"time budget reached after {len(result.epochs)} epochs")
    model, config = load_detector(result.model_path)
    if config.arch == "fasterrcnn_mnv3":
        console.print(f"weights: {result.model_path} (fasterrcnn_mnv3 has no ONNX export, so no bundle)")
        return
    preprocess = export_onnx(model, config, out / "model.onnx")
    detector = OrtDetector(out / "model.onnx", preprocess)
    report: dict = {"config": as_dict(config), "epochs": list(result.epochs)}
    if spec.split("test"):
        report["detection"] = evaluate_detector(detector, data, split="test")
        det = report["detection"]
        per_class = ", ".join(f"{k} {v:.3f}" for k, v in det["ap50_per_class"].items() if v is not None)
        console.print(f"test mAP@0.5 [bold]{det['map50']:.3f}[/]  mAP@[.5:.95] {det['map']:.3f}  ({per_class})")
    else:
        console.print("dataset has no test split: no mAP")
    bundle = out / "bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    write_bundle(bundle, onnx_path=out / "model.onnx", preprocess=preprocess, tracker=tracker, report=report)
    console.print(f"bundle: {bundle}")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
