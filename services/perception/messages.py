"""``PerceptionMessage``: what the service publishes for every processed frame (schema 1.0).

Coordinates are image pixels of the frame as it was sent (origin top-left, x right, y down).
Unknown values are ``null`` (range without calibration, TTC of a receding object): never made up.
Adding optional fields is a minor version; renaming or removing one is a major version.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"
SCHEMA_ID = "https://percept.invalid/schemas/perception_message-1.0.json"


class TrackMessage(BaseModel):
    """One tracked object in one frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    track_id: int = Field(ge=0, description="Unique per stream; survives model hot-swaps.")
    class_name: str = Field(description="Class name from the model's preprocess.json.")
    score: float = Field(description="Detector confidence of the matched box.")
    bbox_xyxy: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in pixels.")
    velocity_px_s: tuple[float, float] = Field(description="Box-centre velocity (vx, vy), pixels/second.")
    range_m: float | None = Field(
        default=None,
        description="Distance along the ground to the box's bottom centre, metres; null = unknown.",
    )
    closing_speed_mps: float | None = Field(
        default=None, description="Rate at which range shrinks, m/s (positive = approaching); null = unknown."
    )
    ttc_s: float | None = Field(
        default=None,
        description="Time to collision at the current closing speed, seconds; null = not closing/unknown.",
    )


class PerceptionMessage(BaseModel):
    """Tracks of one frame of one stream, with timing and the model that produced them."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    stream_id: str = Field(min_length=1)
    frame_index: int = Field(
        ge=0, description="0-based index of the frame within the stream (arrival order)."
    )
    capture_ts: float = Field(description="Capture time, epoch seconds (X-Capture-Ts, else arrival time).")
    publish_ts: float = Field(description="When the service published this message, epoch seconds.")
    latency_ms: float = Field(description="publish_ts - capture_ts, milliseconds.")
    stale: bool = Field(
        description="True when frames of this stream were dropped since the previous message."
    )
    dropped_frames: int = Field(
        ge=0, description="Frames of this stream dropped so far (staleness/backpressure)."
    )
    model_version: int | None = Field(description="Registry version of the model that produced the tracks.")
    image_width: int = Field(ge=1, description="Width of the frame in pixels.")
    image_height: int = Field(ge=1, description="Height of the frame in pixels.")
    tracks: list[TrackMessage]


def finite_or_none(value: float) -> float | None:
    """NaN/inf (our 'unknown') becomes JSON null."""
    value = float(value)
    return value if math.isfinite(value) else None


def message_schema() -> dict:
    """The JSON Schema of ``PerceptionMessage`` as committed in docs/."""
    schema = PerceptionMessage.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
