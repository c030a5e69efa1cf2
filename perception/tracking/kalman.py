"""Constant-velocity Kalman filter for boxes, vectorised over all tracks, in box-size units.

Per track the state is the box ``x1, y1, x2, y2`` (image pixels, x right, y down) and the rate of
each coordinate ``vx1, vy1, vx2, vy2`` (pixels per second): one row of 8 values, (T, 8) for T tracks.

Process and measurement noise are standard deviations proportional to the box size (a fraction of
the width for x coordinates, of the height for y), the usual choice in SORT/ByteTrack-style
trackers. Each coordinate then has its own 2x2 covariance block ``[[p00, p01], [p01, p11]]``
(position, velocity), and in units of the box size these blocks are the same for all four
coordinates of a track. So the full 8x8 covariance is kept as three numbers per track: (T, 3)
``p00, p01, p11``, in (box sizes)^2, (box sizes)^2/s and (box sizes / s)^2. The gains follow
exactly as in the 8x8 filter, with no matrix inverse and no per-track Python objects.

Predict is one matrix product over the (T, 11) block ``[state | p00 p01 p11]``.
"""

from __future__ import annotations

import numpy as np

STATE = 8
COLUMNS = STATE + 3
"""``predict`` works on (T, COLUMNS) rows: 8 state values then ``p00, p01, p11``."""


def initiate(count: int, *, pos_std: float, vel_std: float) -> np.ndarray:
    """(count, 3) covariance ``p00, p01, p11`` of new tracks (velocity unknown, set to 0).

    ``pos_std`` in box sizes, ``vel_std`` in box sizes per second.
    """
    cov = np.empty((count, 3))
    cov[:] = (pos_std * pos_std, 0.0, vel_std * vel_std)
    return cov


def transition(*, dt: float, q_pos: float, q_vel: float) -> tuple[np.ndarray, np.ndarray]:
    """``(M, q)`` such that ``rows @ M + q`` advances (T, COLUMNS) rows by ``dt`` seconds.

    ``q_pos`` (box sizes) and ``q_vel`` (box sizes / s) are the process noise standard deviations
    accumulated over this step.
    """
    m = np.eye(COLUMNS)
    m[4:8, 0:4] = dt * np.eye(4)  # x += dt * v
    # [p00 p01 p11] <- [p00 + 2 dt p01 + dt^2 p11, p01 + dt p11, p11]
    m[9, 8], m[10, 8], m[10, 9] = 2.0 * dt, dt * dt, dt
    q = np.zeros(COLUMNS)
    q[8], q[10] = q_pos * q_pos, q_vel * q_vel
    return m, q


def correct(rows: np.ndarray, measured: np.ndarray, *, meas_std: float) -> None:
    """Fold measured boxes into (M, COLUMNS) ``rows`` in place.

    measured: (M, 4) ``xyxy`` pixels for the same rows. ``meas_std`` in box sizes.
    """
    gain = rows[:, 8:10] / (rows[:, 8:9] + meas_std * meas_std)  # (M, 2): position, velocity
    innovation = measured - rows[:, 0:4]
    rows[:, 0:8] += (gain[:, :, None] * innovation[:, None, :]).reshape(-1, 8)
    rows[:, 10] -= gain[:, 1] * rows[:, 9]
    rows[:, 8:10] *= 1.0 - gain[:, 0:1]
