"""The value objects that cross every boundary: detector -> tracker -> service -> control.

Coordinates are image pixels with the origin at the top-left corner, x to the right and y down.
Boxes are ``xyxy``: ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2``.
``class_id`` is a 0-based index into the dataset's class names (``dataset.yaml: classes``).

All three types are frozen and validate themselves at construction; box arrays are copied into
read-only arrays of a fixed dtype, so no caller can mutate an object after it was checked
(``Frame.image`` is a read-only view instead of a copy: see ``Frame``).
Filtering (``select``) returns a new object.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


class _NotIntegral(ValueError):
    pass


def _frozen_array(
    name: str, value: Any, dtype: np.dtype, shape_tail: tuple[int, ...], allow_nan: bool = False
) -> np.ndarray:
    # On every tracker/detector frame: each check costs one pass, offending values are looked up
    # only once a check has failed.
    dtype = np.dtype(dtype)
    try:
        raw = np.asarray(value)
        if dtype.kind == "i" and raw.dtype.kind == "f" and raw.size:
            # A cast would silently truncate 1.5 -> 1 and turn NaN into a huge negative number.
            if not (np.isfinite(raw).all() and (raw == np.round(raw)).all()):
                odd = ~np.isfinite(raw) | (raw != np.round(raw))
                raise _NotIntegral(f"{name} must hold integers, got {raw[odd][0]}")
        arr = np.array(raw, dtype=dtype, copy=True)
    except _NotIntegral:
        raise
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be convertible to {dtype.name}, got {value!r}") from exc
    if arr.size == 0:
        arr = arr.reshape((0, *shape_tail))
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        want = "(N" + "".join(f", {d}" for d in shape_tail) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if dtype.kind == "f" and arr.size:
        if np.isinf(arr).any() if allow_nan else not np.isfinite(arr).all():
            bad_mask = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
            raise ValueError(f"{name} must be finite, got {arr[bad_mask][0]}")
    arr.setflags(write=False)
    return arr


def _check_length(name: str, arr: np.ndarray, n: int) -> None:
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} rows but xyxy has {n}")


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes found in one image.

    xyxy:     (N, 4) float32, pixels, ``x1 <= x2``, ``y1 <= y2``.
    score:    (N,) float32 confidence in [0, 1] (not enforced: some detectors emit logits).
    class_id: (N,) int64, 0-based index into the class names.
    """

    xyxy: np.ndarray
    score: np.ndarray
    class_id: np.ndarray

    def __post_init__(self) -> None:
        xyxy = _frozen_array("xyxy", self.xyxy, np.float32, (4,))
        n = len(xyxy)
        score = _frozen_array("score", self.score, np.float32, ())
        class_id = _frozen_array("class_id", self.class_id, np.int64, ())
        _check_length("score", score, n)
        _check_length("class_id", class_id, n)
        inverted = (xyxy[:, 0] > xyxy[:, 2]) | (xyxy[:, 1] > xyxy[:, 3])
        if inverted.any():
            i = int(np.flatnonzero(inverted)[0])
            raise ValueError(f"xyxy row {i} has x1>x2 or y1>y2: {xyxy[i].tolist()}")
        if (class_id < 0).any():
            raise ValueError(f"class_id must be >= 0, got {int(class_id.min())}")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "class_id", class_id)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(xyxy=np.zeros((0, 4)), score=np.zeros(0), class_id=np.zeros(0))

    def __len__(self) -> int:
        return len(self.xyxy)

    def select(self, mask_or_index: Any) -> "Detections":
        """A new object holding the rows picked by a boolean mask or an index array."""
        return type(self)(**{f.name: _take(getattr(self, f.name), mask_or_index) for f in fields(self)})


def _take(value: Any, index: Any) -> Any:
    return None if value is None else value[index]


