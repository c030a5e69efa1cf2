"""``CollisionWarner``: messages in, warning/brake transitions out. Pure: time is the messages' capture_ts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from perception.geometry import CameraModel
from services.control_bridge.config import BridgeConfig
from services.control_bridge.lane import in_lane_ground, in_lane_image
from services.perception.messages import PerceptionMessage, TrackMessage

LEVELS = ("none", "warning", "brake")


@dataclass(frozen=True)
class Lead:
    track_id: int
    class_name: str
    range_m: float | None
    ttc_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "class_name": self.class_name,
            "range_m": self.range_m,
            "ttc_s": self.ttc_s,
        }


@dataclass(frozen=True)
class BridgeEvent:
    """One transition: ``kind`` is warning_on/off or brake_on/off."""

    kind: str
    ts: float
    stream_id: str
    frame_index: int
    lead: Lead | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "ts": self.ts,
            "stream_id": self.stream_id,
            "frame_index": self.frame_index,
            "lead": self.lead.to_dict() if self.lead else None,
        }


def _level(
    ttc: float | None, rng: float | None, warn: tuple[float, float], brake: tuple[float, float]
) -> int:
    """2 brake, 1 warning, 0 none for (ttc threshold, range threshold) pairs; None = unknown = no trigger."""
    def below(value: float | None, limit: float) -> bool:
        return value is not None and math.isfinite(value) and value < limit

    if below(ttc, brake[0]) or below(rng, brake[1]):
        return 2
    if below(ttc, warn[0]) or below(rng, warn[1]):
        return 1
    return 0


class CollisionWarner:
    """One stream's state machine. ``update(message)`` returns the transitions it caused (often none)."""

    def __init__(self, config: BridgeConfig | None = None, *, camera: CameraModel | None = None) -> None:
        self.config = config or BridgeConfig()
        self.camera = camera
        self.level = 0
        self.since: float | None = None
        self.lead: Lead | None = None

    def pick_lead(self, message: PerceptionMessage) -> Lead | None:
        """The nearest in-lane track: by range when known, else by lowest box bottom (nearest in image)."""
        c = self.config
        tracks = [t for t in message.tracks if not c.classes or t.class_name in c.classes]
        if not tracks:
            return None
        xyxy = np.array([t.bbox_xyxy for t in tracks], np.float64)
        if self.camera is not None:
            inside = in_lane_ground(xyxy, self.camera, c.lane_half_width_m)
        else:
            inside = in_lane_image(xyxy, width=message.image_width, height=message.image_height,
                                   bottom_half_width=c.corridor_bottom_half_width, top=c.corridor_top)
        candidates = [t for t, ok in zip(tracks, inside) if ok]
        if not candidates:
            return None
        best: TrackMessage = min(
            candidates, key=lambda t: (t.range_m is None, t.range_m or 0.0, -t.bbox_xyxy[3])
        )
        return Lead(best.track_id, best.class_name, best.range_m, best.ttc_s)

    def update(self, message: PerceptionMessage) -> list[BridgeEvent]:
        c = self.config
        now = message.capture_ts
        lead = self.pick_lead(message)
        self.lead = lead
        ttc, rng = (lead.ttc_s, lead.range_m) if lead else (None, None)
        enter = _level(
            ttc, rng, (c.warn_enter_ttc_s, c.warn_enter_range_m), (c.brake_enter_ttc_s, c.brake_enter_range_m)
        )
        hold = _level(
            ttc, rng, (c.warn_exit_ttc_s, c.warn_exit_range_m), (c.brake_exit_ttc_s, c.brake_exit_range_m)
        )
        new = self.level
        if enter > self.level:
            new = enter
        elif hold < self.level and (self.since is None or now - self.since >= c.min_hold_s):
            new = max(hold, enter)
        if new == self.level:
            return []
        events = self._transitions(self.level, new, message, lead)
        self.level, self.since = new, now
        return events

    @staticmethod
    def _transitions(old: int, new: int, message: PerceptionMessage, lead: Lead | None) -> list[BridgeEvent]:
        kinds = []
        if new > old:
            kinds = [f"{'warning' if lvl == 1 else 'brake'}_on" for lvl in range(old + 1, new + 1)]
        else:
            kinds = [f"{'warning' if lvl == 1 else 'brake'}_off" for lvl in range(old, new, -1)]
        return [
            BridgeEvent(k, message.capture_ts, message.stream_id, message.frame_index, lead) for k in kinds
        ]

    @property
    def warning(self) -> bool:
        return self.level >= 1

    @property
    def braking(self) -> bool:
        return self.level >= 2
