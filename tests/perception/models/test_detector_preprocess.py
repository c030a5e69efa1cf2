from __future__ import annotations

import numpy as np
import pytest

from perception.models.preprocess import PAD_VALUE, decode_detections, letterbox, nms, to_batch


@pytest.mark.parametrize(
    "shape, size, scale, content",
    [
        ((384, 640, 3), 320, 0.5, (192, 320)),
        ((640, 384, 3), 320, 0.5, (320, 192)),
        ((100, 100, 3), 64, 0.64, (64, 64)),
        ((1, 3000, 3), 64, 64 / 3000, (1, 64)),
        # Rectangular inputs (h, w): the scale is the tighter of the two sides.
        ((384, 640, 3), (320, 512), 0.8, (307, 512)),
        ((576, 768, 3), (320, 512), 320 / 576, (320, 427)),
        ((640, 384, 3), (320, 512), 0.5, (320, 192)),
    ],
)
def test_letterbox_places_image_top_left(shape, size, scale, content) -> None:
    image = np.full(shape, 200, np.uint8)
    canvas, got = letterbox(image, size)
    out_h, out_w = (size, size) if isinstance(size, int) else size
    assert canvas.shape == (out_h, out_w, 3) and got == pytest.approx(scale)
    h, w = content
    assert (canvas[:h, :w] == 200).all()
    assert (canvas[h:, :] == PAD_VALUE).all() and (canvas[:, w:] == PAD_VALUE).all()


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)])
def test_letterbox_rejects_non_bgr(bad) -> None:
    with pytest.raises(ValueError, match="uint8 BGR"):
        letterbox(bad, 64)


def test_to_batch_normalises_and_swaps_to_rgb() -> None:
    image = np.zeros((32, 32, 3), np.uint8)
    image[..., 2] = 255  # red in BGR
    batch, scales = to_batch([image, image], size=64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert batch.shape == (2, 3, 64, 64) and batch.dtype == np.float32
    assert scales.tolist() == [2.0, 2.0]
    assert batch[0, 0, 0, 0] == pytest.approx(1.0) and batch[0, 2, 0, 0] == pytest.approx(-1.0)
    assert to_batch([], size=64, mean=(0, 0, 0), std=(1, 1, 1))[0].shape == (0, 3, 64, 64)


@pytest.mark.parametrize(
    "boxes, scores, iou, keep",
    [
        (np.zeros((0, 4)), np.zeros(0), 0.5, []),
        ([[0, 0, 10, 10]], [0.9], 0.5, [0]),
        ([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], [0.8, 0.9, 0.7], 0.5, [1, 2]),
        ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.9, 0.8], 0.5, [0, 1]),  # IoU 1/3: both stay
        ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.9, 0.8], 0.3, [0]),
    ],
)
def test_nms(boxes, scores, iou, keep) -> None:
    got = nms(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64), iou)
    assert got.tolist() == keep


@pytest.mark.parametrize(
    "scores, expect_classes",
    [
        ([[0.9, 0.0], [0.8, 0.0]], [0]),  # same class, overlapping: one kept
        ([[0.9, 0.0], [0.0, 0.8]], [0, 1]),  # different classes never suppress each other
        ([[0.1, 0.0], [0.0, 0.1]], []),  # below the threshold
    ],
)
def test_decode_detections_is_classwise_and_maps_back(scores, expect_classes) -> None:
    boxes = np.array([[10, 10, 50, 50], [12, 10, 52, 50]], np.float32)
    det = decode_detections(
        boxes, np.asarray(scores, np.float32), scale=0.5, image_shape=(60, 90, 3),
        score_threshold=0.3, nms_iou=0.5, max_detections=10,
    )
    assert sorted(det.class_id.tolist()) == expect_classes
    if len(det):
        assert det.xyxy[0].tolist() == [20, 20, 90, 60]  # /0.5, clipped to the 90x60 image
