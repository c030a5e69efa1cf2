"""IoU matrix and one-to-one assignment."""

from __future__ import annotations

import numpy as np
import pytest

from perception.tracking.matching import iou_matrix, match


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([[0, 0, 10, 10]], [[0, 0, 10, 10]], [[1.0]]),
        ([[0, 0, 10, 10]], [[5, 0, 15, 10]], [[50 / 150]]),
        ([[0, 0, 10, 10]], [[20, 20, 30, 30]], [[0.0]]),
        ([[0, 0, 10, 10]], [[0, 0, 5, 5], [0, 0, 10, 20]], [[0.25, 0.5]]),
        ([[3, 3, 3, 3]], [[3, 3, 3, 3]], [[0.0]]),  # degenerate boxes: 0, not NaN
        (np.zeros((0, 4)), [[0, 0, 1, 1]], np.zeros((0, 1))),
        ([[0, 0, 1, 1]], np.zeros((0, 4)), np.zeros((1, 0))),
    ],
)
def test_iou_matrix(a, b, expected):
    got = iou_matrix(np.asarray(a, float), np.asarray(b, float))
    assert got.shape == np.shape(expected)
    assert np.allclose(got, expected)


@pytest.mark.parametrize(
    "similarity, threshold, pairs",
    [
        (np.zeros((0, 3)), 0.3, []),
        (np.zeros((2, 0)), 0.3, []),
        ([[0.9]], 0.3, [(0, 0)]),
        ([[0.2]], 0.3, []),
        ([[0.1, 0.8, 0.4]], 0.3, [(0, 1)]),
        ([[0.1], [0.5], [0.6]], 0.3, [(2, 0)]),
        ([[0.9, 0.8], [0.85, 0.1]], 0.3, [(0, 1), (1, 0)]),  # global optimum, not greedy
        # A below-threshold pair must not block a valid one.
        ([[0.29, 0.0], [0.31, 0.0]], 0.3, [(1, 0)]),
        ([[0.5, 0.0], [0.0, 0.2]], 0.3, [(0, 0)]),
    ],
)
def test_match(similarity, threshold, pairs):
    rows, cols = match(np.asarray(similarity, float), threshold=threshold)
    assert sorted(zip(rows.tolist(), cols.tolist())) == pairs
