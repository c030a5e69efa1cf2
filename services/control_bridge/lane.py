"""Is a box in the ego lane? On the ground when the stream is calibrated, else in image space."""

from __future__ import annotations

import numpy as np

from perception.geometry import CameraModel, ground_points


def in_lane_ground(xyxy: np.ndarray, camera: CameraModel, half_width_m: float) -> np.ndarray:
    """(N,) bool: the box's bottom centre lies ahead with lateral offset |x| <= ``half_width_m``.

    xyxy: (N, 4) pixels of the calibrated camera. The offset is measured on the flat ground plane,
    metres, x to the right of the camera's optical axis.
    """
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    bottom = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]])
    xz = ground_points(bottom, camera)
    with np.errstate(invalid="ignore"):
        return np.isfinite(xz[:, 0]) & (np.abs(xz[:, 0]) <= half_width_m) & (xz[:, 1] > 0)


def in_lane_image(
    xyxy: np.ndarray, *, width: int, height: int, bottom_half_width: float, top: float
) -> np.ndarray:
    """(N,) bool: the bottom centre lies in a triangle from the image bottom (centre +- bottom_half_width
    * width) to the image centre at row ``top * height``. A rough stand-in without calibration."""
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    u = (boxes[:, 0] + boxes[:, 2]) / 2
    v = boxes[:, 3]
    v_top = top * height
    depth = np.clip((v - v_top) / max(height - v_top, 1e-9), 0.0, 1.0)
    half = bottom_half_width * width * depth
    return (v > v_top) & (np.abs(u - width / 2) <= half)
