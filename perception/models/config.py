"""``DetectorConfig``: everything that decides how a detector is built, trained and run.

Why the default is ``fcos_mnv3`` (see docs/detector.md for the numbers; 8 min on 2 loaded cores
gave test mAP@0.5 0.38 on synthetic scenes, short of the 0.60 goal): trained from scratch for
minutes, the anchor-free FCOS head on a MobileNetV3 FPN (strides 8..64, a narrow
64-channel neck) learns small objects that SSDlite320 cannot reach: SSDlite's smallest default
box is 0.2 x 320 = 64 px and its first feature map has stride 16, while pedestrians in a
640x384 frame letterboxed to 320 px are 8-30 px tall. Faster R-CNN is slower per image and its
two-stage graph has no dense output to export with a dynamic batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from perception.config import override

ARCHS = ("fcos_mnv3", "ssdlite", "fasterrcnn_mnv3")
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "constant")
NORMS = ("batch", "group")


@dataclass(frozen=True)
class DetectorConfig:
    """How to build, train and run one detector. Override from ``params.yaml`` ``detector:``/``train:``.

    Model
      arch: one of ``ARCHS``. ``fcos_mnv3`` (default): FCOS head on a MobileNetV3-Large FPN built
        here from torchvision blocks; ``ssdlite``: torchvision SSDlite320-MobileNetV3-Large;
        ``fasterrcnn_mnv3``: torchvision Faster R-CNN MobileNetV3-Large-320-FPN (torch only: no
        ONNX export).
      input_size: width of the network input in pixels (and its height unless ``input_height`` is
        set). Frames are letterboxed into it (aspect kept, padded bottom/right). Larger finds
        smaller objects; the cost grows with the input's area.
      input_height: height of the network input (``None``: square). An input shaped like the frames
        (512x320 for 640x384 scenes) spends no compute on padding. ``fcos_mnv3`` only.
      train_crop: side of the square random crops training sees, cut from frames letterboxed at
        the input's scale (``None``: the whole input). The convolutional net learns objects at
        their inference size while a step costs only a crop's area. ``fcos_mnv3`` only.
      classes: class names; our ``class_id`` i is torchvision label i + 1 (label 0 = background).
      fpn_channels: FPN/neck width for ``fcos_mnv3``. Wider learns more but each doubling costs
        ~3x in the head on CPU.
      head_convs: conv layers per FCOS tower. Fewer is faster and converges sooner from scratch.
      norm: ``group`` (GroupNorm, independent of batch size: safe with the small batches CPUs
        allow) or ``batch`` (BatchNorm: faster, but its running statistics are poor with batches
        under ~16 and few iterations).

    Optimisation
      optimizer: ``adamw`` (forgiving from scratch) or ``sgd`` (momentum 0.9; needs a tuned lr).
      lr: peak learning rate after warmup.
      lr_schedule: ``cosine`` decays to 1% of ``lr`` over the run (by steps, or by the time budget
        when ``max_train_minutes`` is set, whichever is further along); ``constant`` keeps it.
      warmup_iters: linear warmup from 10% of lr; from-scratch detectors diverge without it.
      weight_decay: decoupled (AdamW) or L2 (SGD) decay; norm and bias parameters are exempt.
      epochs: passes over the training split.
      batch_size: images per step. Larger is steadier but each step is slower on CPU.
      max_train_minutes: wall-clock budget (None = no budget). Training stops at the end of the
        step that exceeds it and saves a checkpoint; the schedule anneals against it.
      grad_clip: max global gradient norm (0 = off); guards the first from-scratch steps.

    Augmentation (training only)
      hflip: probability of a horizontal flip.
      color_jitter: max relative change of brightness and contrast (0 = off).
      scale_jitter: the letterbox scale is multiplied by a factor in [1 - j, 1 + j] and the image
        placed at a random offset (cropped when larger). 0 = plain letterbox.

    Inference
      score_threshold: detections below this score are dropped. Lower finds more and costs
        precision; mAP is computed from everything above it.
      nms_iou: IoU above which a lower-scoring box of the same class is suppressed.
      max_detections: boxes kept per image after NMS.

    Run
      seed: seeds weight init, sampling order and augmentation; a rerun repeats the run.
      num_workers: DataLoader worker processes (0 = in the training process; best on 2 cores).
      threads: torch CPU threads (0 = leave torch's default).
    """

    arch: str = "fcos_mnv3"
    input_size: int = 320
    input_height: int | None = None
    train_crop: int | None = None
    classes: tuple[str, ...] = ("car", "pedestrian", "cyclist")
    fpn_channels: int = 64
    head_convs: int = 2
    norm: str = "group"
    optimizer: str = "adamw"
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    warmup_iters: int = 100
    weight_decay: float = 1e-4
    epochs: int = 12
    batch_size: int = 8
    max_train_minutes: float | None = None
    grad_clip: float = 10.0
    hflip: float = 0.5
    color_jitter: float = 0.2
    scale_jitter: float = 0.2
    score_threshold: float = 0.3
    nms_iou: float = 0.5
    max_detections: int = 100
    seed: int = 0
    num_workers: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        _one_of("arch", self.arch, ARCHS)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("lr_schedule", self.lr_schedule, SCHEDULES)
        _one_of("norm", self.norm, NORMS)
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be non-empty and unique, got {list(self.classes)}")
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        for name in ("input_size", "input_height", "train_crop"):
            value = getattr(self, name)
            if value is not None and (value < 64 or value % 32):
                raise ValueError(f"{name} must be a multiple of 32 and >= 64, got {value}")
        if self.arch != "fcos_mnv3" and (self.input_height is not None or self.train_crop is not None):
            raise ValueError(f"input_height and train_crop need arch fcos_mnv3, got arch {self.arch!r}")
        if self.fpn_channels < 32 or self.fpn_channels % 32:
            raise ValueError(f"fpn_channels must be a multiple of 32 and >= 32, got {self.fpn_channels}")
        _positive(self, "lr", "epochs", "batch_size", "max_detections", "head_convs")
        _non_negative(self, "warmup_iters", "weight_decay", "grad_clip", "color_jitter", "num_workers", "threads")
        if self.max_train_minutes is not None and self.max_train_minutes <= 0:
            raise ValueError(f"max_train_minutes must be > 0 or None, got {self.max_train_minutes}")
        for name in ("hflip", "score_threshold", "nms_iou"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.scale_jitter < 1:
            raise ValueError(f"scale_jitter must be in [0, 1), got {self.scale_jitter}")

    @property
    def input_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the network input."""
        return (self.input_height or self.input_size, self.input_size)

    @property
    def train_shape(self) -> tuple[int, int]:
        """``(height, width)`` of one training image: the crop, else the whole input."""
        return (self.train_crop, self.train_crop) if self.train_crop else self.input_shape

    @property
    def num_classes(self) -> int:
        """torchvision's ``num_classes``: ours plus background (label 0)."""
        return len(self.classes) + 1


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


def _positive(cfg: DetectorConfig, *names: str) -> None:
    for name in names:
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(cfg, name)}")


def _non_negative(cfg: DetectorConfig, *names: str) -> None:
    for name in names:
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(cfg, name)}")


def config_from_params(params: Mapping[str, Any]) -> DetectorConfig:
    """``DetectorConfig`` from ``params.yaml``: defaults, then ``detector:``, then ``train:`` keys."""
    config = DetectorConfig()
    for section in ("detector", "train"):
        values = params.get(section) or {}
        if not isinstance(values, Mapping):
            raise ValueError(f"params.yaml {section}: must be a mapping, got {type(values).__name__}")
        config = override(config, values)
    return config
