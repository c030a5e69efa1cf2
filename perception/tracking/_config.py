"""What every tracker's config shares: association IoU, track lifetime, frame rate, Kalman noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perception.tracking._checks import check_count, check_fraction, check_positive


@dataclass(frozen=True)
class MotionConfig:
    """Shared tracker parameters; ``SortConfig`` and ``ByteTrackConfig`` add their thresholds."""

    minimum_matching_threshold: float = 0.3
    """Minimum IoU between a predicted track box and a (stage-1) detection to match. Raising it
    avoids identity swaps between neighbours but loses fast or erratically moving objects."""

    lost_track_buffer: int = 15
    """Frames a confirmed track may go unmatched before it is dropped. Raising it bridges longer
    occlusions (same ID afterwards) but keeps stale tracks that can steal detections."""

    minimum_consecutive_frames: int = 2
    """Consecutive matched frames before a track is confirmed and output. Raising it suppresses
    short false tracks at the cost of reporting every object that many frames later."""

    frame_rate: float = 30.0
    """Frames per second, used for velocity in px/s and the time step when ``update`` is called
    without a timestamp. Set it to the stream's rate."""

    position_noise: float = 0.05
    """Process noise on position and size, as a fraction of the box size per frame. Raising it
    makes tracks follow detections more closely (jitter included); lowering it smooths more but
    lags behind manoeuvres."""

    velocity_noise: float = 0.0125
    """Process noise on velocity, as a fraction of the box size per frame per frame. Raising it
    adapts faster to speed changes; lowering it trusts constant velocity through occlusions."""

    measurement_noise: float = 0.1
    """Detection box noise, as a fraction of the box size. Raising it trusts the motion model
    more than each detection (smoother, slower to react)."""

    def __post_init__(self) -> None:
        check_fraction(self, "minimum_matching_threshold", allow_zero=False)
        check_count(self, "lost_track_buffer", 0)
        check_count(self, "minimum_consecutive_frames", 1)
        check_positive(self, "frame_rate", "position_noise", "velocity_noise", "measurement_noise")

    def motion_kwargs(self) -> dict[str, Any]:
        """The shared part of ``AssociationTracker``'s keyword arguments."""
        return {
            "match_iou": self.minimum_matching_threshold,
            "lost_track_buffer": self.lost_track_buffer,
            "minimum_consecutive_frames": self.minimum_consecutive_frames,
            "frame_rate": self.frame_rate,
            "position_noise": self.position_noise,
            "velocity_noise": self.velocity_noise,
            "measurement_noise": self.measurement_noise,
        }
