"""SORT: Kalman-predicted boxes matched to detections by IoU with the Hungarian algorithm, one stage.

Written for percept after Bewley et al., "Simple Online and Realtime Tracking" (ICIP 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

from perception.tracking._checks import check_count, check_fraction, check_positive
from perception.tracking._engine import AssociationTracker


@dataclass(frozen=True)
class SortConfig:
    """SORT parameters (``params.yaml: tracker``). Scores are detector confidences in [0, 1].

    Defaults: one set tuned once on six MOT15 training sequences with their published Faster R-CNN
    detections (``python -m bench.trackers``), all of which score >= 0.5. A detector whose scores
    run lower should lower the score thresholds in ``params.yaml``.
    """

    detection_threshold: float = 0.7
    """Detections scoring below this are ignored; the others are matched and start tracks.
    Raising it removes clutter but loses weakly detected (often occluded) objects."""

    minimum_matching_threshold: float = 0.3
    """Minimum IoU between a predicted track box and a detection to match. Raising it avoids
    identity swaps between neighbours but loses fast or erratically moving objects."""

    lost_track_buffer: int = 15
    """Frames a confirmed track may go unmatched before it is dropped. Raising it bridges
    occlusions (same ID afterwards) but keeps stale tracks that can steal detections."""

    minimum_consecutive_frames: int = 2
    """Consecutive matched frames before a track is confirmed and output. Raising it suppresses
    short false tracks at the cost of reporting every object that many frames later."""

    frame_rate: float = 30.0
    """Frames per second, used for velocity in px/s and the time step when ``update`` is called
    without a timestamp. Set it to the stream's rate."""

    position_noise: float = 0.05
    """Process noise on position and size, as a fraction of the box size per frame. Raising it
    makes tracks follow detections more closely; lowering it smooths more but lags."""

    velocity_noise: float = 0.0125
    """Process noise on velocity, as a fraction of the box size per frame per frame. Raising it
    adapts faster to speed changes; lowering it trusts constant velocity through occlusions."""

    measurement_noise: float = 0.1
    """Detection box noise, as a fraction of the box size. Raising it trusts the motion model
    more than each detection (smoother, slower to react)."""

    def __post_init__(self) -> None:
        check_fraction(self, "detection_threshold")
        check_fraction(self, "minimum_matching_threshold", allow_zero=False)
        check_count(self, "lost_track_buffer", 0)
        check_count(self, "minimum_consecutive_frames", 1)
        check_positive(self, "frame_rate", "position_noise", "velocity_noise", "measurement_noise")


class SortTracker(AssociationTracker):
    """One instance per stream: ``update(detections, timestamp=...)`` once per frame, ``reset()``."""

    def __init__(self, *, config: SortConfig | None = None) -> None:
        self.config = config if config is not None else SortConfig()
        c = self.config
        super().__init__(
            high_threshold=c.detection_threshold,
            low_threshold=c.detection_threshold,  # equal thresholds: no second stage
            activation_threshold=c.detection_threshold,
            match_iou=c.minimum_matching_threshold,
            low_match_iou=c.minimum_matching_threshold,
            lost_track_buffer=c.lost_track_buffer,
            minimum_consecutive_frames=c.minimum_consecutive_frames,
            frame_rate=c.frame_rate,
            position_noise=c.position_noise,
            velocity_noise=c.velocity_noise,
            measurement_noise=c.measurement_noise,
        )
