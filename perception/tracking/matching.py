"""Box overlap and one-to-one assignment between detections and tracks."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

_NO_MATCH = (np.zeros(0, np.intp), np.zeros(0, np.intp))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4).

    Boxes are ``xyxy`` pixels. Returns (N, M) float64 in [0, 1]; pairs of zero-area boxes give 0.
    """
    a = a[:, None, :]
    wh = np.minimum(a[..., 2:], b[:, 2:]) - np.maximum(a[..., :2], b[:, :2])
    np.maximum(wh, 0.0, out=wh)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    # The tiny constant keeps 0/0 (two degenerate boxes) at 0 instead of NaN.
    return inter / (area_a + area_b - inter + 1e-12)


def match(similarity: np.ndarray, *, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(rows, cols)`` maximising total similarity, keeping only pairs >= ``threshold``.

    similarity: (N, M), higher is better (IoU, possibly gated to 0 across classes); ``threshold``
    must be > 0. A single row or column is answered with an argmax, which is what the Hungarian
    algorithm would return.
    """
    n, m = similarity.shape
    if n == 0 or m == 0:
        return _NO_MATCH
    if n == 1 or m == 1:
        k = int(similarity.argmax())
        if similarity.flat[k] < threshold:
            return _NO_MATCH
        row, col = divmod(k, m)
        return np.array([row], np.intp), np.array([col], np.intp)
    # Pairs below the threshold must not steal a partner from a valid pair, so zero them first.
    gated = np.where(similarity >= threshold, similarity, 0.0)
    rows, cols = linear_sum_assignment(gated, maximize=True)
    keep = gated[rows, cols] > 0.0
    return rows[keep], cols[keep]
