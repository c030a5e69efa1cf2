from __future__ import annotations

import pytest

from perception.config import override
from perception.models.config import DetectorConfig


@pytest.mark.parametrize(
    "values, error",
    [
        ({}, None),
        ({"arch": "ssdlite", "classes": ["a"]}, None),
        ({"max_train_minutes": 2.5}, None),
        ({"arch": "yolo"}, "arch must be one of"),
        ({"optimizer": "adam"}, "optimizer must be one of"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"norm": "layer"}, "norm must be one of"),
        ({"classes": []}, "classes must be non-empty"),
        ({"classes": ["a", "a"]}, "unique"),
        ({"input_size": 300}, "multiple of 32"),
        ({"input_size": 32}, "multiple of 32"),
        ({"input_size": 512, "input_height": 320, "train_crop": 256}, None),
        ({"input_height": 300}, "input_height must be a multiple of 32"),
        ({"train_crop": 32}, "train_crop must be a multiple of 32"),
        ({"arch": "ssdlite", "input_height": 256}, "need arch fcos_mnv3"),
        ({"arch": "fasterrcnn_mnv3", "train_crop": 256}, "need arch fcos_mnv3"),
        ({"fpn_channels": 48}, "fpn_channels"),
        ({"lr": 0}, "lr must be > 0"),
        ({"epochs": 0}, "epochs must be > 0"),
        ({"batch_size": -1}, "batch_size"),
        ({"weight_decay": -1e-4}, "weight_decay must be >= 0"),
        ({"max_train_minutes": 0}, "max_train_minutes"),
        ({"hflip": 1.5}, "hflip must be in"),
        ({"score_threshold": -0.1}, "score_threshold"),
        ({"scale_jitter": 1.0}, "scale_jitter"),
        ({"not_a_key": 1}, "unknown DetectorConfig key"),
    ],
)
def test_config_validation(values: dict, error: str | None) -> None:
    if error is None:
        cfg = override(DetectorConfig(), values)
        assert cfg.num_classes == len(cfg.classes) + 1
        assert isinstance(cfg.classes, tuple)
    else:
        with pytest.raises(ValueError, match=error):
            override(DetectorConfig(), values)


@pytest.mark.parametrize(
    "values, input_shape, train_shape",
    [
        ({}, (320, 320), (320, 320)),
        ({"input_size": 512, "input_height": 320}, (320, 512), (320, 512)),
        ({"input_size": 512, "input_height": 320, "train_crop": 256}, (320, 512), (256, 256)),
    ],
)
def test_input_and_training_shapes(values: dict, input_shape, train_shape) -> None:
    cfg = override(DetectorConfig(), values)
    assert cfg.input_shape == input_shape and cfg.train_shape == train_shape
