"""``ServiceSettings``: every knob of the perception service, with its trade-off.

Defaults come from here; ``params.yaml`` key ``service:`` and the CLI override them
(``perception.config.override``). The admin token is read from ``PERCEPT_ADMIN_TOKEN`` when the
settings do not carry one, so it never has to be written into a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from perception.config import override


@dataclass(frozen=True)
class ServiceSettings:
    model_name: str = "percept-detector"
    """Registered model to serve."""
    alias: str = "champion"
    """Alias followed; a move of it is noticed by polling or ``POST /v1/admin/reload``."""
    poll_interval_s: float = 10.0
    """Seconds between alias look-ups; lower notices promotions sooner, at the cost of registry load.
    0 = off (only ``POST /v1/admin/reload``)."""
    batch_window_ms: float = 3.0
    """How long the batcher waits for frames of other streams after the first one. Longer windows give
    bigger ORT batches (throughput) but add up to this much latency to every frame."""
    max_batch: int = 2
    """Frames per ORT call at most; bounds the latency of one call. Small on CPU: there a batched call
    costs more per image, not less (single-threaded ORT, 512x320 FCOS: 46 ms per image at batch 1,
    49 at 2, 54 at 4, ~68 at 8), so throughput comes from one call per core (``detect_workers``), and
    pairs cost little. 8 streams, 2 cores: 31 frames/s at 2, 30 at 4, 29 at 8. Raise it on a GPU."""
    detect_workers: int = 2
    """Batches in ORT at once (each on its own thread, one session). A lone stream that waits for each
    reply has one frame in flight, so this matters with several streams: two keep both cores of a 2-core
    CPU busy (one ORT call's own intra-op threads leave them part idle, in its serial operators and its
    letterbox/NMS); more only time-slice the same cores. Tracking stays in batch order."""
    staleness_budget_ms: float = 500.0
    """A frame that waited longer than this in the service (arrival clock, not the client's) is dropped
    and the stream's next message says so. Lower keeps control fresh; higher drops less under load."""
    max_pending: int = 64
    """Frames queued across all streams. When full the oldest queued frame is dropped (its request
    gets 503), so memory stays flat and fresh frames win."""
    subscriber_queue: int = 64
    """Messages buffered per subscriber; a slow subscriber loses its oldest messages, never blocks others."""
    max_body_bytes: int = 8 * 1024 * 1024
    """Largest accepted image (HTTP body or WebSocket message); larger gets 413 before it is read whole."""
    max_streams: int = 64
    """Streams held at once (tracker state + metrics labels); a new one beyond this gets 503."""
    stream_idle_s: float = 600.0
    """A stream with no frame for this long, no subscriber and no source is forgotten (tracker, metrics
    labels). Shorter frees memory sooner; a camera that pauses longer restarts its track IDs."""
    track_forget_frames: int = 60
    """Frames after a track was last seen before its range history is freed and its death counted."""
    allowed_roots: tuple[str, ...] = ()
    """Folders under which ``POST /v1/sources`` may open files; empty = no files, URLs only."""
    admin_token: str | None = None
    """Bearer token for /v1/admin/*; None = ``$PERCEPT_ADMIN_TOKEN``; unset both = admin routes disabled."""
    calibrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-stream camera calibration (``CameraModel.to_dict()``), overridable by PUT .../calibration."""
    warm_size: tuple[int, int] = (384, 640)
    """(H, W) of the blank frame a new model is warmed on when no real frame was seen yet."""

    def __post_init__(self) -> None:
        positive = {
            "batch_window_ms": self.batch_window_ms >= 0,
            "max_batch": self.max_batch >= 1,
            "detect_workers": self.detect_workers >= 1,
            "staleness_budget_ms": self.staleness_budget_ms > 0,
            "max_pending": self.max_pending >= 1,
            "subscriber_queue": self.subscriber_queue >= 1,
            "max_body_bytes": self.max_body_bytes >= 1024,
            "max_streams": self.max_streams >= 1,
            "track_forget_frames": self.track_forget_frames >= 1,
            "stream_idle_s": self.stream_idle_s > 0,
            "poll_interval_s": self.poll_interval_s >= 0,
        }
        for name, ok in positive.items():
            if not ok:
                raise ValueError(f"ServiceSettings.{name} out of range: {getattr(self, name)!r}")
        if not self.model_name or not self.alias:
            raise ValueError(
                f"model_name and alias must be non-empty, got {self.model_name!r}, {self.alias!r}"
            )
        if len(self.warm_size) != 2 or min(self.warm_size) < 1:
            raise ValueError(f"warm_size must be (H, W) > 0, got {self.warm_size!r}")
        object.__setattr__(self, "allowed_roots", tuple(str(Path(r).resolve()) for r in self.allowed_roots))
        frozen = {str(k): MappingProxyType(dict(v)) for k, v in dict(self.calibrations).items()}
        object.__setattr__(self, "calibrations", MappingProxyType(frozen))

    def resolved_admin_token(self) -> str | None:
        token = self.admin_token if self.admin_token is not None else os.environ.get("PERCEPT_ADMIN_TOKEN")
        return token or None


def settings_from_params(params: Mapping[str, Any] | None, **cli: Any) -> ServiceSettings:
    """Defaults <- ``params.yaml: service`` <- CLI values that are not None."""
    settings = override(ServiceSettings(), dict((params or {}).get("service") or {}))
    return override(settings, {k: v for k, v in cli.items() if v is not None})
