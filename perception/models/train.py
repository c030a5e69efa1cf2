"""Train a detector from scratch: a plain PyTorch loop, seeded, checkpointed per epoch, resumable.

``out_dir`` layout::

    out_dir/checkpoints/epoch-001.pt   model + optimizer state after each epoch (state dicts only)
    out_dir/model.pt                   final weights + resolved config (``load_detector`` reads it)

Calling ``train_detector`` again with the same ``out_dir`` continues after the last checkpoint.
Every file is a dict of tensors and plain values, loaded with ``weights_only=True``.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from perception.config import as_dict, override
from perception.data.dataset import read_dataset_yaml
from perception.models.build import build_detector
from perception.models.config import DetectorConfig
from perception.models.data import Augment, DetectionDataset, collate


@dataclass(frozen=True)
class TrainResult:
    """model_path: final ``model.pt``; epochs: per-epoch metrics (``epoch``, ``loss``, loss parts,
    ``lr``, ``seconds``, ``images``); resumed_from: last epoch found on disk (0 = fresh start);
    stopped_early: the time budget ended training before ``config.epochs``; device: where it ran."""

    model_path: Path
    epochs: tuple[dict, ...]
    resumed_from: int
    stopped_early: bool
    device: str


def save_detector(path: Path, model: torch.nn.Module, config: DetectorConfig) -> None:
    torch.save({"config": as_dict(config), "model": model.state_dict()}, path)


def load_detector(path: Path, device: str = "cpu") -> tuple[torch.nn.Module, DetectorConfig]:
    """An eval-mode model and its config from a ``model.pt`` written by training."""
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
        config = override(DetectorConfig(), blob["config"])
        model = build_detector(config)
        model.load_state_dict(blob["model"])
    except (OSError, KeyError, RuntimeError) as exc:
        raise ValueError(f"{path}: not a percept detector checkpoint ({exc})") from exc
    return model.to(device).eval(), config


def load_trained(model_path: Path, config: DetectorConfig | None = None, device: str = "cpu") -> torch.nn.Module:
    """The eval-mode model in ``model_path``; ``config``, when given, must match the stored one."""
    model, stored = load_detector(model_path, device)
    if config is not None and as_dict(config) != as_dict(stored):
        raise ValueError(f"{model_path}: trained with a different config than the one given")
    return model


def _checkpoints(out_dir: Path) -> list[Path]:
    return sorted((out_dir / "checkpoints").glob("epoch-*.pt"))


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    # Norm scales and biases are not decayed: decaying them only fights the normalisation.
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _optimizer(model: torch.nn.Module, config: DetectorConfig) -> torch.optim.Optimizer:
    groups = _param_groups(model, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    return torch.optim.AdamW(groups, lr=config.lr)


def _lr_at(config: DetectorConfig, step: int, progress: float) -> float:
    warm = min(1.0, 0.1 + 0.9 * step / config.warmup_iters) if config.warmup_iters else 1.0
    if config.lr_schedule == "constant":
        return config.lr * warm
    floor = 0.01
    cosine = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warm * cosine


def train_detector(
    *,
    data_root: Path,
    out_dir: Path,
    config: DetectorConfig,
    on_epoch: Callable[[int, dict], None] | None = None,
    device: str | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train on the ``train`` split of the percept dataset at ``data_root``; write into ``out_dir``.

    ``on_epoch(epoch, metrics)`` is called after each epoch (1-based) with plain floats, e.g. to
    log them to MLflow. Mixed precision (bfloat16 autocast) on CUDA; float32 on CPU.
    """
    out_dir = Path(out_dir)
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    classes = read_dataset_yaml(Path(data_root)).classes
    if tuple(classes) != config.classes:
        raise ValueError(f"{data_root} has classes {list(classes)} but the config has {list(config.classes)}")
    if config.threads:
        torch.set_num_threads(config.threads)
    dataset = DetectionDataset(
        Path(data_root),
        split="train",
        input_size=config.input_shape,
        crop=config.train_crop,
        augment=Augment(config.hflip, config.color_jitter, config.scale_jitter),
        seed=config.seed,
    )
    steps_per_epoch = math.ceil(len(dataset) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    torch.manual_seed(config.seed)
    model = build_detector(config).to(device)
    optimizer = _optimizer(model, config)
    history: list[dict] = []
    start_epoch, step, spent = 0, 0, 0.0
    ckpts = _checkpoints(out_dir)
    if ckpts:
        state = torch.load(ckpts[-1], map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, step, spent = int(state["epoch"]), int(state["step"]), float(state["seconds"])
        history = list(state["history"])
    budget = config.max_train_minutes * 60 if config.max_train_minutes else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else nullcontext()
    bar = _progress_bar(progress)
    stopped = budget is not None and spent >= budget

    with bar:
        task = bar.add_task("train", total=total_steps, completed=step) if progress else None
        for epoch in range(start_epoch + 1, config.epochs + 1):
            if stopped:
                break
            torch.manual_seed(config.seed * 1000 + epoch)  # the epoch's order, the same after a resume
            dataset.set_epoch(epoch)
            loader = DataLoader(
                dataset, batch_size=config.batch_size, shuffle=True, collate_fn=collate,
                num_workers=config.num_workers, drop_last=len(dataset) > config.batch_size,
            )
            model.train()
            sums: dict[str, float] = {}
            images, t0 = 0, time.perf_counter()
            for batch_images, targets in loader:
                progress_frac = step / total_steps
                if budget:
                    progress_frac = max(progress_frac, (spent + time.perf_counter() - t0) / budget)
                lr = _lr_at(config, step, progress_frac)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                batch_images = [im.to(device) for im in batch_images]
                targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
                with autocast:
                    losses = model(batch_images, targets)
                loss = sum(losses.values())
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower lr ({config.lr})")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                step += 1
                images += len(batch_images)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(batch_images)
                sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * len(batch_images)
                if task is not None:
                    bar.update(task, advance=1, description=f"epoch {epoch} loss {float(loss.detach()):.3f}")
                if budget and spent + time.perf_counter() - t0 >= budget:
                    stopped = True
                    break
            seconds = time.perf_counter() - t0
            spent += seconds
            metrics = {k: v / max(images, 1) for k, v in sums.items()}
            metrics.update(epoch=epoch, lr=lr, seconds=seconds, images=images)
            history.append(metrics)
            torch.save(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                 "step": step, "seconds": spent, "history": history, "config": as_dict(config)},
                out_dir / "checkpoints" / f"epoch-{epoch:03d}.pt",
            )
            if on_epoch is not None:
                on_epoch(epoch, dict(metrics))

    model_path = out_dir / "model.pt"
    save_detector(model_path, model.eval(), config)
    return TrainResult(
        model_path=model_path,
        epochs=tuple(history),
        resumed_from=start_epoch,
        stopped_early=stopped and len(history) < config.epochs,
        device=device,
    )


def _progress_bar(enabled: bool):
    if not enabled:
        return nullcontext()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )
