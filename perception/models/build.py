"""Build torchvision detectors from scratch and the dense inference graph that ONNX exports.

Every model is built with ``weights=None, weights_backbone=None``: nothing is downloaded.
Training images are always ``config.train_shape`` canvases, so torchvision's internal resize is
an identity; inference runs ``DenseDetector`` on ``config.input_shape`` canvases with fixed
anchors that it precomputes once.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import nn
from torchvision.models import mobilenet_v3_large
from torchvision.models.detection import FCOS, fasterrcnn_mobilenet_v3_large_320_fpn, ssdlite320_mobilenet_v3_large
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.image_list import ImageList
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from perception.models.config import DetectorConfig

# MobileNetV3-Large (reduced tail) feature blocks that end the stride-8, -16 and -32 stages.
_MNV3_RETURN = {"6": "0", "12": "1", "16": "2"}
_MNV3_CHANNELS = [40, 112, 480]
DENSE_ARCHS = ("fcos_mnv3", "ssdlite")


def _norm_layer(config: DetectorConfig) -> Callable[..., nn.Module]:
    if config.norm == "group":
        return partial(nn.GroupNorm, 8)
    return partial(nn.BatchNorm2d, eps=1e-3, momentum=0.03)


def build_detector(config: DetectorConfig) -> nn.Module:
    """A freshly initialised torchvision detection model for ``config`` (seed it first)."""
    size = config.input_size
    if config.arch == "ssdlite":
        model = ssdlite320_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=config.num_classes, norm_layer=_norm_layer(config)
        )
        model.transform.fixed_size = (size, size)
        model.transform.min_size, model.transform.max_size = (size,), size
    elif config.arch == "fasterrcnn_mnv3":
        model = fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=None, weights_backbone=None, num_classes=config.num_classes, min_size=size, max_size=size
        )
    else:
        model = _fcos_mnv3(config)
    _set_inference_params(model, config)
    return model


def _fcos_mnv3(config: DetectorConfig) -> FCOS:
    body = mobilenet_v3_large(weights=None, norm_layer=_norm_layer(config), reduced_tail=True).features
    backbone = BackboneWithFPN(
        body, _MNV3_RETURN, _MNV3_CHANNELS, config.fpn_channels, extra_blocks=LastLevelMaxPool()
    )
    # One anchor point per location; its size is the level's stride (FCOS's scale ranges key off it).
    anchors = AnchorGenerator(((8,), (16,), (32,), (64,)), ((1.0,),) * 4)
    head = FCOSHead(config.fpn_channels, 1, config.num_classes, num_convs=config.head_convs)
    # Start every box at one stride from its point on each side instead of ~0: the regression
    # output passes a ReLU, and from scratch near-zero outputs die in the first steps (GIoU loss
    # stuck at 1.0 on the synthetic scenes).
    nn.init.constant_(head.regression_head.bbox_reg.bias, 1.0)
    # torchvision resizes so the short side is min_size unless the long side passes max_size:
    # the training canvas's own sides make that an identity.
    short, long = sorted(config.train_shape)
    return FCOS(backbone, config.num_classes, min_size=short, max_size=long, anchor_generator=anchors, head=head)


def _set_inference_params(model: nn.Module, config: DetectorConfig) -> None:
    # torchvision's own postprocess (used for Faster R-CNN) follows our thresholds.
    if hasattr(model, "roi_heads"):
        model.roi_heads.score_thresh = config.score_threshold
        model.roi_heads.nms_thresh = config.nms_iou
        model.roi_heads.detections_per_img = config.max_detections
    else:
        model.score_thresh = config.score_threshold
        model.nms_thresh = config.nms_iou
        model.detections_per_img = config.max_detections


def normalisation(model: nn.Module) -> tuple[list[float], list[float]]:
    """(mean, std) per RGB channel that the model's transform applies to [0, 1] images."""
    return [float(v) for v in model.transform.image_mean], [float(v) for v in model.transform.image_std]


class DenseDetector(nn.Module):
    """The network without its per-image postprocess: what ONNX exports, batch dimension free.

    Input:  ``(B, 3, h, w)`` float32, RGB, already normalised with ``normalisation(model)``.
    Output: ``boxes (B, A, 4)`` float32 xyxy in input pixels (clipped to the input);
            ``scores (B, A, K)`` float32 per class, K = our classes (background dropped).
    Score threshold, NMS and undoing the letterbox happen in numpy (``perception.models.postprocess``)
    for both torch and onnxruntime, so the two runtimes share everything but the graph.
    """

    def __init__(self, model: nn.Module, input_shape: tuple[int, int]) -> None:
        super().__init__()
        if hasattr(model, "roi_heads") or not hasattr(model, "box_coder"):
            raise ValueError(f"{type(model).__name__} has no dense head; dense archs are {list(DENSE_ARCHS)}")
        self.model = model
        height, width = self.input_shape = tuple(input_shape)
        self.is_fcos = isinstance(model, FCOS)
        with torch.no_grad():
            probe = torch.zeros(1, 3, height, width)
            feats = self._features(probe)
            anchors = model.anchor_generator(ImageList(probe, [(height, width)]), feats)[0]
        self.register_buffer("anchors", anchors.detach().clone(), persistent=False)
        self.register_buffer("limit", torch.tensor([width, height, width, height], dtype=torch.float32), persistent=False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.model.backbone(x)
        return [feats] if isinstance(feats, torch.Tensor) else list(feats.values())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model.head(self._features(x))
        batch = x.shape[0]
        anchors = self.anchors.unsqueeze(0).expand(batch, -1, -1)
        if self.is_fcos:
            scores = torch.sqrt(torch.sigmoid(out["cls_logits"]) * torch.sigmoid(out["bbox_ctrness"]))
            boxes = self.model.box_coder.decode(out["bbox_regression"], anchors)
        else:
            scores = torch.softmax(out["cls_logits"], dim=-1)
            codes = out["bbox_regression"]
            boxes = self.model.box_coder.decode_single(codes.reshape(-1, 4), anchors.reshape(-1, 4))
            boxes = boxes.reshape(codes.shape)
        return torch.minimum(boxes.clamp(min=0), self.limit), scores[..., 1:]
