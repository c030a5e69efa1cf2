"""Flat-ground camera geometry: pixels <-> metres on the road, range, closing speed, time to collision.

Frames:

- **image**: pixels, origin top-left, ``u`` right, ``v`` down (as in ``perception.types``).
- **ground**: metres, origin on the ground directly below the camera, ``x`` to the right, ``z``
  forward along the ground, ``up`` above the ground. The ground is the plane ``up = 0``.
- **camera**: pinhole at height ``height_m`` above the ground, optical axis tilted down by
  ``pitch_rad`` (no roll, no yaw). A point ``(x, up, z)`` has camera coordinates
  ``x_c = x``, ``y_c = (h - up) cos p - z sin p``, ``z_c = (h - up) sin p + z cos p`` and lands at
  ``u = cx + fx x_c / z_c``, ``v = cy + fy y_c / z_c``.

*Range* is the distance along the ground from the camera's foot point to where the object stands:
``hypot(x, z)`` of the bottom-centre of its box. The synthetic renderer draws with the same model,
so its true range and ``ground_range`` agree up to what the renderer adds on purpose (pitch jitter).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np

# Points closer than this to the camera plane are not projected (they would blow up to infinity).
_MIN_DEPTH_M = 1e-3


@dataclass(frozen=True)
class CameraModel:
    """A calibrated forward-facing camera above flat ground.

    fx, fy:    focal lengths in pixels (> 0).
    cx, cy:    principal point in pixels.
    height_m:  camera height above the ground in metres (> 0). Range scales linearly with it, so a
               10 % error here is a 10 % range error at every distance.
    pitch_rad: downward tilt of the optical axis in radians, in (-pi/4, pi/4). Far ranges are
               very sensitive to it: at 50 m a 0.1 degree error moves the horizon ~1 px, ~6 % range.
    width, height: image size in pixels (> 0).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    height_m: float
    pitch_rad: float = 0.0
    width: int = 640
    height: int = 384

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy", "height_m", "pitch_rad"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"{name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("fx", "fy", "height_m"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -math.pi / 4 < self.pitch_rad < math.pi / 4:
            raise ValueError(f"pitch_rad must be in (-pi/4, pi/4), got {self.pitch_rad}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))

    @classmethod
    def default(cls, width: int = 640, height: int = 384) -> "CameraModel":
        """The synthetic dash-cam: 65 degree horizontal field of view, 1.5 m high, tilted 2.3 degrees down."""
        fx = (width / 2) / math.tan(math.radians(65.0) / 2)
        return cls(fx=fx, fy=fx, cx=width / 2, cy=height / 2, height_m=1.5, pitch_rad=0.04,
                   width=width, height=height)

    def to_dict(self) -> dict[str, float | int]:
        """The ``camera:`` block of dataset.yaml / a stream's calibration (plain floats and ints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CameraModel":
        """Inverse of ``to_dict``; unknown keys raise ``ValueError`` (a typo must not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown camera key(s) {unknown}; known keys: {sorted(known)}")
        missing = sorted(f.name for f in fields(cls) if f.name not in data and f.name in
                         ("fx", "fy", "cx", "cy", "height_m"))
        if missing:
            raise ValueError(f"camera is missing key(s) {missing}")
        return cls(**dict(data))

    @property
    def horizon_v(self) -> float:
        """Image row of the horizon (points on the ground infinitely far ahead), pixels."""
        return self.cy - self.fy * math.tan(self.pitch_rad)


def project_ground_points(
    x_m: np.ndarray, z_m: np.ndarray, camera: CameraModel, *, up_m: np.ndarray | float = 0.0
) -> np.ndarray:
    """Pixels ``(N, 2) float64 (u, v)`` of ground-frame points ``(x_m, up_m, z_m)``, each ``(N,)``.

    Points at or behind the camera plane (depth <= 1 mm) give NaN.
    """
    x, z, up = np.broadcast_arrays(
        np.asarray(x_m, dtype=np.float64),
        np.asarray(z_m, dtype=np.float64),
        np.asarray(up_m, dtype=np.float64),
    )
    cos_p, sin_p = math.cos(camera.pitch_rad), math.sin(camera.pitch_rad)
    below = camera.height_m - up.ravel()
    z_c = below * sin_p + z.ravel() * cos_p
    out = np.empty((z_c.size, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        np.multiply(camera.fx / z_c, x.ravel(), out=out[:, 0])
        np.multiply(camera.fy / z_c, below * cos_p - z.ravel() * sin_p, out=out[:, 1])
    out += (camera.cx, camera.cy)
    behind = z_c <= _MIN_DEPTH_M
    if behind.any():
        out[behind] = np.nan
    return out


def ground_points(uv: np.ndarray, camera: CameraModel) -> np.ndarray:
    """Ground-frame ``(N, 2) float64 (x_m, z_m)`` where the pixels ``uv (N, 2)`` meet the ground.

    NaN for pixels at or above the horizon (their ray never meets the ground ahead).
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    a = (uv[:, 0] - camera.cx) / camera.fx
    b = (uv[:, 1] - camera.cy) / camera.fy
    cos_p, sin_p = math.cos(camera.pitch_rad), math.sin(camera.pitch_rad)
    # Ray direction in the level frame: (a, down, forward); it meets the ground where down * t = h.
    down = b * cos_p + sin_p
    forward = cos_p - b * sin_p
    ok = down > 1e-9
    t = np.where(ok, camera.height_m / np.where(ok, down, 1.0), np.nan)
    return np.column_stack([a * t, forward * t])


def ground_range(xyxy: np.ndarray, camera: CameraModel) -> np.ndarray:
    """Range in metres along the ground to each box's bottom-centre: ``(N,) float32``.

    xyxy: ``(N, 4)`` pixels. NaN where the box bottom is at or above the horizon. A box cut off by
    the bottom image edge reads too far (its true bottom is lower than the edge).
    """
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    bottom = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]])
    xz = ground_points(bottom, camera)
    return np.hypot(xz[:, 0], xz[:, 1]).astype(np.float32)


def closing_speed_and_ttc(
    times_s: np.ndarray,
    ranges_m: np.ndarray,
    *,
    window: int = 10,
    min_closing_mps: float = 0.2,
) -> tuple[float, float]:
    """Closing speed (m/s, > 0 when approaching) and time to collision (s) of one track.

    times_s, ranges_m: ``(K,)`` history, oldest first; NaN ranges are ignored. Fits the range rate
    over the last ``window`` valid points with the median of pairwise slopes (Theil-Sen), so a
    few bad boxes (occlusion, a clipped bottom) do not swing it. A longer window averages out
    box jitter (range noise grows with distance) but reacts later to braking: 10 points at 10 fps
    is one second. TTC is the fitted current range over the closing speed.
    Returns ``(nan, nan)`` with fewer than 2 valid points; ``(speed, nan)`` when not closing
    faster than ``min_closing_mps``.
    """
    speed, ttc = closing_speed_and_ttc_many(
        np.asarray(times_s, dtype=np.float64).reshape(1, -1),
        np.asarray(ranges_m, dtype=np.float64).reshape(1, -1),
        window=window,
        min_closing_mps=min_closing_mps,
    )
    return float(speed[0]), float(ttc[0])


def closing_speed_and_ttc_many(
    times_s: np.ndarray,
    ranges_m: np.ndarray,
    *,
    window: int = 10,
    min_closing_mps: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """``closing_speed_and_ttc`` for N tracks at once.

    times_s, ranges_m: ``(N, K)``, oldest first along K; pad shorter histories with NaN (either
    array). Only the last ``window`` valid points of each row count. Returns two ``(N,)`` float64
    arrays: closing speed (m/s) and TTC (s), NaN where unknown.
    """
    t = np.asarray(times_s, dtype=np.float64)
    r = np.asarray(ranges_m, dtype=np.float64)
    if t.shape != r.shape or t.ndim != 2:
        raise ValueError(f"times_s and ranges_m must both be (N, K), got {t.shape} and {r.shape}")
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    if not min_closing_mps >= 0:
        raise ValueError(f"min_closing_mps must be >= 0, got {min_closing_mps}")
    n = t.shape[0]
    if n == 0 or t.shape[1] == 0:
        return np.full(n, np.nan), np.full(n, np.nan)
    valid = np.isfinite(t) & np.isfinite(r)
    # Keep only the newest `window` valid points per row: count valid points from the end.
    newer = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]
    valid &= newer <= window
    t = np.where(valid, t, np.nan)
    r = np.where(valid, r, np.nan)
    dt = t[:, None, :] - t[:, :, None]
    dr = r[:, None, :] - r[:, :, None]
    upper = np.triu(np.ones(dt.shape[1:], dtype=bool), k=1)
    pair_ok = upper & (np.abs(np.nan_to_num(dt)) > 1e-9)
    slopes = np.where(pair_ok, dr / np.where(pair_ok, dt, 1.0), np.nan).reshape(n, -1)
    has_pair = pair_ok.reshape(n, -1).any(axis=1) & np.isfinite(slopes).any(axis=1)
    slope = np.full(n, np.nan)
    slope[has_pair] = np.nanmedian(slopes[has_pair], axis=1)
    t_last = np.nanmax(np.where(valid, t, -np.inf), axis=1)
    # Robust intercept: the median of each point's range carried to the newest time.
    now = np.full(n, np.nan)
    carried = r - slope[:, None] * (t - t_last[:, None])
    now[has_pair] = np.nanmedian(carried[has_pair], axis=1)
    closing = -slope
    closing_enough = has_pair & (closing > min_closing_mps) & (now > 0)
    ttc = np.full(n, np.nan)
    ttc[closing_enough] = now[closing_enough] / closing[closing_enough]
    return closing, ttc