@dataclass(frozen=True, eq=False)
class Tracks(Detections):
    """Detections with identity and motion.

    track_id: (N,) int64, unique per tracker instance (one instance per stream).
    velocity: (N, 2) float32, box-centre velocity in pixels per second (vx, vy).
    range_m:  optional (N,) float32, distance along the ground to the object, metres;
              NaN where unknown (box bottom above the horizon, no calibration).
    ttc_s:    optional (N,) float32, time to collision in seconds; NaN where the object is not
              closing or too little history exists. ``inf`` is rejected: unknown is NaN.
    """

    track_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    range_m: np.ndarray | None = None
    ttc_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n = len(self.xyxy)
        track_id = _frozen_array("track_id", self.track_id, np.int64, ())
        velocity = _frozen_array("velocity", self.velocity, np.float32, (2,))
        _check_length("track_id", track_id, n)
        _check_length("velocity", velocity, n)
        object.__setattr__(self, "track_id", track_id)
        object.__setattr__(self, "velocity", velocity)
        for name in ("range_m", "ttc_s"):
            value = getattr(self, name)
            if value is not None:
                arr = _frozen_array(name, value, np.float32, (), allow_nan=True)
                _check_length(name, arr, n)
                object.__setattr__(self, name, arr)

    @classmethod
    def empty(cls) -> "Tracks":
        return cls(xyxy=np.zeros((0, 4)), score=np.zeros(0), class_id=np.zeros(0))

    @classmethod
    def _trusted(
        cls,
        *,
        xyxy: np.ndarray,
        score: np.ndarray,
        class_id: np.ndarray,
        track_id: np.ndarray,
        velocity: np.ndarray,
    ) -> "Tracks":
        """For trackers only, once per frame: no copies, no checks (they cost more than tracking).

        The caller guarantees what ``__post_init__`` would establish: fresh C-contiguous arrays
        that nobody else references, dtypes and shapes as documented, finite values, no inverted
        box, ``class_id >= 0``. They are made read-only here. tests/perception/tracking checks that
        tracker output passes the public constructor unchanged.
        """
        for arr in (xyxy, score, class_id, track_id, velocity):
            arr.setflags(write=False)
        obj = object.__new__(cls)
        # Fields go straight into the instance __dict__: no __init__, so no __post_init__.
        obj.__dict__.update(
            xyxy=xyxy, score=score, class_id=class_id, track_id=track_id, velocity=velocity,
            range_m=None, ttc_s=None,
        )
        return obj


@dataclass(frozen=True, eq=False)
class Frame:
    """One camera image.

    image:     (H, W, 3) uint8, BGR (OpenCV's order); held as a read-only view of the caller's array.
    stream_id: which camera this came from.
    index:     0-based frame number within the stream.
    timestamp: capture time in seconds (epoch seconds for live sources, video time for files).
    """

    image: np.ndarray
    stream_id: str
    index: int
    timestamp: float

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray):
            raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image must have shape (H, W, 3) with H, W > 0, got {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"image must be uint8, got {image.dtype}")
        if not isinstance(self.stream_id, str) or not self.stream_id:
            raise ValueError(f"stream_id must be a non-empty string, got {self.stream_id!r}")
        if not _is_index(self.index):
            raise ValueError(f"index must be a non-negative integer, got {self.index!r}")
        if not _is_finite_number(self.timestamp):
            raise ValueError(f"timestamp must be a finite number of seconds, got {self.timestamp!r}")
        # A read-only view, not a copy (frames are large and arrive at camera rate): nobody can
        # write through ``frame.image``; the producer must not reuse the buffer it handed over.
        view = image.view()
        view.setflags(write=False)
        object.__setattr__(self, "image", view)
        object.__setattr__(self, "index", int(self.index))
        object.__setattr__(self, "timestamp", float(self.timestamp))

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def _is_index(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        return False
    return bool(np.isfinite(value)) and int(value) == value and value >= 0


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        return False
    return bool(np.isfinite(value))
