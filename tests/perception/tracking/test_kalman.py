"""The box Kalman filter in box-size units."""

from __future__ import annotations

import numpy as np
import pytest

from perception.tracking import kalman


def track(box, cov=(0.01, 0.0, 1.0)) -> np.ndarray:
    row = np.zeros((1, kalman.COLUMNS))
    row[0, :4] = box
    row[0, 8:11] = cov
    return row


@pytest.mark.parametrize("dt, vx", [(0.1, 20.0), (0.04, 50.0), (1.0, -3.0)])
def test_predict_moves_by_velocity_and_grows_uncertainty(dt, vx):
    rows = track([0, 0, 10, 20])
    rows[0, 4:8] = [vx, 0, vx, 0]
    m, q = kalman.transition(dt=dt, q_pos=0.05, q_vel=0.1)
    out = rows @ m + q
    assert np.allclose(out[0, :4], [vx * dt, 0, 10 + vx * dt, 20])
    assert np.allclose(out[0, 4:8], rows[0, 4:8])
    p00, p01, p11 = rows[0, 8:11]
    expected = [p00 + 2 * dt * p01 + dt * dt * p11 + 0.05**2, p01 + dt * p11, p11 + 0.1**2]
    assert np.allclose(out[0, 8:11], expected)


@pytest.mark.parametrize("meas_std", [0.01, 0.1, 1.0])
def test_correct_moves_towards_measurement_and_shrinks_variance(meas_std):
    rows = track([0, 0, 10, 10])
    measured = np.array([[2.0, 2.0, 12.0, 12.0]])
    before = rows.copy()
    kalman.correct(rows, measured, meas_std=meas_std)
    gain = before[0, 8] / (before[0, 8] + meas_std**2)
    assert np.allclose(rows[0, :4], before[0, :4] + gain * 2.0)
    assert rows[0, 8] < before[0, 8]


def test_filter_learns_constant_velocity():
    rows = track([0, 0, 10, 10])
    m, q = kalman.transition(dt=0.1, q_pos=0.01, q_vel=0.05)
    for t in range(1, 40):
        rows = rows @ m + q
        kalman.correct(rows, np.array([[3.0 * t, 0, 10 + 3.0 * t, 10]]), meas_std=0.05)
    assert np.allclose(rows[0, 4:8], [30.0, 0, 30.0, 0], atol=0.5)  # 3 px per 0.1 s


@pytest.mark.parametrize("count", [0, 1, 5])
def test_initiate_shapes(count):
    cov = kalman.initiate(count, pos_std=0.1, vel_std=2.0)
    assert cov.shape == (count, 3)
    assert np.allclose(cov, np.tile([0.01, 0.0, 4.0], (count, 1)))
