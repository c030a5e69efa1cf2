"""Multi-object trackers: SORT and ByteTrack, one instance per stream.

Contract (both trackers): ``update(detections, *, timestamp=None) -> Tracks`` once per frame, also
with no detections; ``reset()``. Association is class-aware: a detection never continues a track
of another class.
"""

from __future__ import annotations

from typing import Any, Mapping

from perception.config import override
from perception.tracking.bytetrack import ByteTrackConfig, ByteTrackTracker
from perception.tracking.sort import SortConfig, SortTracker

Tracker = SortTracker | ByteTrackTracker

TRACKERS: dict[str, tuple[type, type]] = {
    "bytetrack": (ByteTrackTracker, ByteTrackConfig),
    "sort": (SortTracker, SortConfig),
}
"""Tracker name -> (tracker class, config class)."""

DEFAULT_TRACKER = "bytetrack"
"""The better of the two on the MOT15 benchmark (``python -m bench.trackers``)."""


def make_tracker(name: str = DEFAULT_TRACKER, **overrides: Any) -> Tracker:
    """A new tracker ``name`` with its default config, ``overrides`` applied (unknown keys raise)."""
    if name not in TRACKERS:
        raise ValueError(f"unknown tracker {name!r}; known: {sorted(TRACKERS)}")
    tracker_cls, config_cls = TRACKERS[name]
    return tracker_cls(config=override(config_cls(), overrides))


def tracker_from_params(values: Mapping[str, Any] | None = None) -> Tracker:
    """A tracker from ``params.yaml: tracker``: optional ``name`` plus that tracker's config keys."""
    values = dict(values or {})
    name = values.pop("name", DEFAULT_TRACKER)
    return make_tracker(name, **values)


__all__ = [
    "DEFAULT_TRACKER",
    "TRACKERS",
    "ByteTrackConfig",
    "ByteTrackTracker",
    "SortConfig",
    "SortTracker",
    "Tracker",
    "make_tracker",
    "tracker_from_params",
]
